"""The October clinic of ``scenario.py``, shared by the report tests of this package."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def october_clinic(django_db_setup, django_db_blocker, tmp_path_factory):
    """The report fixture client of ``scenario.py``, built once for the report tests through
    the real producers and committed (a client of its own, dropped afterwards)."""
    from django.db import connection
    from django.test import override_settings

    from catalogue.models import CatalogueImport, EpssScore, KevEntry, Vulnerability
    from catalogue.signals import catalogue_changed
    from findings.tasks import on_catalogue_changed
    from tenants.choices import MembershipRole, TokenScope
    from tenants.models import User
    from tenants.services import add_membership, create_client, issue_api_token
    from tests.conftest import LONG_SESSIONS, PASSWORD

    from .scenario import CVSS, EPSS, KEV, SLUG, build

    cves = sorted(set(CVSS) | set(EPSS) | set(KEV))

    def clean_up() -> None:
        connection.set_schema_to_public()
        KevEntry.objects.filter(cve_id__in=cves).delete()
        Vulnerability.objects.filter(cve_id__in=cves).delete()
        EpssScore.objects.filter(cve_id__in=cves).delete()
        CatalogueImport.objects.filter(pk__gt=last_import or 0).delete()
        # The owner stays (users hold rows in every client schema); its membership goes.
        client.delete(force_drop=True)

    with django_db_blocker.unblock():
        last_import = CatalogueImport.objects.order_by("-pk").values_list("pk", flat=True).first()
        client = create_client(
            slug=SLUG, name="Riverbend Clinic", timezone_name="America/Chicago", is_hipaa=True
        )
        # The committed catalogue import must not queue a re-match of every client.
        catalogue_changed.disconnect(dispatch_uid="patchops.refresh_findings")
        try:
            owner = User.objects.filter(email="owner@october.test").first() or (
                User.objects.create_user(email="owner@october.test", password=PASSWORD)
            )
            add_membership(user=owner, client=client, role=MembershipRole.CLIENT_OWNER)
            token = issue_api_token(name="october-agents", scope=TokenScope.AGENT, client=client)
            engineer = User.objects.get(email="engineer@msp.test")
            admin = User.objects.get(email="admin@msp.test")
            with override_settings(**LONG_SESSIONS):  # the admin's session spans two months
                data = build(
                    client=client,
                    owner=owner,
                    engineer=engineer,
                    admin=admin,
                    agent_token=token.plaintext,
                    folder=tmp_path_factory.mktemp("october-catalogue"),
                )
        except BaseException:
            clean_up()  # a failed build leaves nothing behind for the other tests
            raise
        finally:
            catalogue_changed.connect(
                on_catalogue_changed, dispatch_uid="patchops.refresh_findings"
            )
            connection.set_schema_to_public()
    yield {"client": client, "owner": owner, "engineer": engineer, **data}
    with django_db_blocker.unblock():
        clean_up()
