"""Engineer alerts reach the MSP's Teams and Slack channels through the outbox: the vendors'
payloads, retried after a 5xx, one message in the channel."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from integrations.choices import DeliveryState
from integrations.models import OutboxMessage
from notifications.models import ChatWebhook
from tests.integrations.outbox_helpers import deliver_outbox
from tests.notifications.chat_server import chat_server

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)


def stale_pc(client) -> None:
    """An agent reported 15 days ago and not since; the inventory sweep marks it stale."""
    from django_tenants.utils import tenant_context

    from inventory.services import mark_stale_assets
    from tests.producers import Device, push

    with tenant_context(client):
        with time_machine.travel(NOW - timedelta(days=15), tick=False):
            push(Device("old-pc"))
        with time_machine.travel(NOW, tick=False):
            assert mark_stale_assets(stale_after_days=14) == 1


def add_channel(login, personas, *, name: str, provider: str, url: str):
    http = login(personas.msp_admin)
    response = http.post(
        "/notifications/chat-webhooks/", {"name": name, "provider": provider, "url": url}
    )
    assert response.status_code == 302, response.content
    return ChatWebhook.objects.get(name=name)


def test_slack_gets_blocks_and_a_5xx_is_retried_into_one_message(tenant_a, login, personas):
    with chat_server("slack") as slack:
        add_channel(login, personas, name="#patching", provider="slack", url=slack.url)
        stale_pc(tenant_a)
        slack.failures = [503]
        first = deliver_outbox(tenant_a)
        assert "retry" in first[0]
        from django_tenants.utils import tenant_context

        with tenant_context(tenant_a):
            OutboxMessage.objects.update(next_attempt_at=None)  # its backoff has passed
        deliver_outbox(tenant_a)
        deliver_outbox(tenant_a)  # nothing left to send
        [call] = slack.accepted()
        assert len(slack.calls) == 2
        body = json.loads(call["body"])
        assert "old-pc" in json.dumps(body["blocks"]) and tenant_a.name in body["text"]
        assert body["blocks"][-1]["elements"][0]["url"].endswith(
            f"/clients/{tenant_a.slug}/assets/"
        )
        with tenant_context(tenant_a):
            message = OutboxMessage.objects.get()
        assert message.state == DeliveryState.DELIVERED and message.attempts == 2


def test_teams_gets_an_adaptive_card(tenant_a, login, personas):
    from rings.services import halt_rollout

    with chat_server("teams") as teams:
        add_channel(login, personas, name="Patching team", provider="teams", url=teams.url)
        from django_tenants.utils import tenant_context

        from tests.notifications.test_producers import _rollout

        with tenant_context(tenant_a):
            rollout = _rollout(personas)
            halt_rollout(rollout=rollout, actor=personas.msp_admin, reason="Vendor pulled it.")
        deliver_outbox(tenant_a)
        [call] = teams.accepted()
        card = json.loads(call["body"])["attachments"][0]["content"]
        text = json.dumps(card["body"])
        assert rollout.name in text and "Vendor pulled it." in text
        assert card["actions"][0]["url"].endswith(
            f"/clients/{tenant_a.slug}/rollouts/{rollout.uuid}/"
        )
        assert call["headers"]["idempotency-key"].startswith("chat:")


def test_bad_channels_are_refused_and_only_msp_admins_configure_them(tenant_a, login, personas):
    http = login(personas.msp_admin)
    for body in (
        {"name": "x", "provider": "slack", "url": "not a url"},
        {"name": "x", "provider": "irc", "url": "https://hooks.slack.com/services/T/B/X"},
        {"name": "  ", "provider": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
    ):
        response = http.post("/notifications/chat-webhooks/", body)
        assert response.status_code == 400
    response = http.post("/notifications/chat-webhooks/", {"remove": "not-a-uuid"})
    assert response.status_code == 400
    assert not ChatWebhook.objects.exists()
    # Engineers may not configure the MSP's channels.
    assert login(personas.engineer).get("/notifications/chat-webhooks/").status_code == 403


def test_classic_teams_gets_a_message_card_and_a_refusal_is_dead_at_once(tenant_a, login, personas):
    with chat_server("teams_legacy") as teams:
        add_channel(login, personas, name="Ops", provider="teams_legacy", url=teams.url)
        stale_pc(tenant_a)
        deliver_outbox(tenant_a)
        [call] = teams.accepted()
        card = json.loads(call["body"])
        assert card["@type"] == "MessageCard" and "old-pc" in card["text"]
        target = card["potentialAction"][0]["targets"][0]["uri"]
        assert target.endswith(f"/clients/{tenant_a.slug}/assets/")
    with chat_server("slack") as slack:
        channel = ChatWebhook.objects.get()
        channel.url, channel.provider = slack.url, "slack"
        channel.save()
        slack.failures = [404]  # Slack's "no_service": the webhook was removed on its side
        with time_machine.travel(NOW + timedelta(days=1), tick=False):
            from django_tenants.utils import tenant_context

            from inventory.services import mark_stale_assets
            from tests.producers import Device, push

            with tenant_context(tenant_a):
                with time_machine.travel(NOW - timedelta(days=14), tick=False):
                    push(Device("old-mac", os="macos"))
                assert mark_stale_assets(stale_after_days=14) == 1
        deliver_outbox(tenant_a)
        deliver_outbox(tenant_a)
        assert len(slack.calls) == 1 and not slack.accepted()
        from django_tenants.utils import tenant_context

        with tenant_context(tenant_a):
            states = dict(OutboxMessage.objects.values_list("state", "attempts"))
        assert states == {DeliveryState.DELIVERED: 1, DeliveryState.DEAD: 1}
