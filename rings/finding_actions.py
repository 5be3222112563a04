"""“Add to a rollout” on the findings pages (``findings.hooks.FindingAction``): the chosen
findings start a new rollout of their patches, or join a rollout no wave of which has started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse

from findings.hooks import FindingAction
from rings.choices import RolloutSelection
from rings.models import Rollout
from rings.services import add_findings_to_rollout, create_rollout, draft_rollouts

NEW = "new"
DRAFTS_SHOWN = 20


def _context(*, client: Any) -> dict[str, Any]:
    return {"draft_rollouts": list(draft_rollouts()[:DRAFTS_SHOWN])}


def run(*, client: Any, findings: list[Any], data: dict[str, str], actor: Any, at: datetime):
    """Create the rollout (``rollout-target=new``, named ``rollout-name``) or add to one."""
    target = (data.get("rollout-target") or NEW).strip()
    ids = [f.uuid for f in findings]
    if target == NEW:
        patches = sorted({f.patch_identifier for f in findings})
        name = (data.get("rollout-name") or "").strip() or ", ".join(patches)[:200]
        rollout = create_rollout(
            name=name, actor=actor, selection=RolloutSelection.FINDINGS, finding_ids=ids, at=at
        )
        message = f"Rollout “{rollout.name}” created with {rollout.findings.count()} finding(s)."
    else:
        try:
            rollout = Rollout.objects.get(uuid=target)
        except (Rollout.DoesNotExist, ValidationError, ValueError):
            raise ValidationError(
                {"rollout": "Choose a new rollout or one not started yet."}
            ) from None
        added = add_findings_to_rollout(rollout=rollout, finding_ids=ids, actor=actor, at=at)
        message = f"{len(added)} finding(s) added to rollout “{rollout.name}”."
    return message, reverse("rings:rollout_detail", kwargs={"pk": rollout.uuid})


ACTION = FindingAction(
    key="rollout",
    label="Add to a rollout",
    run=run,
    fields_template="rings/partials/_finding_action_rollout.html",
    order=10,
    context=_context,
)
