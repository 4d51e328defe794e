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
from pathlib import Path
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

# The longest a task may run (then it is killed; its soft limit, a minute earlier, lets it stop cleanly).
TASK_TIME_LIMIT_SECONDS: Final = 300
# How long Redis keeps a delivered, unacknowledged message (late acks) before giving it to another worker. It must
# exceed the longest task, or a task still running would be run twice at once. A worker killed outright (SIGKILL,
# a lost host) never acknowledges: its event is redone by the outbox sweep within
# ``marketplace.outbox.REDO_WITHIN_SECONDS`` (30 s), not by this timeout; the late copy then finds it processed.
VISIBILITY_TIMEOUT_SECONDS: Final = TASK_TIME_LIMIT_SECONDS + 60
# The beat's schedule file, in MARKETPLACE_DATA_DIR.
BEAT_SCHEDULE_FILE: Final = "celerybeat-schedule"


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
        task_time_limit=TASK_TIME_LIMIT_SECONDS,
        task_soft_time_limit=TASK_TIME_LIMIT_SECONDS - 60,
        task_always_eager=settings.task_always_eager,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Longer than the longest task may run, so Redis never hands a running task to a second worker; a killed
        # worker's message comes back after it, but the outbox sweep has redone the event long before (see below).
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        # The beat's record of when each entry last ran: local state, so in the data directory (not the cwd).
        beat_schedule_filename=str(Path(settings.data_dir) / BEAT_SCHEDULE_FILE),
        timezone="Asia/Shanghai",
        enable_utc=True,
        beat_schedule=beat_schedule or {},
    )
    return celery
