"""Event kinds the reports app records (see ``evidence.contract``); ``report.generated`` and
``report.integrity_failed`` are declared by the evidence app, which recorded them first."""

from __future__ import annotations

from evidence.contract import DATETIME, INT, STR, UUID, declare, list_of

_REPORT = {"kind": STR, "period": STR, "version": INT, "sha256": STR}

declare(
    "report.delivered",
    subject="report",
    label="Report e-mailed",
    fields={
        "delivery": UUID,
        "recipient": STR,
        "email": STR,
        **_REPORT,
        "link_expires_at": DATETIME,
        "sent_at": DATETIME,
        "attempts": INT,
    },
    summary=lambda p: (
        f"{p['kind']} report {p['period']} v{p['version']} e-mailed to {p['recipient']} "
        f"<{p['email']}> (a sign-in link, no attachment)"
    ),
)

declare(
    "report.delivery_failed",
    subject="report",
    label="Report e-mail given up",
    fields={
        "delivery": UUID,
        "recipient": STR,
        "email": STR,
        **_REPORT,
        "error": STR,
        "attempts": INT,
    },
    summary=lambda p: (
        f"{p['kind']} report {p['period']} v{p['version']} could not be e-mailed to "
        f"<{p['email']}> after {p['attempts']} attempts: {p['error']}"
    ),
)

declare(
    "report.delivery_opened",
    subject="report",
    label="E-mailed report link used",
    fields={"delivery": UUID, "email": STR, **_REPORT},
    summary=lambda p: (
        f"<{p['email']}> used the link e-mailed to them for the {p['kind']} report "
        f"{p['period']} v{p['version']}"
    ),
)

_RECIPIENT = {"name": STR, "email": STR, "kinds": list_of(STR)}

declare(
    "report_recipient.added",
    subject="report_recipient",
    label="Report recipient added",
    fields=_RECIPIENT,
    summary=lambda p: f"{p['name']} <{p['email']}> receives: {', '.join(p['kinds']) or 'nothing'}",
)

declare(
    "report_recipient.changed",
    subject="report_recipient",
    label="Report recipient changed",
    fields=_RECIPIENT,
    summary=lambda p: (
        f"{p['name']} <{p['email']}> now receives: {', '.join(p['kinds']) or 'nothing'}"
    ),
)

declare(
    "report_recipient.removed",
    subject="report_recipient",
    label="Report recipient removed",
    fields=_RECIPIENT,
    summary=lambda p: f"{p['name']} <{p['email']}> no longer receives reports",
)

declare(
    "report_settings.changed",
    subject="report_settings",
    label="Report settings changed",
    fields={"locale": STR, "paper": STR, "logo": STR, "logo_sha256": STR},
    summary=lambda p: (
        f"reports now on {p['paper']} paper ({p['locale']}); client logo {p['logo']}"
        + (f" (SHA-256 {p['logo_sha256'][:16]}…)" if p["logo_sha256"] else "")
    ),
)
