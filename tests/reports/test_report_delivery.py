"""Report delivery: each new report of a subscribed kind is e-mailed to the client's recipients as
a signed sign-in link (never the file), once per recipient however often the task runs, each
e-mail and each use of its link in the evidence chain; a mail server failure retries and shows."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from io import StringIO
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from common.periods import format_period, previous_month
from evidence.models import EvidenceEvent
from reports import delivery
from reports.models import DeliveryState, ReportDelivery, StoredReport
from reports.tasks import deliver_report_task
from tests.mfa import sign_in
from tests.reports.smtp import smtp_server

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/reports/"
LINK = re.compile(r"https?://[^\s\"<>]+/clients/tenant-a/reports/delivered/[^\s\"<>/]+/")
OUTSIDER = "pat.ops@partner-clinic.test"  # a recipient without a portal account


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    """What the subscriber queues after the report's transaction commits (kwargs, headers)."""
    sent: list[dict] = []
    monkeypatch.setattr(
        deliver_report_task,
        "apply_async",
        lambda kwargs=None, **options: sent.append(
            {"kwargs": kwargs, "schema": options["headers"]["_schema_name"]}
        ),
    )
    return sent


@pytest.fixture
def recipients(tenant_a, personas):
    """The owner (with an account) and an outside address, both on monthly and QBR."""
    with tenant_context(tenant_a):
        return [
            delivery.add_recipient(
                client=tenant_a,
                name="Olivia Owner",
                email=personas.owner_a.email,
                kinds=["monthly", "qbr"],
                actor=personas.msp_admin,
            ),
            delivery.add_recipient(
                client=tenant_a,
                name="Pat Ops",
                email=OUTSIDER,
                kinds=["qbr", "monthly"],
                actor=personas.account_manager,
            ),
        ]


def _period() -> str:
    return format_period(previous_month(timezone.now()))


def _generate(tenant, kind: str, capture) -> StoredReport:
    """The production command, its transaction committed (so what it queued is queued)."""
    with capture(execute=True):
        call_command(
            "generate_report", tenant.slug, "--kind", kind, "--period", _period(), stdout=StringIO()
        )
    with tenant_context(tenant):
        return StoredReport.objects.filter(kind=kind).order_by("-version").first()


def _run(tenant, queued: list[dict]) -> list:
    """The worker runs each queued task (the real task, in the schema its headers name)."""
    assert {q["schema"] for q in queued} == {tenant.schema_name}
    with tenant_context(tenant):
        return [deliver_report_task.apply(kwargs=q["kwargs"]) for q in queued]


def _delivered_events(tenant, report: StoredReport) -> list[EvidenceEvent]:
    with tenant_context(tenant):
        return list(
            EvidenceEvent.objects.filter(kind="report.delivered", subject_id=str(report.uuid))
        )


def _link_of(message) -> str:
    [link] = set(LINK.findall(message.body))
    [(html, _)] = message.alternatives
    assert link in html
    return urlsplit(link).path


def _person(user) -> HttpClient:
    return sign_in(HttpClient(), user)


@pytest.mark.parametrize("kind", ["monthly", "qbr"])
def test_a_new_report_is_emailed_once_to_each_recipient_as_a_link(
    tenant_a, personas, recipients, queued, django_capture_on_commit_callbacks, kind
):
    mail.outbox.clear()
    report = _generate(tenant_a, kind, django_capture_on_commit_callbacks)
    assert len(queued) == len(recipients)
    _run(tenant_a, queued)

    addresses = sorted(r.email for r in recipients)
    assert sorted(a for m in mail.outbox for a in m.to) == addresses
    with tenant_context(tenant_a), report.file.open("rb") as fh:
        pdf = fh.read()
    for message in mail.outbox:
        assert message.attachments == []
        assert [mimetype for _, mimetype in message.alternatives] == ["text/html"]
        raw = message.message().as_bytes()
        assert pdf[:200] not in raw and b"application/pdf" not in raw
        assert report.get_kind_display() in message.subject and _period() in message.subject
        assert report.sha256 in message.body
        _link_of(message)
    outside = next(m for m in mail.outbox if m.to == [OUTSIDER])
    assert "ask your MSP to give" in outside.body
    inside = next(m for m in mail.outbox if m.to == [personas.owner_a.email])
    assert "ask your MSP to give" not in inside.body

    events = _delivered_events(tenant_a, report)
    assert sorted(e.payload["email"] for e in events) == addresses
    for event in events:
        assert (event.payload["sha256"], event.payload["kind"]) == (report.sha256, kind)
        assert event.payload["period"] == _period()

    # The task delivered again (its ack lost) or twice: nothing more is sent or recorded.
    _run(tenant_a, queued)
    assert len(mail.outbox) == len(recipients)
    assert len(_delivered_events(tenant_a, report)) == len(recipients)
    with tenant_context(tenant_a):
        assert {d.state for d in ReportDelivery.objects.filter(report=report)} == {"sent"}

    page = _person(personas.msp_admin).get(f"{PAGE}{report.uuid}/")
    assert page.status_code == 200
    table = page.content.decode().split('data-testid="deliveries"', 1)[1]
    for address in addresses:
        assert address in table
    assert table.count('data-state="sent"') == len(recipients)


def test_a_kind_nobody_subscribed_to_sends_nothing(
    tenant_a, personas, recipients, queued, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        delivery.add_recipient(
            client=tenant_a, name="QBR only", email="qbr@a.test", kinds=["qbr"], actor="test"
        )
    mail.outbox.clear()
    report = _generate(tenant_a, "inventory", django_capture_on_commit_callbacks)
    assert queued == []
    assert mail.outbox == []
    assert _delivered_events(tenant_a, report) == []
    report = _generate(tenant_a, "monthly", django_capture_on_commit_callbacks)
    _run(tenant_a, queued)
    assert "qbr@a.test" not in {a for m in mail.outbox for a in m.to}
    assert len(mail.outbox) == len(recipients)


def test_the_link_serves_its_recipient_after_sign_in_and_nobody_else(
    tenant_a, personas, recipients, queued, django_capture_on_commit_callbacks, settings
):
    mail.outbox.clear()
    report = _generate(tenant_a, "monthly", django_capture_on_commit_callbacks)
    _run(tenant_a, queued)
    owner_mail = next(m for m in mail.outbox if m.to == [personas.owner_a.email])
    link = _link_of(owner_mail)

    anonymous = HttpClient().get(link)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    # Someone else with access to the reports (a viewer, the MSP's admin) is refused.
    for other in (personas.viewer_a, personas.msp_admin):
        refused = _person(other).get(link)
        assert refused.status_code == 403
        assert "someone else" in refused.content.decode()
    # Someone without sight of the client does not learn it exists.
    assert _person(personas.owner_b).get(link).status_code == 404
    # A changed token is no link.
    assert _person(personas.owner_a).get(link[:-3] + "xx/").status_code == 404

    owner = _person(personas.owner_a)
    answer = owner.get(link)
    assert answer.status_code == 200
    assert answer["X-Content-SHA256"] == report.sha256
    assert b"".join(answer.streaming_content)[:4] == b"%PDF"
    with tenant_context(tenant_a):
        opened = EvidenceEvent.objects.filter(kind="report.delivery_opened")
        assert [(e.payload["email"], e.actor) for e in opened] == [
            (personas.owner_a.email, personas.owner_a.email)
        ]
        assert ReportDelivery.objects.get(report=report, email=personas.owner_a.email).opened_at

    later = timezone.now() + timedelta(days=settings.REPORT_DELIVERY_LINK_DAYS, minutes=1)
    with time_machine.travel(later, tick=False):
        expired = _person(personas.owner_a).get(link)  # signed in afresh: only the link is old
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()


def test_a_busy_mail_server_is_retried_and_the_email_goes_once(
    tenant_a, personas, queued, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        delivery.add_recipient(
            client=tenant_a, name="Olivia", email=personas.owner_a.email, kinds=["monthly"],
            actor="test",
        )  # fmt: skip
    report = _generate(tenant_a, "monthly", django_capture_on_commit_callbacks)
    with (
        smtp_server(refuse=1) as (port, box),
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            REPORT_DELIVERY_RETRY_SECONDS=0,
        ),
    ):
        _run(tenant_a, queued)
        _run(tenant_a, queued)
    assert box.refused == 1
    [received] = box.messages
    parsed = message_from_bytes(received)
    assert parsed["To"] == personas.owner_a.email
    assert all(not part.get_filename() for part in parsed.walk())
    with tenant_context(tenant_a):
        sent = ReportDelivery.objects.get(report=report)
    assert (sent.state, sent.attempts, sent.error) == ("sent", 2, "")
    [event] = _delivered_events(tenant_a, report)
    assert event.payload["attempts"] == 2


def test_a_mail_server_that_stays_down_fails_the_delivery_visibly(
    tenant_a, personas, queued, django_capture_on_commit_callbacks, settings
):
    with tenant_context(tenant_a):
        delivery.add_recipient(
            client=tenant_a, name="Olivia", email=personas.owner_a.email, kinds=["qbr"],
            actor="test",
        )  # fmt: skip
    report = _generate(tenant_a, "qbr", django_capture_on_commit_callbacks)
    with (
        smtp_server(refuse=10_000) as (port, box),
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            REPORT_DELIVERY_RETRY_SECONDS=0,
        ),
    ):
        [result] = _run(tenant_a, queued)
        _run(tenant_a, queued)  # a given-up delivery is not tried again by a stray task
    assert result.get()["state"] == "failed"
    assert box.messages == []
    assert box.refused == settings.REPORT_DELIVERY_MAX_ATTEMPTS
    with tenant_context(tenant_a):
        failed = ReportDelivery.objects.get(report=report)
        [event] = EvidenceEvent.objects.filter(kind="report.delivery_failed")
    assert (failed.state, failed.attempts) == (DeliveryState.FAILED, box.refused)
    assert "451" in failed.error and event.payload["error"] == failed.error
    assert _delivered_events(tenant_a, report) == []
    page = _person(personas.account_manager).get(f"{PAGE}{report.uuid}/").content.decode()
    assert 'data-state="failed"' in page and "Temporarily unable" in page


def test_a_delivery_whose_task_was_lost_is_queued_again_and_sent_once(
    tenant_a, personas, recipients, queued, django_capture_on_commit_callbacks
):
    from reports.tasks import requeue_lost_deliveries

    mail.outbox.clear()
    report = _generate(tenant_a, "monthly", django_capture_on_commit_callbacks)
    lost = [q["kwargs"] for q in queued]
    queued.clear()  # the broker never got them
    with tenant_context(tenant_a):
        assert requeue_lost_deliveries.apply().get()["queued"] == 0  # not overdue yet
        with time_machine.travel(timezone.now() + delivery.LOST_AFTER + timedelta(minutes=1)):
            assert requeue_lost_deliveries.apply().get()["queued"] == len(recipients)
    assert sorted(q["kwargs"]["delivery"] for q in queued) == sorted(k["delivery"] for k in lost)
    _run(tenant_a, queued)
    _run(tenant_a, [{"kwargs": k, "schema": tenant_a.schema_name} for k in lost])  # late ones
    assert len(mail.outbox) == len(recipients)
    assert len(_delivered_events(tenant_a, report)) == len(recipients)
    with tenant_context(tenant_a):
        assert requeue_lost_deliveries.apply().get()["queued"] == 0
