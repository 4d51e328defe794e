"""The worker's tasks: outbox delivery and the features' periodic jobs (``marketplace.tasks``)."""

from __future__ import annotations

import logging
from typing import Any

from marketplace import outbox, tasks
from marketplace.features import load_jobs
from workers import runtime
from workers.celery_app import app

log = logging.getLogger("marketplace.workers")


@app.task(
    name=tasks.PROCESS_OUTBOX_EVENT,
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def process_outbox_event(self: Any, event_id: int) -> bool:
    def dispatch(follow_up: int) -> None:
        process_outbox_event.apply_async((follow_up,), headers=tasks.request_headers())

    return runtime.run(lambda db: outbox.process_event(db, int(event_id), dispatch))


@app.task(name=tasks.SWEEP_OUTBOX)
def sweep_outbox(older_than_seconds: int = outbox.SWEEP_AGE_SECONDS) -> int:
    """Send again every event committed at least ``older_than_seconds`` ago and not yet processed: those whose
    relay never reached the broker (it was down), those lost with the broker's memory (a restart without
    persistence) and those of a worker killed mid-task. The beat runs it every 10 s (``outbox.SWEEP_EVERY_SECONDS``); a duplicate is harmless
    (``outbox.process_event`` skips an event already processed)."""

    def dispatch(event_id: int) -> None:
        process_outbox_event.delay(event_id)

    return runtime.run(lambda db: outbox.sweep(db, dispatch, older_than_seconds=int(older_than_seconds)))


@app.task(name=tasks.RUN_JOB, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def run_job(name: str) -> Any:
    """Run a registered periodic job; the features' jobs modules register theirs when loaded."""
    load_jobs()
    fn = tasks.JOBS.get(name)
    if fn is None:
        log.warning("job %s is not registered", name)
        return None
    return runtime.run(fn)
