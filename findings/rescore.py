"""Re-scoring findings after a person changed what their asset's score or SLA clock reads.

``inventory.hooks.on_business_attributes_changed``: when the ePHI flag, the class or the role of
an asset changes (a portal edit, the assets API), every outstanding finding of the asset (not
verified, not "not applicable") gets, in the same transaction:

* its **risk score** recomputed (``findings.risk.risk_score`` with the asset's new attributes and
  the finding's stored CVEs and KEV flag); the tier never depends on the asset and stays;
* when the **class** changed, its **due date** moved to ``detected_at + window(new class, tier)``
  — unless the finding was already overdue under its old due date: like an SLA policy change
  (``findings.policy``), a class change never erases a breach, so an overdue finding keeps it.

Each re-scored finding is reported (id, patch, score before/after, due date before/after and
why) for the event of the change; nothing else is recorded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from findings import risk, sla
from findings.models import Finding
from findings.policy import _windows_by_class
from findings.verification import CLOSED_STATES
from inventory.models import Asset, AssetClass

__all__ = ["rescore_findings"]


def rescore_findings(
    *, previous_class: Mapping[int, int], at: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Re-score the outstanding findings of the assets in ``previous_class`` (asset pk → the
    class pk it had before the change); per asset pk, one dict per finding that changed."""
    assets = {
        a.pk: a
        for a in Asset.objects.select_related("asset_class").filter(pk__in=list(previous_class))
    }
    findings = list(
        Finding.objects.filter(asset_id__in=list(assets))
        .exclude(state__in=CLOSED_STATES)
        .order_by("asset_id", "pk")
    )
    if not findings:
        return {}
    class_ids = set(previous_class.values()) | {a.asset_class_id for a in assets.values()}
    windows = _windows_by_class(class_ids)
    class_keys = dict(AssetClass.objects.filter(pk__in=class_ids).values_list("pk", "key"))
    scores = risk.cve_score_map({c for f in findings for c in f.cves})
    out: dict[int, list[dict[str, Any]]] = {}
    for finding in findings:
        asset = assets[finding.asset_id]
        per = [scores[c] for c in finding.cves if c in scores]
        score = risk.risk_score(
            risk.RiskInput(
                cvss=max((s.cvss for s in per if s.cvss is not None), default=None),
                epss=max((s.epss for s in per if s.epss is not None), default=None),
                is_kev=finding.is_kev,
                is_ephi=asset.is_ephi,
                asset_class_key=asset.asset_class.key,
                role=asset.role,
            )
        )
        update: dict[str, Any] = {}
        entry: dict[str, Any] = {"id": str(finding.uuid), "patch": finding.patch_identifier}
        if score != finding.risk_score:
            update["risk_score"] = score
            entry["risk_score"] = {"before": str(finding.risk_score), "after": str(score)}
        old_class = previous_class[asset.pk]
        if old_class != asset.asset_class_id:
            old_hours = windows[old_class][finding.tier]
            new_hours = windows[asset.asset_class_id][finding.tier]
            move = f"{class_keys.get(old_class, '?')} → {asset.asset_class.key}"
            if sla.is_overdue(finding.due_at, at):
                entry["due_at_kept"] = (
                    f"already overdue at the class change ({move}); the breach is kept"
                )
            elif new_hours != old_hours:
                due = sla.due_at_for(finding.detected_at, new_hours)
                update["due_at"] = due
                entry["due_at"] = {
                    "before": finding.due_at.isoformat(),
                    "after": due.isoformat(),
                    "why": (
                        f"class {move}: {finding.tier} window {old_hours} h → {new_hours} h "
                        "from detection"
                    ),
                }
        if update:
            Finding.objects.filter(pk=finding.pk).update(**update)
        if update or "due_at_kept" in entry:
            out.setdefault(asset.pk, []).append(entry)
    return out
