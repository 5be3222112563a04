"""The exception in plain words, for the client owner who signs it.

The owner signs the exact canonical text (``RiskException.canonical_text``: ids, UTC times, the
hash of what is shown); this module writes the sentence that comes before it, so the owner knows
what they agree to without reading machine text::

    The critical Windows update KB5068791 stays off your patient-records server srv-01 until
    28 December, 18:00 Chicago time; meanwhile: network segmentation, extra monitoring.

It is generated from the same rows as the canonical text (never stored, never signed), in the
client's own time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone

from common.choices import OsFamily

from .choices import ControlKind, ExceptionKind

__all__ = ["plain_summary", "local_time_phrase"]

# The most hostnames and patches a sentence names before it says "and N more".
NAMED = 3
_TIER_ORDER = ["critical", "high", "medium", "low", "unknown"]
_ROLE_NOUN = {
    "server": "server",
    "workstation": "workstation",
    "shared_kiosk": "shared kiosk",
    "network": "network device",
}
_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _count(n: int, noun: str) -> str:
    word = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{word} {noun}{'' if n == 1 else 's'}"


def _names(values: Sequence[str]) -> str:
    shown = list(values[:NAMED])
    rest = len(values) - len(shown)
    if rest:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" and {shown[-1]}"


def _zone_name(tz: tzinfo) -> str:
    key = getattr(tz, "key", None) or str(tz)
    if key in ("UTC", "Etc/UTC"):
        return "UTC"
    return key.rsplit("/", 1)[-1].replace("_", " ")


def local_time_phrase(at: datetime, tz: tzinfo, *, now: datetime | None = None) -> str:
    """``28 December, 18:00 Chicago time`` (the year only when it is not this year's)."""
    local = at.astimezone(tz)
    this_year = (now or timezone.now()).astimezone(tz).year
    day = f"{local.day} {local:%B}" + ("" if local.year == this_year else f" {local.year}")
    zone = _zone_name(tz)
    return f"{day}, {local:%H:%M} {zone}{'' if zone == 'UTC' else ' time'}"


def _os_word(findings: Sequence[Any]) -> str:
    families = {f.asset.os_family for f in findings}
    if len(families) == 1:
        family = families.pop()
        if family != OsFamily.OTHER:
            return OsFamily(family).label + " "
    return ""


def _tier(findings: Sequence[Any]) -> str:
    tiers = {f.tier for f in findings}
    return next((t for t in _TIER_ORDER if t in tiers), "")


def _what(findings: Sequence[Any]) -> str:
    """``The critical Windows update KB5068791`` / ``Three updates (…), the most severe
    critical,``."""
    by_patch: dict[str, list[Any]] = {}
    for finding in findings:
        by_patch.setdefault(finding.patch_identifier, []).append(finding)
    patches = sorted(by_patch)
    if len(patches) == 1:
        (patch,) = patches
        group = by_patch[patch]
        tier = _tier(group)
        tier_word = f"{tier} " if tier and tier != "unknown" else ""
        first = group[0]
        if first.package_name and first.fixed_version:
            label = f"{first.package_name} {first.fixed_version}"
        else:
            label = patch
        return f"The {tier_word}{_os_word(group)}update {label}"
    tier = _tier(findings)
    most = f", the most severe {tier}," if tier and tier != "unknown" else ""
    return f"{_count(len(patches), 'update').capitalize()} ({_names(patches)}){most}"


def _where(assets: Sequence[Any]) -> str:
    """``your patient-records server srv-01`` / ``your three devices (…), two of which hold
    patient records``."""
    assets = sorted(assets, key=lambda a: a.hostname)
    if len(assets) == 1:
        (asset,) = assets
        noun = _ROLE_NOUN.get(asset.role, "device")
        records = "patient-records " if asset.is_ephi else ""
        return f"your {records}{noun} {asset.hostname}"
    roles = {a.role for a in assets}
    noun = _ROLE_NOUN.get(roles.pop(), "device") if len(roles) == 1 else "device"
    text = f"your {_count(len(assets), noun)} ({_names([a.hostname for a in assets])})"
    ephi = sum(1 for a in assets if a.is_ephi)
    if ephi == len(assets):
        text += ", all holding patient records"
    elif ephi:
        word = _NUMBERS[ephi] if ephi < len(_NUMBERS) else str(ephi)
        text += f", {word} of which {'holds' if ephi == 1 else 'hold'} patient records"
    return text


def _meanwhile(controls: Sequence[Any]) -> str:
    words = []
    for control in controls:
        if control.kind == ControlKind.OTHER:
            words.append(control.description.strip().rstrip("."))
        else:
            words.append(ControlKind(control.kind).label.lower())
    return "; meanwhile: " + ", ".join(dict.fromkeys(words)) if words else ""


def plain_summary(exception: Any, *, tz: tzinfo, now: datetime | None = None) -> str:
    """One or two sentences saying what the exception does, to what, until when and what limits
    the risk meanwhile, in the client's time zone ``tz``."""
    findings = list(exception.findings.select_related("asset"))
    assets = {a.pk: a for a in exception.assets.all()}
    for finding in findings:
        assets.setdefault(finding.asset.pk, finding.asset)
    until = local_time_phrase(exception.expires_at, tz, now=now)
    where = _where(list(assets.values())) if assets else "the devices named below"
    meanwhile = _meanwhile(sorted(exception.controls.all(), key=lambda c: c.pk))
    if exception.kind == ExceptionKind.ISOLATED_LANE:
        sentence = (
            f"{where[0].upper()}{where[1:]} stays out of automatic patching (an isolated lane) "
            f"until {until}"
        )
    elif findings:
        verb = "stays" if len({f.patch_identifier for f in findings}) == 1 else "stay"
        sentence = f"{_what(findings)} {verb} off {where} until {until}"
    else:
        sentence = f"Updates stay off {where} until {until}"
    return (
        f"{sentence}{meanwhile}. The exception ends by itself then; "
        "nothing stays deferred past that time without a new signature."
    )
