"""What every report carries besides its figures: the MSP's name and logo, the client's logo
when it has one, and the paper of the client's country (Letter or A4).

The MSP's profile and the client's logo live in the public schema (``tenants.MspProfile``,
``tenants.ClientLogo``), so a worker rendering inside a client's schema reads them as the
settings pages wrote them. Logos are checked by ``common.images.check_logo`` (PNG or JPEG,
decoded in full) and printed as ``data:`` URIs, the only resource besides static files the
report fetcher allows.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from common.images import LogoRejected, check_logo
from evidence.services import actor_label, record_event
from tenants.choices import ClientLocale
from tenants.models import Client, ClientLogo, MspProfile

__all__ = [
    "LETTER_COUNTRIES",
    "BrandingInvalid",
    "paper_size",
    "msp_profile",
    "client_logo",
    "save_msp_profile",
    "save_client_report_settings",
    "branding_context",
    "logo_max_bytes",
]

# Territories whose standard paper is US Letter (CLDR's measurement data); A4 everywhere else.
LETTER_COUNTRIES = frozenset(
    {"US", "CA", "MX", "PH", "CL", "CO", "VE", "CR", "GT", "PA", "SV", "NI", "PR", "BZ"}
)
MSP_NAME_MAX = 200


@dataclass
class BrandingInvalid(ValueError):
    """Something on a settings form was refused; ``errors`` maps each field to its message.
    Nothing was saved."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(self.errors.values())


def logo_max_bytes() -> int:
    return int(settings.REPORT_LOGO_MAX_BYTES)


def paper_size(locale: str) -> str:
    """``"Letter"`` for a locale whose country uses US Letter (``en-US``, ``fr-CA``, ``es-MX``,
    …), ``"A4"`` for every other one (and for a locale without a country)."""
    parts = locale.replace("_", "-").split("-")
    country = parts[-1].upper() if len(parts) > 1 else ""
    return "Letter" if country in LETTER_COUNTRIES else "A4"


def msp_profile() -> MspProfile:
    """The MSP's profile (an unsaved empty one before anyone saved it)."""
    return MspProfile.objects.filter(pk=1).first() or MspProfile(pk=1)


def client_logo(client: Client) -> ClientLogo | None:
    return ClientLogo.objects.filter(client=client).first()


def _read_logo(uploaded: UploadedFile | None) -> tuple[bytes, str] | None:
    if uploaded is None:
        return None
    limit = logo_max_bytes()
    name = (uploaded.name or "the file").replace("\\", "/").rsplit("/", 1)[-1][:120]
    if uploaded.size is not None and uploaded.size > limit:
        raise LogoRejected(
            f"{name} is {uploaded.size // 1024} KB; a logo may be at most {limit // 1024} KB."
        )
    checked = check_logo(uploaded.read(limit + 1), name=name, max_bytes=limit)
    return checked.data, checked.content_type


def save_msp_profile(
    *, name: str, logo: UploadedFile | None = None, remove_logo: bool = False, actor: Any
) -> MspProfile:
    """Set the MSP's name (required) and replace or remove its logo."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Enter the name of the MSP as its reports should print it."
    elif len(name) > MSP_NAME_MAX:
        errors["name"] = f"The name is {len(name)} characters; at most {MSP_NAME_MAX}."
    picture = None
    try:
        picture = _read_logo(logo)
    except LogoRejected as exc:
        errors["logo"] = str(exc)
    if errors:
        raise BrandingInvalid(errors)
    with transaction.atomic():
        profile = MspProfile.objects.select_for_update().filter(pk=1).first() or MspProfile(pk=1)
        profile.name = name
        if picture is not None:
            profile.logo, profile.logo_type = picture
            profile.logo_sha256 = hashlib.sha256(picture[0]).hexdigest()
        elif remove_logo:
            profile.logo, profile.logo_type, profile.logo_sha256 = b"", "", ""
        profile.updated_at = timezone.now()
        profile.updated_by = actor_label(actor)[:200]
        profile.save()
    return profile


def save_client_report_settings(
    *,
    client: Client,
    locale: str,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
    actor: Any,
) -> Client:
    """Set the client's locale (hence its paper) and replace or remove its logo, recorded in
    the client's evidence chain (``report_settings.changed``); call inside the client's
    schema."""
    errors: dict[str, str] = {}
    if locale not in ClientLocale.values:
        errors["locale"] = f"“{locale}” is not a locale this portal knows; choose one listed."
    picture = None
    try:
        picture = _read_logo(logo)
    except LogoRejected as exc:
        errors["logo"] = str(exc)
    if errors:
        raise BrandingInvalid(errors)
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(locale=locale)
        client.locale = locale
        if picture is not None:
            ClientLogo.objects.update_or_create(
                client=client,
                defaults={
                    "data": picture[0],
                    "content_type": picture[1],
                    "sha256": hashlib.sha256(picture[0]).hexdigest(),
                    "uploaded_at": timezone.now(),
                    "uploaded_by": actor_label(actor)[:200],
                },
            )
        elif remove_logo:
            ClientLogo.objects.filter(client=client).delete()
        kept = ClientLogo.objects.filter(client=client).values_list("sha256", flat=True).first()
        record_event(
            kind="report_settings.changed",
            subject_type="report_settings",
            subject_id=client.uuid,
            actor=actor,
            payload={
                "locale": locale,
                "paper": paper_size(locale),
                "logo": "replaced"
                if picture is not None
                else ("removed" if remove_logo and not kept else ("kept" if kept else "none")),
                "logo_sha256": kept or "",
            },
        )
    return client


def _data_uri(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def branding_context(client: Client) -> dict[str, Any]:
    """Context every report template reads: ``msp_name``, ``msp_logo``, ``client_logo``
    (``data:`` URIs or empty) and ``paper_size``."""
    profile = msp_profile()
    own = client_logo(client)
    # Read afresh: a worker may hold the client it was sent for from before the last change.
    locale = Client.objects.filter(pk=client.pk).values_list("locale", flat=True).first()
    return {
        "msp_name": profile.name,
        "msp_logo": _data_uri(profile.logo_type, profile.logo) if profile.logo_type else "",
        "client_logo": _data_uri(own.content_type, own.data) if own else "",
        "paper_size": paper_size(locale or getattr(client, "locale", "") or ""),
    }
