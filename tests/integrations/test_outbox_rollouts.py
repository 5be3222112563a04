"""Rollouts call the RMM through the outbox: the rollout's transaction writes the call, the
delivery task sends it afterwards (here called directly, as the worker would), and a rollout
action never waits on the RMM. The RMM is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client as HttpClient

from evidence.models import EvidenceEvent
from integrations.choices import DeliveryState
from integrations.connectors import SIGNATURE_HEADER, WebhookConnector, get_connector
from integrations.models import OutboxMessage, RmmWebhook
from inventory.models import Asset, AssetClass
from rings.choices import RollbackOutcome, RollbackTargetStatus
from rings.models import DeploymentResult, RingMembership, RollbackEvent, Wave
from rings.services import (
    approve_wave,
    assign_rings,
    create_rollout,
    evaluate_rollout,
    record_deployment_outcome,
)
from tests.integrations.outbox_helpers import deliver_outbox
from tests.integrations.rmm_server import rmm_server
from tests.mfa import sign_in
from tests.producers import Device, push
from tests.rings.producers import nightly_window

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # 22:30 in Chicago, inside the window


@pytest.fixture
def rmm():
    with rmm_server() as server:
        yield server


def _fleet_with_a_critical_canary(engineer) -> Asset:
    """Twelve workstations whose agents report KB5030001 missing, a nightly window added by
    the engineer, the fleet in its rings, one canary workstation made a core server (so a wave
    through the canary asks for its snapshot first); returns that asset."""
    push([Device(f"ws-{n:02d}").missing_kb("KB5030001", severity="critical") for n in range(12)])
    http = HttpClient()
    sign_in(http, engineer)
    nightly_window(http)
    assign_rings()
    member = (
        RingMembership.objects.filter(ring__key="canary", asset__os_family="windows")
        .select_related("asset")
        .order_by("asset__hostname")
        .first()
    )
    Asset.objects.filter(pk=member.asset_id).update(
        asset_class=AssetClass.objects.get(key=AssetClass.CORE_SERVER)
    )
    return member.asset


def _canary_deploying(tenant, engineer, rmm, *, max_attempts: int = 3) -> Wave:
    """A fleet, a rollout of KB5030001 and its canary approved and deploying through the RMM
    (the critical member's snapshot request delivered first)."""
    RmmWebhook.objects.create(name="RMM", url=rmm.url, secret="k", max_attempts=max_attempts)
    _fleet_with_a_critical_canary(engineer)
    rollout = create_rollout(
        name="Via RMM",
        actor=engineer,
        selection="patch_identifiers",
        patch_identifiers=["KB5030001"],
    )
    evaluate_rollout(rollout=rollout)
    canary = Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring__key="canary")
    approve_wave(wave=canary, user=engineer)
    for _ in range(3):
        if "wave.deploying" in evaluate_rollout(rollout=rollout):
            break
        deliver_outbox(tenant)  # the snapshot requests: the RMM accepting one confirms it
    canary.refresh_from_db()
    assert canary.state == "deploying"
    return canary


def test_a_wave_deploys_through_the_outbox_after_its_transaction(in_tenant_a, rmm, personas):
    with time_machine.travel(NIGHT, tick=False):
        canary = _canary_deploying(in_tenant_a, personas.engineer, rmm)
    assert isinstance(get_connector(), WebhookConnector)
    message = OutboxMessage.objects.get(event="wave.deploy")
    assert message.state == DeliveryState.PENDING  # written by the evaluation, not yet sent
    assert not [c for c in rmm.calls if c.json["event"] == "wave.deploy"]
    assert message.payload["ring"] == "canary"
    assert len(message.payload["assets"]) == canary.results.count()
    assert message.payload["assets"][0]["packages"][0]["advisory"] == "KB5030001"
    assert (message.subject_type, message.subject_id) == ("rollout", str(canary.rollout.uuid))

    deliver_outbox(in_tenant_a)
    [call] = [c for c in rmm.calls if c.json["event"] == "wave.deploy"]
    assert call.headers["idempotency-key"] == message.idempotency_key
    expected = "sha256=" + hmac.new(b"k", call.body, hashlib.sha256).hexdigest()
    assert call.headers[SIGNATURE_HEADER.lower()] == expected
    assert call.json == message.payload
    message.refresh_from_db()
    assert (message.state, message.attempts, message.response_status) == ("delivered", 1, 200)
    # Snapshots were confirmed by their delivered requests, one per critical member.
    snapshots = OutboxMessage.objects.filter(event="asset.snapshot")
    needing = canary.results.filter(needs_snapshot=True)
    assert snapshots.count() == needing.count() == 1
    assert not needing.filter(snapshot_confirmed_at__isnull=True).exists()
    assert (
        EvidenceEvent.objects.filter(kind="snapshot.confirmed", actor="connector:webhook").count()
        == needing.count()
    )


def test_deploying_the_same_assets_again_is_the_same_call(in_tenant_a, rmm, personas):
    with time_machine.travel(NIGHT, tick=False):
        canary = _canary_deploying(in_tenant_a, personas.engineer, rmm)
        connector = get_connector()
        assets = [r.asset for r in canary.results.select_related("asset")]
        connector.deploy(canary, assets)
        connector.deploy(canary, assets, catch_up=True)
    deploys = OutboxMessage.objects.filter(event="wave.deploy")
    assert deploys.count() == 2  # the repeat is the first call; the catch-up is another
    assert sorted(m.payload["catch_up"] for m in deploys) == [False, True]


def _deployed(canary: Wave, at: datetime) -> None:
    for result in canary.results.select_related("asset", "wave__ring", "wave__rollout"):
        record_deployment_outcome(result=result, succeeded=True, at=at)


def test_a_rollback_request_returns_while_the_rmm_is_slow(in_tenant_a, rmm, personas, login):
    with time_machine.travel(NIGHT, tick=False):
        canary = _canary_deploying(in_tenant_a, personas.engineer, rmm)
        deliver_outbox(in_tenant_a)
        _deployed(canary, NIGHT)
    rmm.calls.clear()
    rmm.delay = 3.0  # the RMM takes three seconds to answer
    http = login(personas.engineer)
    started = time.monotonic()
    response = http.post(
        f"/clients/tenant-a/api/v1/rollouts/{canary.rollout.uuid}/rollback/",
        {"wave": str(canary.uuid), "what": "Vendor pulled the update"},
        content_type="application/json",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert elapsed < 2.0, f"the request waited {elapsed:.1f} s"
    assert rmm.calls == []
    [rollback] = response.json()["rollbacks"]
    assert rollback["connector"] == "webhook" and rollback["outcome"] == "pending"
    message = OutboxMessage.objects.get(event="rollout.rollback")
    assert message.state == DeliveryState.PENDING
    assert message.payload["rollback"] == rollback["id"]

    started = time.monotonic()
    deliver_outbox(in_tenant_a)  # the worker waits for the RMM, not the request
    assert time.monotonic() - started >= 3.0
    [call] = rmm.calls
    assert call.json["rollback"] == rollback["id"]
    message.refresh_from_db()
    assert message.state == DeliveryState.DELIVERED
    assert RollbackEvent.objects.get(uuid=rollback["id"]).outcome == RollbackOutcome.PENDING


def test_a_rollback_call_given_up_fails_the_rollback(in_tenant_a, rmm, personas, login):
    with time_machine.travel(NIGHT, tick=False):
        canary = _canary_deploying(in_tenant_a, personas.engineer, rmm, max_attempts=2)
        deliver_outbox(in_tenant_a)
        _deployed(canary, NIGHT)
    http = login(personas.engineer)
    response = http.post(
        f"/clients/tenant-a/api/v1/rollouts/{canary.rollout.uuid}/rollback/",
        {"wave": str(canary.uuid), "what": "Vendor pulled the update"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    rollback = RollbackEvent.objects.get(uuid=response.json()["rollbacks"][0]["id"])
    rmm.default = 503
    first = deliver_outbox(in_tenant_a)
    assert first == [{"message": first[0]["message"], "retry": "HTTP 503"}]
    message = OutboxMessage.objects.get(event="rollout.rollback")
    assert (message.state, message.attempts, message.last_error) == (
        "failed_retrying",
        1,
        "HTTP 503",
    )
    assert message.next_attempt_at is not None  # the task's backoff, recorded on the row
    assert rollback.targets.filter(status=RollbackTargetStatus.PENDING).count() == len(
        rollback.targets.all()
    )
    message.next_attempt_at = None  # the worker would wait for it; the test does not
    message.save(update_fields=["next_attempt_at"])
    deliver_outbox(in_tenant_a)
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("dead", 2)
    rollback.refresh_from_db()
    assert rollback.outcome == RollbackOutcome.FAILED
    reasons = set(rollback.targets.values_list("message", flat=True))
    assert reasons == {"The RMM webhook was not delivered (HTTP 503); nothing was rolled back."}
    page = http.get(f"/clients/tenant-a/rollouts/{canary.rollout.uuid}/").content.decode()
    row = page[page.index(f'data-testid="rollback-{rollback.uuid}"') :]
    assert 'data-testid="rollback-call">call dead (gave up)' in row[: row.index("</tr>")]
    # A failed rollback is not sent again: a new rollback is requested instead.
    refused = http.post(f"/clients/tenant-a/api/v1/outbox-messages/{message.uuid}/retry/")
    assert refused.status_code == 400
    assert "request a new rollback" in refused.json()["detail"][0]


def test_a_snapshot_request_given_up_waits_for_an_engineer(in_tenant_a, rmm, personas, login):
    RmmWebhook.objects.create(name="RMM", url=rmm.url, secret="k", max_attempts=1)
    rmm.default = 500
    with time_machine.travel(NIGHT, tick=False):
        _fleet_with_a_critical_canary(personas.engineer)
        rollout = create_rollout(
            name="Via RMM",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        canary = Wave.objects.get(rollout=rollout, ring__key="canary")
        approve_wave(wave=canary, user=personas.engineer)
        assert "wave.snapshots_requested" in evaluate_rollout(rollout=rollout)
        deliver_outbox(in_tenant_a)
        assert "wave.deploying" not in evaluate_rollout(rollout=rollout)
    snapshot = OutboxMessage.objects.filter(event="asset.snapshot").first()
    assert snapshot.state == DeliveryState.DEAD
    result = DeploymentResult.objects.get(wave=canary, asset__uuid=snapshot.payload["asset"]["id"])
    assert result.snapshot_confirmed_at is None
    assert result.message.startswith("The snapshot request did not reach the RMM (HTTP 500)")
    rmm.default = 200
    http = login(personas.engineer)
    for message in OutboxMessage.objects.filter(event="asset.snapshot"):
        response = http.post(f"/clients/tenant-a/api/v1/outbox-messages/{message.uuid}/retry/")
        assert response.status_code == 200, response.content
        assert response.json()["state"] == "pending" and response.json()["attempts"] == 0
    deliver_outbox(in_tenant_a)
    result.refresh_from_db()
    assert result.snapshot_confirmed_at is not None
    with time_machine.travel(NIGHT, tick=False):
        assert "wave.deploying" in evaluate_rollout(rollout=rollout)


def test_the_rollout_page_shows_the_calls_and_their_state(in_tenant_a, rmm, personas, login):
    with time_machine.travel(NIGHT, tick=False):
        canary = _canary_deploying(in_tenant_a, personas.engineer, rmm)
    deliver_outbox(in_tenant_a)
    deploy = OutboxMessage.objects.get(event="wave.deploy")
    page = login(personas.engineer).get(f"/clients/tenant-a/rollouts/{canary.rollout.uuid}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="rmm-calls"' in html
    assert f'data-testid="outbox-{deploy.uuid}" data-state="delivered"' in html
    # The client owner sees the rollout, not the MSP's RMM calls.
    page = login(personas.owner_a).get(f"/clients/tenant-a/rollouts/{canary.rollout.uuid}/")
    assert page.status_code == 200 and 'data-testid="rmm-calls"' not in page.content.decode()
