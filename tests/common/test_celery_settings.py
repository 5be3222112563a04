"""Background work is acknowledged late and re-queued when its worker dies, before the broker's
visibility timeout would deliver a task that is still running a second time."""

from __future__ import annotations

from patchops.celery import app


def test_tasks_are_acknowledged_late_and_rejected_when_the_worker_is_lost() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_the_visibility_timeout_outlasts_the_longest_task() -> None:
    app.loader.import_default_modules()
    longest = max(
        (task.time_limit or app.conf.task_time_limit or 0)
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    )
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert longest < timeout <= 30 * 60
