"""Periodic work. Each entry names a task in workers.tasks; every task is idempotent."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep-outbox": {"task": "workers.tasks.sweep_outbox", "schedule": 30.0},
    "escalate-overdue-referrals": {
        "task": "workers.tasks.run_job",
        "schedule": crontab(minute="*/15"),
        "args": ["referrals.escalate_overdue"],
    },
    "reconcile-yesterday": {
        "task": "workers.tasks.run_job",
        "schedule": crontab(hour=2, minute=30),
        "args": ["funds.reconcile_yesterday"],
    },
    "monthly-allowances": {
        "task": "workers.tasks.run_job",
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
        "args": ["procurement.monthly_allowances"],
    },
}
