"""Background work as the app and the features see it, without the worker.

* Periodic jobs: a feature registers a coroutine taking the :class:`~marketplace.db.Database` under a dotted
  name with ``@job("feature.name")`` in its ``jobs`` module (``marketplace.features.load_jobs`` imports them);
  the worker's beat schedule names them and ``workers.tasks.run_job`` runs them.
* The broker: :func:`make_celery` is the one Celery configuration (JSON only, late acks, bounded time). The
  app uses it as a client that sends a task by name (:data:`PROCESS_OUTBOX_EVENT`); ``workers/`` builds the
  worker's Celery app on it and defines the tasks. Nothing here imports ``workers``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from celery import Celery

from marketplace.db import Database
from marketplace.observability import context
from marketplace.settings import Settings, get_settings

Job = Callable[[Database], Awaitable[Any]]

# The worker's task names (defined in workers/tasks.py), for senders that do not import the worker.
PROCESS_OUTBOX_EVENT: Final = "workers.tasks.process_outbox_event"
SWEEP_OUTBOX: Final = "workers.tasks.sweep_outbox"
RUN_JOB: Final = "workers.tasks.run_job"

JOBS: dict[str, Job] = {}

# How a sender (the app relaying a request's events) retries a send when the broker does not answer: one reconnect
# at once (a restarted broker), then it gives up and leaves the events to the outbox sweeper. Celery's default
# (3 retries, up to ~1 s of waiting) would hold every write while the broker is down.
SEND_RETRY_POLICY: Final = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


# The task header that carries the sender's request id to the worker (``workers.celery_app`` sets it again there).
REQUEST_ID_HEADER: Final = "request_id"


def request_headers() -> dict[str, str]:
    """The headers of a task sent now: the request id of the work in hand, if any."""
    request_id = context.current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def job(name: str) -> Callable[[Job], Job]:
    """Register a periodic job (a coroutine taking the Database) under a dotted name."""

    def register(fn: Job) -> Job:
        JOBS[name] = fn
        return fn

    return register


def make_celery(
    settings: Settings | None = None,
    *,
    include: Sequence[str] = (),
    beat_schedule: dict[str, dict[str, Any]] | None = None,
) -> Celery:
    """A Celery app on the settings' Redis broker (in-memory without one); ``include`` names task modules."""
    settings = settings or get_settings()
    broker = settings.redis_url or "memory://"
    celery = Celery("marketplace", broker=broker, backend=None, include=list(include))
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        task_soft_time_limit=240,
        task_always_eager=settings.task_always_eager,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        timezone="Asia/Shanghai",
        enable_utc=True,
        beat_schedule=beat_schedule or {},
    )
    return celery
