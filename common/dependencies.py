"""What PatchOps answers when PostgreSQL or Redis is down: a clear 503, never a stack trace.

``DEPENDENCY_ERRORS`` are the exceptions a lost database or broker raises; the error views
(:mod:`common.errors`) turn them into 503 with ``Retry-After``. :func:`enqueue` queues a Celery
task without the client's built-in publish retries, so a request with the broker down fails in
a moment with :class:`QueueUnavailable` instead of hanging.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

RETRY_AFTER_SECONDS = 30
DATABASE_ERRORS = (OperationalError, InterfaceError)
REDIS_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError)
DEPENDENCY_ERRORS = DATABASE_ERRORS + REDIS_ERRORS


class QueueUnavailable(Exception):
    """The task could not be queued (the broker is unreachable); nothing was queued."""

    def __init__(self) -> None:
        super().__init__("The task queue is unavailable, so nothing was queued; try again shortly.")


def enqueue(task: Any, **kwargs: Any) -> Any:
    """``task.apply_async(kwargs=kwargs)``, failing at once with :class:`QueueUnavailable`."""
    return enqueue_on("", task, **kwargs)


def enqueue_on(queue: str, task: Any, **kwargs: Any) -> Any:
    """``enqueue`` on the Celery queue ``queue`` (the default queue when empty)."""
    options: dict[str, Any] = {"queue": queue} if queue else {}
    try:
        return task.apply_async(kwargs=kwargs, retry=False, **options)
    except REDIS_ERRORS as exc:
        raise QueueUnavailable() from exc


def unavailable_message(exc: BaseException | None) -> str:
    if isinstance(exc, QueueUnavailable | BrokerError):
        return str(QueueUnavailable())
    if isinstance(exc, REDIS_ERRORS):
        return "The cache is unavailable; try again shortly."
    return "The database is unavailable; try again shortly."


# Options of every task that matters (reports, ingest, promotion, reminders): a lost database or
# broker retries the task with exponential backoff (5 s doubling to 5 min, jittered), eight
# times, instead of failing it for good. The tasks are idempotent, so a retry never doubles work.
RETRY_ON_DEPENDENCY_ERRORS: dict[str, Any] = {
    "autoretry_for": DEPENDENCY_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}
