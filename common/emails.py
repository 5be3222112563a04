"""Templated e-mail: one helper, template triples ``<name>-subject.txt``, ``-body.txt``,
``-body.html`` (for example ``templates/exceptions_register/emails/expiry_reminder-*``)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

__all__ = ["send_templated"]


def send_templated(*, template: str, to: list[str], context: dict[str, Any]) -> int:
    """Render ``<template>-subject.txt`` / ``-body.txt`` / ``-body.html`` and send one message.

    ``template`` is the path prefix under ``templates/`` (``exceptions_register/emails/x``).
    Returns the number of messages sent (0 when there is nobody to send to).
    """
    recipients = sorted({address for address in to if address})
    if not recipients:
        return 0
    # Times in a client's mail are the client's local times (``context["client"]``).
    tz = getattr(context.get("client"), "tz", None)
    with timezone.override(tz) if tz is not None else nullcontext():
        subject = " ".join(render_to_string(f"{template}-subject.txt", context).split())
        text = render_to_string(f"{template}-body.txt", context)
        html = render_to_string(f"{template}-body.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    )
    message.attach_alternative(html, "text/html")
    return message.send()
