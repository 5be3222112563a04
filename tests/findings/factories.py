"""factory_boy factories for findings. Use inside a tenant schema (``in_tenant_a``)."""

from datetime import timedelta

import factory
from django.utils import timezone

from findings.choices import FindingOrigin, FindingState, SeverityTier
from findings.models import Finding
from tests.inventory.factories import AssetFactory


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    asset = factory.SubFactory(AssetFactory)
    patch_identifier = factory.Sequence(lambda n: f"KB50{n:05d}")
    tier = SeverityTier.HIGH
    origin = FindingOrigin.PENDING_UPDATE
    state = FindingState.OPEN
    detected_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    due_at = factory.LazyAttribute(lambda o: o.detected_at + timedelta(days=7))

    class Params:
        verified = factory.Trait(
            state=FindingState.VERIFIED,
            deployed_at=factory.LazyAttribute(lambda o: o.detected_at + timedelta(hours=12)),
            verified_at=factory.LazyAttribute(lambda o: o.detected_at + timedelta(days=1)),
        )
        overdue = factory.Trait(
            detected_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=10)),
        )
