from django.db import models

__all__ = ["NotificationKind", "Delivery", "NotificationState", "ChatProvider", "ENGINEER_ALERTS"]


class NotificationKind(models.TextChoices):
    """What a notification is about; each user chooses per kind how it reaches them."""

    EXCEPTION_AWAITING_SIGNATURE = "exception_awaiting_signature", "Exception awaiting signature"
    WAVE_AWAITING_APPROVAL = "wave_awaiting_approval", "Production wave awaiting approval"
    MONTHLY_REPORT_READY = "monthly_report_ready", "Monthly report ready"
    ROLLOUT_BREACH = "rollout_breach", "Failure-rate breach halted a rollout"
    ROLLOUT_HALTED = "rollout_halted", "Rollout halted"
    FINDING_DUE_SOON = "finding_due_soon", "Critical finding about to breach its SLA"
    FINDING_OVERDUE = "finding_overdue", "Critical finding overdue"
    ASSETS_STALE = "assets_stale", "Assets stopped reporting (stale discovery)"
    REPORT_GENERATED = "report_generated", "Report generated"
    COMPLIANCE_FELL = "compliance_fell", "Client compliance fell"
    EXPOSURE_ALERT = "exposure_alert", "A colleague's credentials were exposed"


# The alerts of engineers, which also go to the MSP's chat channels.
ENGINEER_ALERTS = frozenset(
    {
        NotificationKind.ROLLOUT_BREACH,
        NotificationKind.ROLLOUT_HALTED,
        NotificationKind.FINDING_DUE_SOON,
        NotificationKind.FINDING_OVERDUE,
        NotificationKind.ASSETS_STALE,
    }
)


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DIGEST = "digest", "In the daily digest"
    OFF = "off", "Off"


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"


class ChatProvider(models.TextChoices):
    TEAMS = "teams", "Microsoft Teams (Workflows, Adaptive Card)"
    TEAMS_LEGACY = "teams_legacy", "Microsoft Teams (incoming webhook, MessageCard)"
    SLACK = "slack", "Slack (incoming webhook)"
