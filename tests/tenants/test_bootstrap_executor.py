"""``bootstrap`` migrates every client schema with the executor it is given: client schemas a
release left behind (here: two whose rings app was migrated back one step) are brought up to
date in parallel by django-tenants' multiprocessing executor, and an unknown executor is refused
before anything is migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tenants.models import Client, Domain
from tenants.services import create_client

LATEST = "0006_patch_policies"
PREVIOUS = "0005_merge_20261202_1552"


@pytest.fixture
def committed(django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def behind(committed) -> Iterator[list[Client]]:
    """Two committed clients whose schemas lack the latest rings migration."""
    clients = [
        create_client(slug=f"behind-{uuid.uuid4().hex[:8]}", name=f"Behind {n}") for n in (1, 2)
    ]
    try:
        for client in clients:
            call_command(
                "migrate_schemas",
                "rings",
                PREVIOUS,
                schema_name=client.schema_name,
                interactive=False,
                verbosity=0,
            )
        yield clients
    finally:
        connection.close()
        connection.set_schema_to_public()
        for client in clients:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
            Domain.objects.filter(tenant_id=client.pk).delete()
            Client.objects.filter(pk=client.pk)._raw_delete(using="default")
        connection.close()


def _state(schema: str) -> tuple[bool, bool]:
    """(the latest rings migration is recorded, its table exists) in ``schema``."""
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT EXISTS (SELECT 1 FROM "{schema}".django_migrations '
            "WHERE app = 'rings' AND name = %s), to_regclass(%s) IS NOT NULL",
            [LATEST, f'"{schema}".rings_patchpolicy'],
        )
        return tuple(cursor.fetchone())


def test_bootstrap_brings_every_client_schema_up_to_date_in_parallel(behind):
    schemas = [client.schema_name for client in behind]
    assert [_state(s) for s in schemas] == [(False, False), (False, False)]

    call_command("bootstrap", executor="multiprocessing", verbosity=0)
    connection.close()  # the executor closed it in this process; take a fresh one

    assert [_state(s) for s in schemas] == [(True, True), (True, True)]


def test_an_unknown_executor_is_refused_before_anything_is_migrated(behind):
    schema = behind[0].schema_name
    with pytest.raises(CommandError, match="Unknown migration executor 'threads'"):
        call_command("bootstrap", executor="threads", verbosity=0)
    assert _state(schema) == (False, False)
