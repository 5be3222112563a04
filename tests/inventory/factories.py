"""factory_boy factories for inventory rows. Use inside a tenant schema (``in_tenant_a``)."""

from datetime import timedelta

import factory
from django.utils import timezone

from common.choices import OsFamily
from inventory.choices import AssetRole, AssetSource, SoftwareKind, UpdateSource
from inventory.models import Asset, AssetClass, InstalledSoftware, PendingUpdate, Site


def asset_class(key: str = AssetClass.WORKSTATION) -> AssetClass:
    return AssetClass.objects.get(key=key)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    hostname = factory.Sequence(lambda n: f"host-{n:04d}")
    agent_id = factory.Sequence(lambda n: f"agent-{n:04d}")
    os_family = OsFamily.WINDOWS
    os_name = "Microsoft Windows 11 Pro"
    os_version = "10.0.22631"
    role = AssetRole.WORKSTATION
    asset_class = factory.LazyFunction(asset_class)
    source = AssetSource.AGENT
    first_seen = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    last_seen = factory.LazyFunction(timezone.now)

    class Params:
        core_server = factory.Trait(
            role=AssetRole.SERVER,
            asset_class=factory.LazyFunction(lambda: asset_class(AssetClass.CORE_SERVER)),
            os_name="Microsoft Windows Server 2022 Standard",
        )
        do_not_disrupt = factory.Trait(
            asset_class=factory.LazyFunction(lambda: asset_class(AssetClass.DO_NOT_DISRUPT))
        )
        linux = factory.Trait(os_family=OsFamily.LINUX, os_name="Ubuntu", os_version="22.04")
        macos = factory.Trait(os_family=OsFamily.MACOS, os_name="macOS", os_version="14.4")
        unknown = factory.Trait(is_managed=False, agent_id=None, source=AssetSource.NMAP)


class InstalledSoftwareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstalledSoftware

    asset = factory.SubFactory(AssetFactory)
    kind = SoftwareKind.PROGRAM
    name = factory.Sequence(lambda n: f"Program {n}")
    version = "1.0.0"
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyFunction(timezone.now)


class PendingUpdateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PendingUpdate

    asset = factory.SubFactory(AssetFactory)
    name = factory.Sequence(lambda n: f"Update {n}")
    source = UpdateSource.WINDOWS_UPDATE
    reported_at = factory.LazyFunction(timezone.now)
