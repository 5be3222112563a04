"""Reading what the portal mailed: the links in it, who got what."""

from __future__ import annotations

import re

from django.core import mail

INVITE_LINK = re.compile(r"https?://[^/\s]+(/accounts/invitations/([^/\s]+)/)")
RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


def messages_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to]


def invitation_link(address: str) -> tuple[str, str]:
    """(path, token) of the newest invitation mailed to ``address``."""
    found = messages_to(address)
    assert found, f"no mail to {address}; sent: {[(m.to, m.subject) for m in mail.outbox]}"
    match = INVITE_LINK.search(found[-1].body)
    assert match, found[-1].body
    html = found[-1].alternatives[0][0]
    assert match.group(1) in html
    return match.group(1), match.group(2)


def reset_link(address: str) -> str:
    found = messages_to(address)
    assert found, f"no mail to {address}"
    match = RESET_LINK.search(found[-1].body)
    assert match, found[-1].body
    return match.group(1)
