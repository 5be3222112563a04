"""What the rollouts do with the results the integrations receive, without the integrations
importing them (the rings app sits above and drives the connectors).

The rings app registers its handlers once, in its ``AppConfig.ready()``:

* ``on_job_result``: an agent reported a job (install, snapshot, rollback) of a wave or a
  rollback; the handler records the deployment, snapshot or rollback outcome.
* ``on_undeliverable``: a connector could not deliver a wave's patches to an asset (no agent on
  it); the handler records the failed deployment with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = [
    "on_job_result",
    "job_result",
    "on_undeliverable",
    "undeliverable",
    "on_delivered",
    "delivered",
    "on_dead",
    "dead",
    "on_retry_refused",
    "retry_refused",
]

_job_result: list[Callable[..., None]] = []
_undeliverable: list[Callable[..., None]] = []


def on_job_result(handler: Callable[..., None]) -> Callable[..., None]:
    """Register ``handler(job=, succeeded=, failed=, message=, actor=, at=)``."""
    if handler not in _job_result:
        _job_result.append(handler)
    return handler


def job_result(
    *, job: Any, succeeded: bool, failed: list[dict], message: str, actor: Any, at: datetime
) -> None:
    """``succeeded``: the agent's overall status; ``failed``: the packages it reported failed."""
    for handler in list(_job_result):
        handler(job=job, succeeded=succeeded, failed=failed, message=message, actor=actor, at=at)


def on_undeliverable(handler: Callable[..., None]) -> Callable[..., None]:
    """Register ``handler(result=, message=, at=)`` (``result``: the wave's deployment result)."""
    if handler not in _undeliverable:
        _undeliverable.append(handler)
    return handler


def undeliverable(*, result: Any, message: str, at: datetime) -> None:
    for handler in list(_undeliverable):
        handler(result=result, message=message, at=at)


# --- outbox deliveries: what a delivered or dead RMM call means for the rollout ---------------

_delivered: list[Callable[..., None]] = []
_dead: list[Callable[..., None]] = []
_retry_refusals: list[Callable[..., str | None]] = []


def on_delivered(handler: Callable[..., None]) -> Callable[..., None]:
    """Register ``handler(message=, at=)``: an outbound call reached its server."""
    if handler not in _delivered:
        _delivered.append(handler)
    return handler


def delivered(*, message: Any, at: datetime) -> None:
    for handler in list(_delivered):
        handler(message=message, at=at)


def on_dead(handler: Callable[..., None]) -> Callable[..., None]:
    """Register ``handler(message=, at=)``: an outbound call was given up."""
    if handler not in _dead:
        _dead.append(handler)
    return handler


def dead(*, message: Any, at: datetime) -> None:
    for handler in list(_dead):
        handler(message=message, at=at)


def on_retry_refused(handler: Callable[..., str | None]) -> Callable[..., str | None]:
    """Register ``handler(message=) -> reason | None``: why a dead call may not be sent again."""
    if handler not in _retry_refusals:
        _retry_refusals.append(handler)
    return handler


def retry_refused(*, message: Any) -> str | None:
    for handler in list(_retry_refusals):
        reason = handler(message=message)
        if reason:
            return reason
    return None
