"""Periodic work. Each entry names a task in workers.tasks; every task is idempotent.

The outbox sweep runs every ``outbox.SWEEP_EVERY_SECONDS`` (10 s): with its age of ``outbox.SWEEP_AGE_SECONDS``
(15 s), an event whose worker was killed mid-task is redone within ``outbox.REDO_WITHIN_SECONDS`` (30 s) of its
last send once a worker runs. Run exactly one beat; its schedule file is ``celerybeat-schedule`` in
MARKETPLACE_DATA_DIR (``marketplace.tasks``)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from marketplace import outbox
from marketplace.tasks import RUN_JOB, SWEEP_OUTBOX

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep-outbox": {"task": SWEEP_OUTBOX, "schedule": outbox.SWEEP_EVERY_SECONDS},
    # Notifications by email and SMS (marketplace.messaging): held ones go out when the quiet hours end.
    "deliver-notifications": {"task": RUN_JOB, "schedule": 60.0, "args": ["messaging.deliver"]},
    "escalate-overdue-referrals": {
        "task": RUN_JOB,
        "schedule": crontab(minute="*/15"),
        "args": ["referrals.escalate_overdue"],
    },
    "escalate-unacknowledged-mandatory-reports": {
        "task": RUN_JOB,
        "schedule": crontab(minute="*/15"),
        "args": ["cases.report_ack_overdue"],
    },
    # Hotline calls and public reports not triaged by their deadline (2 hours for 特急): to the street's supervisor.
    "escalate-overdue-intakes": {
        "task": RUN_JOB,
        "schedule": crontab(minute="*/10"),
        "args": ["intake.overdue"],
    },
    # Just after the district's midnight (the beat keeps the district's clock): the day's overdue-visit digests.
    "overdue-visit-alerts": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=15),
        "args": ["cases.visit_alerts"],
    },
    # After the visit digests: entrusted guardianship reviews due in 30 and 7 days, and those lapsed.
    "guardianship-reviews": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=25),
        "args": ["guardianship.reviews"],
    },
    # After the visit alerts: every child's graded safety warning (十防) regraded, the late ones escalated.
    "safety-grade": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=35),
        "args": ["safety.grade"],
    },
    # After the district's midnight: parents away whose contact with their child stopped (marketplace.families).
    "families-contact-check": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=45),
        "args": ["families.contact_check"],
    },
    # After the district's midnight: directors' and supervisors' certificates expiring within 60 days, or expired
    # (marketplace.workforce).
    "workforce-certificates": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=55),
        "args": ["workforce.certificates"],
    },
    # Just after the district's midnight: case conference decisions due soon (their owners) and overdue (the
    # street's supervisors, urgent).
    "conference-decisions-due": {
        "task": RUN_JOB,
        "schedule": crontab(hour=0, minute=30),
        "args": ["conferences.decisions_due"],
    },
    "reconcile-yesterday": {
        "task": RUN_JOB,
        "schedule": crontab(hour=2, minute=30),
        "args": ["funds.reconcile_yesterday"],
    },
    "expire-pending-donations": {
        "task": RUN_JOB,
        "schedule": crontab(minute=20),
        "args": ["funds.expire_pending_donations"],
    },
    # Report exports' files deleted once past MARKETPLACE_EXPORT_RETENTION_HOURS (they hold children's figures).
    "expire-report-exports": {
        "task": RUN_JOB,
        "schedule": crontab(minute=40),
        "args": ["reports.expire_exports"],
    },
    # Nightly, after the reconciliation: the audit log's and the ledger's hash chains proved intact.
    "verify-hash-chains": {
        "task": RUN_JOB,
        "schedule": crontab(hour=3, minute=30),
        "args": ["audit.verify_chains"],
    },
    # Nightly, after the chains are proved: closed children's files past the retention period deleted
    # (marketplace.cases.retention; README.md, "Retention").
    "purge-expired-files": {
        "task": RUN_JOB,
        "schedule": crontab(hour=3, minute=45),
        "args": ["cases.purge_expired"],
    },
    # Idempotency keys past their 24 hours (marketplace.idempotency): a retry after that is a new request.
    "purge-idempotency-keys": {
        "task": RUN_JOB,
        "schedule": crontab(minute=50),
        "args": ["idempotency.purge_expired"],
    },
    "monthly-allowances": {
        "task": RUN_JOB,
        "schedule": crontab(day_of_month=1, hour=3, minute=0),
        "args": ["procurement.monthly_allowances"],
    },
}
