"""The worker's Celery app: the app's Celery configuration (``marketplace.tasks``), its tasks and beat.

Its processes log and count as the serving ones do (``marketplace.observability``): Celery's ``setup_logging``
signal hands the logging to ``configure_logging`` (Celery then leaves the root logger alone), each task runs under
the request id its sender put in the task's headers, and failures and retries are counted by task name.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from celery import Celery, signals

from marketplace import tasks
from marketplace.observability import context, logs, metrics
from marketplace.settings import Settings, get_settings
from workers import runtime
from workers.beat import BEAT_SCHEDULE


def make_celery(settings: Settings | None = None) -> Celery:
    return tasks.make_celery(settings, include=["workers.tasks"], beat_schedule=BEAT_SCHEDULE)


app = make_celery()

_tokens: dict[str, Any] = {}


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    logs.configure_logging(get_settings(), role="beat" if "beat" in sys.argv[1:] else "worker")


@signals.beat_init.connect
def _beat_role(**_: Any) -> None:
    context.set_role("beat")


@signals.worker_init.connect
def _worker_metrics(**_: Any) -> None:
    """The worker's counters go to the data directory's files (read by /metrics), before the pool forks."""
    metrics.use_directory(get_settings(), "worker", fresh=True)


def _warm() -> None:
    try:
        runtime.warm()
    except Exception:  # a task loads what it needs anyway: a failed warm-up only costs the first task its speed
        logging.getLogger("marketplace.worker").warning("worker warm-up failed", exc_info=True)


@signals.worker_process_init.connect
def _warm_pool_process(**_: Any) -> None:
    """Each prefork pool process loads its own (nothing with an open connection is inherited across the fork)."""
    _warm()


@signals.worker_ready.connect
def _warm_solo(sender: Any = None, **_: Any) -> None:
    """The solo (or threads) pool runs tasks in the worker's own process: warm it before the first task."""
    if "prefork" not in type(getattr(sender, "pool", None)).__module__:
        _warm()


def _request_id_of(task: Any) -> str | None:
    request = getattr(task, "request", None)
    found = getattr(request, tasks.REQUEST_ID_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        tasks.REQUEST_ID_HEADER
    )
    return context.sane(found) if isinstance(found, str) else None


@signals.task_prerun.connect
def _enter_request(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is not None:
        _tokens[task_id] = context.request_id_var.set(_request_id_of(task))


@signals.task_postrun.connect
def _leave_request(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context: nothing of it is left here
            context.request_id_var.reset(token)


@signals.task_failure.connect
def _count_failure(sender: Any = None, **_: Any) -> None:
    metrics.TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


@signals.task_retry.connect
def _count_retry(sender: Any = None, **_: Any) -> None:
    metrics.TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()
