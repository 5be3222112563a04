"""Each notification comes from its real producer, is e-mailed once (plain text and HTML, both
linking to the page) and a second run of the send task sends nothing."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from notifications.choices import NotificationKind, NotificationState
from notifications.models import Notification
from tests.exceptions_register.factories import make_exception
from tests.notifications.helpers import assert_links_to, html_of, mails_to, send_pending

pytestmark = pytest.mark.django_db
# Tuesday 2026-06-02 22:30 in Chicago (CDT): inside the nightly window.
NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)


def test_exception_awaiting_signature_mails_its_approver_once(
    in_tenant_a, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        exception = make_exception(
            client=in_tenant_a, approver=personas.owner_a, actor=personas.engineer
        )
    notification = Notification.objects.get(kind=NotificationKind.EXCEPTION_AWAITING_SIGNATURE)
    assert notification.user == personas.owner_a
    assert queued, "the e-mail is queued when the exception's transaction commits"
    assert send_pending() == ["sent"]
    [message] = mails_to(personas.owner_a.email)
    assert exception.ticket_reference in message.subject
    assert exception.reason in message.body and exception.reason in html_of(message)
    assert_links_to(message, f"/clients/{in_tenant_a.slug}/portal/exceptions/{exception.uuid}/")
    # The task run again (a retry, a duplicate delivery of the task) sends nothing more.
    from notifications import tasks

    assert tasks.send_notification(notification.pk).startswith("skipped")
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT and notification.sent_at is not None


def test_repeated_event_is_one_notification(in_tenant_a, personas):
    from evidence.models import EvidenceEvent
    from notifications.services import on_event

    make_exception(client=in_tenant_a, approver=personas.owner_a, actor=personas.engineer)
    event = EvidenceEvent.objects.get(kind="exception.submitted")
    on_event(event)  # handed over once more
    assert Notification.objects.filter(user=personas.owner_a).count() == 1
    send_pending()
    send_pending()
    assert len(mails_to(personas.owner_a.email)) == 1


def _rollout(personas):
    from rings.choices import RolloutSelection
    from rings.services import assign_rings, create_rollout, evaluate_rollout
    from tests.producers import maintenance_window, office

    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
        office()
        maintenance_window()
        assign_rings()
        rollout = create_rollout(
            name="June KB",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
    return rollout


def test_breach_mails_every_engineer_once(in_tenant_a, personas):
    from rings.choices import RolloutState
    from rings.models import Wave
    from rings.services import approve_wave, evaluate_rollout
    from tests.rings.helpers import report_jobs

    rollout = _rollout(personas)
    wave = Wave.objects.select_related("ring", "rollout").get(rollout=rollout, ring__key="canary")
    approve_wave(wave=wave, user=personas.engineer)
    with time_machine.travel(NIGHT, tick=False):
        evaluate_rollout(rollout=rollout)
    with time_machine.travel(NIGHT + timedelta(minutes=20), tick=False):
        report_jobs(wave, fail=1)
        evaluate_rollout(rollout=rollout)
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.HALTED
    [notification] = Notification.objects.filter(user=personas.engineer)
    assert notification.kind == NotificationKind.ROLLOUT_BREACH
    # Only engineers: client people and account managers are not told of a breach.
    assert not Notification.objects.exclude(user=personas.engineer).exists()
    send_pending()
    [message] = mails_to(personas.engineer.email)
    assert rollout.name in message.subject
    assert rollout.halt_reason in message.body
    assert_links_to(message, f"/clients/{in_tenant_a.slug}/rollouts/{rollout.uuid}/")
    send_pending()
    assert len(mail.outbox) == 1


def test_halted_rollout_mails_engineers(in_tenant_a, personas):
    from rings.services import halt_rollout

    rollout = _rollout(personas)
    halt_rollout(rollout=rollout, actor=personas.msp_admin, reason="Vendor pulled the update.")
    [notification] = Notification.objects.filter(user=personas.engineer)
    assert notification.kind == NotificationKind.ROLLOUT_HALTED
    send_pending()
    [message] = mails_to(personas.engineer.email)
    assert "Vendor pulled the update." in message.body
    assert "Vendor pulled the update." in html_of(message)
    assert_links_to(message, f"/clients/{in_tenant_a.slug}/rollouts/{rollout.uuid}/")


def test_production_wave_awaiting_approval_mails_the_client_owners(in_tenant_a, personas):
    from findings.models import Finding
    from rings.choices import ApproverRole, RolloutSelection
    from rings.models import Ring, Wave
    from rings.services import create_rollout, evaluate_rollout, pin_asset
    from tests.producers import Device, push

    production = Ring.objects.get(key="production")
    assert production.approver_role == ApproverRole.CLIENT_OWNER
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False):
        push([Device("ws-01").missing_kb("KB5030001", severity="critical")])
        finding = Finding.objects.get()
        pin_asset(asset=finding.asset, ring=production, actor=personas.engineer)
        rollout = create_rollout(
            name="Clinic KB",
            actor=personas.engineer,
            selection=RolloutSelection.FINDINGS,
            finding_ids=[finding.uuid],
        )
        evaluate_rollout(rollout=rollout)
    wave = Wave.objects.get(rollout=rollout, ring=production)
    assert wave.state == "awaiting"
    notifications = Notification.objects.filter(kind=NotificationKind.WAVE_AWAITING_APPROVAL)
    assert {n.user for n in notifications} == {personas.owner_a}  # not the viewer, not B's owner
    send_pending()
    [message] = mails_to(personas.owner_a.email)
    assert rollout.name in message.subject and production.name in message.subject
    assert_links_to(message, f"/clients/{in_tenant_a.slug}/rollouts/{rollout.uuid}/")
    send_pending()
    assert len(mail.outbox) == 1


def test_stale_assets_mail_engineers(in_tenant_a, personas):
    from inventory.services import mark_stale_assets
    from tests.producers import Device, push

    with time_machine.travel(NIGHT - timedelta(days=15), tick=False):
        push(Device("old-pc"))
    with time_machine.travel(NIGHT, tick=False):
        assert mark_stale_assets(stale_after_days=14) == 1
    [notification] = Notification.objects.filter(user=personas.engineer)
    assert notification.kind == NotificationKind.ASSETS_STALE
    send_pending()
    [message] = mails_to(personas.engineer.email)
    assert "old-pc" in message.body and "old-pc" in html_of(message)
    assert_links_to(message, f"/clients/{in_tenant_a.slug}/assets/")
    send_pending()
    assert len(mail.outbox) == 1


def test_monthly_report_mails_owners_and_account_managers(in_tenant_a, personas):
    from reports.services import generate_report
    from tests.producers import Device, push

    with time_machine.travel(datetime(2026, 5, 20, 15, 0, tzinfo=UTC), tick=False):
        push(Device("ws-01"))
    with time_machine.travel(datetime(2026, 6, 2, 15, 0, tzinfo=UTC), tick=False):
        report = generate_report(
            client=in_tenant_a, kind="monthly", period=date(2026, 5, 1), actor=personas.engineer
        )
    kinds = dict(Notification.objects.values_list("user__email", "kind"))
    assert kinds == {
        personas.owner_a.email: NotificationKind.MONTHLY_REPORT_READY,
        personas.account_manager.email: NotificationKind.REPORT_GENERATED,
    }
    send_pending()
    for user in (personas.owner_a, personas.account_manager):
        [message] = mails_to(user.email)
        assert "2026-05" in message.subject
        assert f"Version {report.version}" in message.body
        assert_links_to(message, f"/clients/{in_tenant_a.slug}/reports/")
    send_pending()
    assert len(mail.outbox) == 2
