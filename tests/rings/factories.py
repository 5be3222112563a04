"""Factories and helpers for rings tests. Use inside a tenant schema (``in_tenant_a``)."""

from __future__ import annotations

from datetime import time

import factory

from inventory.choices import AssetRole
from rings.choices import WindowRecurrence, WindowScope
from rings.models import MaintenanceWindow, Ring
from tests.findings.factories import FindingFactory
from tests.inventory.factories import AssetFactory


class MaintenanceWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceWindow

    name = factory.Sequence(lambda n: f"Window {n}")
    scope = WindowScope.CLIENT
    recurrence = WindowRecurrence.WEEKLY
    weekdays = factory.LazyFunction(lambda: [0, 1, 2, 3, 4, 5, 6])
    start_time = time(22, 0)
    duration_minutes = 240


def ring(key: str) -> Ring:
    return Ring.objects.get(key=key)


def build_fleet(patch: str = "KB5030001") -> dict[str, list]:
    """20 assets across OS families and roles, each missing ``patch``."""
    assets = (
        AssetFactory.create_batch(12)
        + AssetFactory.create_batch(3, linux=True, role=AssetRole.SERVER)
        + AssetFactory.create_batch(2, macos=True)
        + AssetFactory.create_batch(1, core_server=True)
        + AssetFactory.create_batch(2, do_not_disrupt=True)
    )
    findings = [FindingFactory(asset=a, patch_identifier=patch, tier="critical") for a in assets]
    return {"assets": assets, "findings": findings}
