"""CVSS scores of a CVE from every source, and the one its severity comes from.

Each importer contributes the scores it read, tagged with *whose* they are: ``NVD`` (NIST's own
analysis, NVD "Primary"), ``CNA`` (the CVE Numbering Authority that published the record, NVD
"Secondary" or the CVE 5 ``cna`` container), ``CISA-ADP`` (CISA's Authorized Data Publisher
container, "Vulnrichment") or another ADP. A re-import replaces only what the same importer
said before, so an NVD page never wipes a CNA score read from a CVE 5 record, and the other way
round.

**Severity comes from the best score present**, whatever the record's NVD status (Analyzed,
Awaiting Analysis, Undergoing Analysis, Deferred, Modified…): CVSS v4.0, else v3.1, else v3.0,
else v2.0 mapped to v2's own qualitative rating (Low < 4.0 ≤ Medium < 7.0 ≤ High: v2 has no
Critical). Within one version NVD's Primary score wins over the CNA's, and the CNA's over an
ADP's.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

from .choices import SeverityTier

__all__ = [
    "score_entry",
    "merge_scores",
    "derived_fields",
    "provider_of_nvd_source",
    "v2_severity",
    "NVD",
    "CNA",
    "CISA_ADP",
]

NVD, CNA, CISA_ADP = "NVD", "CNA", "CISA-ADP"
CISA_ADP_NVD_SOURCE = "134c704f-9b21-4f2e-91b3-4a467353bcc0"  # CISA-ADP as NVD names it
_VERSION_RANK = {"4.0": 4, "3.1": 3, "3.0": 2, "2.0": 1}
_PROVIDER_RANK = {NVD: 0, CNA: 1, CISA_ADP: 2}
_VIA_RANK = {"nvd": 0, "cve5": 1, "msrc": 2}


def provider_of_nvd_source(source: str, metric_type: str, cna_source: str = "") -> str:
    """Whose an NVD metric is, from its ``source`` and ``type`` (Primary/Secondary)."""
    source = (source or "").strip().lower()
    if source == "nvd@nist.gov":
        return NVD
    if source == CISA_ADP_NVD_SOURCE:
        return CISA_ADP
    if cna_source and source == cna_source.strip().lower():
        return CNA
    return NVD if metric_type == "Primary" and source.endswith("nist.gov") else CNA


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, TypeError, ValueError):
        return None


def v2_severity(score: Decimal) -> str:
    if score >= 7:
        return SeverityTier.HIGH
    if score >= 4:
        return SeverityTier.MEDIUM
    return SeverityTier.LOW if score > 0 else SeverityTier.UNKNOWN


def _v3_severity(score: Decimal) -> str:
    if score >= 9:
        return SeverityTier.CRITICAL
    if score >= 7:
        return SeverityTier.HIGH
    if score >= 4:
        return SeverityTier.MEDIUM
    return SeverityTier.LOW if score > 0 else SeverityTier.UNKNOWN


def score_entry(
    *,
    version: str,
    vector: str | None,
    base_score: Any = None,
    provider: str,
    source: str = "",
    metric_type: str = "",
    via: str,
) -> dict[str, Any] | None:
    """One score as stored in ``Vulnerability.scores``, or None when it cannot be read.

    The score is computed from the vector (the ``cvss`` library); the file's ``baseScore`` is
    used when the vector does not parse (CVSS v4 vectors with supplemental metrics do)."""
    vector = (vector or "").strip()
    version = {"3": "3.0", "2": "2.0", "4": "4.0"}.get(version, version)
    score: Decimal | None = None
    clean = vector
    try:
        if version == "2.0" and vector:
            parsed2 = CVSS2(vector.removeprefix("(").removesuffix(")"))
            score, clean = _decimal(parsed2.base_score), parsed2.clean_vector()
        elif version in {"3.0", "3.1"} and vector:
            parsed3 = CVSS3(vector)
            score, clean = _decimal(parsed3.base_score), parsed3.clean_vector()
        elif version == "4.0" and vector:
            score = _decimal(CVSS4(vector).base_score)
    except Exception:  # the cvss library raises its own *MalformedError family
        score = None
    if score is None:
        score = _decimal(base_score)
    if score is None or version not in _VERSION_RANK:
        return None
    severity = v2_severity(score) if version == "2.0" else _v3_severity(score)
    return {
        "version": version,
        "score": str(score),
        "severity": severity,
        "vector": clean[:300],
        "provider": provider,
        "source": (source or "")[:100],
        "type": metric_type,
        "via": via,
    }


def merge_scores(
    stored: Iterable[dict[str, Any]], incoming: Iterable[dict[str, Any]], *, via: str
) -> list[dict[str, Any]]:
    """Stored scores less those the importer ``via`` gave before, plus its new ones."""
    kept = [s for s in stored or [] if s.get("via") != via]
    merged = {(s["via"], s["provider"], s["source"], s["version"]): s for s in kept}
    for s in incoming:
        merged[(s["via"], s["provider"], s["source"], s["version"])] = s
    return sorted(merged.values(), key=_preference)


def _preference(entry: dict[str, Any]) -> tuple:
    return (
        -_VERSION_RANK.get(entry["version"], 0),
        _PROVIDER_RANK.get(entry["provider"], 3),
        0 if entry.get("type") == "Primary" else 1,
        _VIA_RANK.get(entry.get("via", ""), 3),
        entry.get("source", ""),
    )


def _best(scores: list[dict[str, Any]], versions: set[str]) -> dict[str, Any] | None:
    return next((s for s in sorted(scores, key=_preference) if s["version"] in versions), None)


def derived_fields(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``Vulnerability`` columns that follow from its scores."""
    fields: dict[str, Any] = {"scores": scores}
    for prefix, versions in (("cvss4", {"4.0"}), ("cvss3", {"3.1", "3.0"}), ("cvss2", {"2.0"})):
        best = _best(scores, versions)
        fields[f"{prefix}_vector"] = best["vector"] if best else ""
        fields[f"{prefix}_score"] = Decimal(best["score"]) if best else None
        fields[f"{prefix}_source"] = (
            f"{best['provider']} {best['source']}".strip()[:100] if best else ""
        )
    chosen = _best(scores, set(_VERSION_RANK))
    fields["cvss_severity"] = chosen["severity"] if chosen else SeverityTier.UNKNOWN
    fields["severity_score"] = (
        f"CVSS {chosen['version']} {chosen['score']} ({chosen['provider']})"[:60] if chosen else ""
    )
    return fields
