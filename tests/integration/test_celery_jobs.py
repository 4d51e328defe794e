"""The periodic jobs: features register them in marketplace.tasks, the worker finds them through
marketplace.features, and every beat entry names a task and a job that exist."""

from __future__ import annotations

from marketplace import tasks
from marketplace.features import load_jobs
from workers import tasks as worker_tasks
from workers.beat import BEAT_SCHEDULE
from workers.celery_app import app


def test_beat_entries_name_registered_tasks_and_jobs() -> None:
    assert worker_tasks.app is app  # the worker's tasks module defines its tasks on the worker's app
    load_jobs()
    assert {
        "referrals.escalate_overdue",
        "cases.visit_alerts",
        "funds.reconcile_yesterday",
        "procurement.monthly_allowances",
    } <= set(tasks.JOBS)
    for name, entry in BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        if entry["task"] == tasks.RUN_JOB:
            assert entry["args"][0] in tasks.JOBS, name
    for name in (tasks.PROCESS_OUTBOX_EVENT, tasks.SWEEP_OUTBOX, tasks.RUN_JOB):
        assert name in app.tasks


def test_run_job_ignores_an_unknown_job() -> None:
    assert worker_tasks.run_job.run("referrals.no_such_job") is None
