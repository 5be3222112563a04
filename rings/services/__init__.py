"""Write side of the rings app, one module per concern:

* ``membership``: the automatic placement (new devices when first seen, the scheduled
  re-balance, an assignment a person asks for) and manual pins;
* ``rollouts``: creating rollouts (and previewing them), each asset's window and reboot policy;
* ``approvals``: who approves a wave, and the approval;
* ``state``: the conditional transitions of the wave state machine and their events;
* ``waves``: the wave state machine itself (waiting, deploying, verifying, soaking, passing);
* ``results``: halts, deployment results, snapshots, runbook checks and verification;
* ``recovery``: rollbacks (jobs to agents or the RMM, and their results) and resuming a halted
  rollout;
* ``policies``: automatic patch policies (which findings, the exactly-once run of each
  occurrence) and MSP-wide templates applied to clients;
* ``agent_results``: what an agent's job report means for the rollout (registered in
  ``integrations.hooks``).

Callers import from ``rings.services``.
"""

from .approvals import (
    ApprovalRefused,
    approve_wave,
    awaiting_approval_by,
    may_approve,
    required_approver,
)
from .membership import (
    SYSTEM,
    assign_rings,
    delete_ring,
    held_asset_ids,
    pin_asset,
    place_new_assets,
    unpin_asset,
)
from .policies import (
    POLICY_FIELDS,
    TemplateApplication,
    TemplateNotApplied,
    apply_template,
    delete_policy,
    due_occurrence,
    due_policies,
    next_policy_occurrence,
    policy_findings,
    run_due_policies,
    run_policy,
    save_policy,
)
from .recovery import (
    ROLLBACK_SOURCE_STATES,
    ResumeRefused,
    record_rollback,
    record_rollback_outcome,
    request_rollback,
    resume_rollout,
)
from .restore_tests import (
    lacking_restore_test,
    record_restore_test,
    restore_rule,
    save_restore_rule,
    schedule_restore_test,
)
from .results import (
    confirm_snapshot,
    halt_rollout,
    record_deployment_outcome,
    record_runbook_check,
    verify_results_for_assets,
)
from .rollouts import (
    DEFAULT_REBOOT_POLICY,
    EXPEDITED_WINDOW,
    ROLLABLE_STATES,
    DevicePreview,
    ExpediteCheck,
    RingPreview,
    add_findings_to_rollout,
    applicable_windows,
    asset_window,
    create_rollout,
    draft_rollouts,
    expedite_check,
    preview_rollout,
    reboot_policy_for,
    restart_mode_for,
    select_findings,
)
from .state import needing_assets
from .waves import evaluate_active_rollouts, evaluate_rollout, promote_wave

__all__ = [
    "awaiting_approval_by",
    "POLICY_FIELDS",
    "TemplateApplication",
    "TemplateNotApplied",
    "apply_template",
    "delete_policy",
    "due_occurrence",
    "due_policies",
    "next_policy_occurrence",
    "policy_findings",
    "run_due_policies",
    "run_policy",
    "save_policy",
    "SYSTEM",
    "assign_rings",
    "delete_ring",
    "held_asset_ids",
    "pin_asset",
    "place_new_assets",
    "unpin_asset",
    "ROLLBACK_SOURCE_STATES",
    "ResumeRefused",
    "record_rollback",
    "record_rollback_outcome",
    "request_rollback",
    "resume_rollout",
    "DEFAULT_REBOOT_POLICY",
    "EXPEDITED_WINDOW",
    "ROLLABLE_STATES",
    "ApprovalRefused",
    "ExpediteCheck",
    "DevicePreview",
    "RingPreview",
    "applicable_windows",
    "approve_wave",
    "asset_window",
    "confirm_snapshot",
    "create_rollout",
    "add_findings_to_rollout",
    "draft_rollouts",
    "evaluate_active_rollouts",
    "evaluate_rollout",
    "expedite_check",
    "halt_rollout",
    "may_approve",
    "needing_assets",
    "preview_rollout",
    "promote_wave",
    "reboot_policy_for",
    "record_deployment_outcome",
    "record_runbook_check",
    "lacking_restore_test",
    "record_restore_test",
    "restore_rule",
    "save_restore_rule",
    "schedule_restore_test",
    "required_approver",
    "restart_mode_for",
    "select_findings",
    "verify_results_for_assets",
]
