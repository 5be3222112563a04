"""Engineer alerts in the MSP's chat channels (Microsoft Teams and Slack incoming webhooks),
sent through the outbox (``integrations.outbox``) so they retry and dead-letter like every
other outbound call.

Payloads follow the vendors' documented shapes: a Teams Workflows webhook takes a message with
an Adaptive Card attachment, a classic Teams incoming webhook a MessageCard, a Slack incoming
webhook ``text`` with Block Kit ``blocks`` (Slack answers ``ok``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from integrations import outbox
from integrations.models import OutboxMessage

from .choices import ChatProvider
from .models import ChatWebhook

__all__ = ["KIND", "post_alert", "payload_for", "ChatWebhookSender", "register_sender"]

KIND = "chat_webhook"


def payload_for(provider: str, *, title: str, lines: list[str], url: str) -> dict[str, Any]:
    """The JSON body one provider's incoming webhook takes for one alert."""
    text = "\n".join(lines)
    if provider == ChatProvider.SLACK:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        ]
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in PatchOps"},
                        "url": url,
                    }
                ],
            }
        )
        return {"text": f"{title} {url}", "blocks": blocks}
    if provider == ChatProvider.TEAMS_LEGACY:
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "themeColor": "D83B01",
            "title": title,
            "text": text,
            "potentialAction": [
                {
                    "@type": "OpenUri",
                    "name": "Open in PatchOps",
                    "targets": [{"os": "default", "uri": url}],
                }
            ],
        }
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in lines]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Open in PatchOps", "url": url}
                    ],
                },
            }
        ],
    }


def post_alert(*, kind: str, client: Any, title: str, lines: list[str], url: str, key: str) -> int:
    """Queue one alert for every active chat channel (in the caller's transaction and the
    client's outbox; one message per channel and event)."""
    queued = 0
    for webhook in ChatWebhook.objects.filter(is_active=True).order_by("pk"):
        _, created = outbox.enqueue(
            kind=KIND,
            event=kind,
            target=webhook.url,
            payload={
                "webhook": str(webhook.uuid),
                "body": payload_for(webhook.provider, title=title, lines=lines, url=url),
            },
            idempotency_key=f"chat:{webhook.uuid}:{key}"[:200],
            subject_type="chat_webhook",
            subject_id=str(webhook.uuid),
        )
        queued += created
    return queued


class ChatWebhookSender:
    """Posts the stored body to the channel's webhook URL (as it is now)."""

    def request(self, message: OutboxMessage) -> outbox.OutboundRequest:
        webhook = ChatWebhook.objects.filter(uuid=message.payload.get("webhook")).first()
        if webhook is None:
            raise outbox.PermanentDeliveryError("The chat channel was removed.")
        if not webhook.is_active:
            raise outbox.PermanentDeliveryError("The chat channel was turned off.")
        return outbox.OutboundRequest(
            url=webhook.url,
            body=json.dumps(message.payload.get("body", {})).encode(),
            headers={
                "Content-Type": "application/json",
                outbox.IDEMPOTENCY_HEADER: message.idempotency_key,
            },
        )

    def delivered(self, message: OutboxMessage, at: datetime) -> None:
        return None

    def dead(self, message: OutboxMessage, at: datetime) -> None:
        return None

    def refuse_retry(self, message: OutboxMessage) -> str | None:
        webhook = ChatWebhook.objects.filter(uuid=message.payload.get("webhook")).first()
        if webhook is None:
            return "The chat channel of this call was removed."
        return None


def register_sender() -> None:
    outbox.register(KIND, ChatWebhookSender())
