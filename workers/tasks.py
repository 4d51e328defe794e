from __future__ import annotations

import importlib
import logging
from typing import Any

from workers import runtime
from workers.celery_app import app

log = logging.getLogger("marketplace.workers")


@app.task(
    name="workers.tasks.process_outbox_event",
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def process_outbox_event(self: Any, event_id: int) -> bool:
    from marketplace import outbox

    def dispatch(follow_up: int) -> None:
        process_outbox_event.delay(follow_up)

    return runtime.run(lambda db: outbox.process_event(db, int(event_id), dispatch))


@app.task(name="workers.tasks.sweep_outbox")
def sweep_outbox() -> int:
    from marketplace import outbox

    def dispatch(event_id: int) -> None:
        process_outbox_event.delay(event_id)

    return runtime.run(lambda db: outbox.sweep(db, dispatch))


@app.task(name="workers.tasks.run_job", autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def run_job(name: str) -> Any:
    """Run a registered periodic job; the feature's jobs module registers it on import."""
    feature = name.split(".", 1)[0]
    try:
        importlib.import_module(f"marketplace.{feature}.jobs")
    except ModuleNotFoundError:
        log.warning("job %s: feature %s has no jobs module", name, feature)
        return None
    fn = runtime.JOBS.get(name)
    if fn is None:
        log.warning("job %s is not registered", name)
        return None
    return runtime.run(fn)
