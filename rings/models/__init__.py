"""Rings (tenant schema): rings and membership, maintenance windows (``fleet``); rollouts and their
waves, per-asset deployment results, approvals, runbook checks and rollbacks (``rollouts``)."""

from .fleet import MaintenanceWindow, PlacementRun, Ring, RingMembership
from .policies import PatchPolicy, PolicyRun
from .restore import RestoreOutcome, RestoreTest, RestoreTestRule
from .rollouts import (
    Approval,
    DeploymentResult,
    RollbackEvent,
    RollbackTarget,
    Rollout,
    RunbookCheck,
    RunbookCheckResult,
    Wave,
)

__all__ = [
    "Ring",
    "RingMembership",
    "PlacementRun",
    "MaintenanceWindow",
    "Rollout",
    "Wave",
    "Approval",
    "DeploymentResult",
    "RunbookCheck",
    "RunbookCheckResult",
    "RollbackEvent",
    "RollbackTarget",
    "PatchPolicy",
    "PolicyRun",
    "RestoreOutcome",
    "RestoreTest",
    "RestoreTestRule",
]
