"""The Celery app: Redis broker, JSON only, late acks, bounded time, retries with backoff."""

from __future__ import annotations

from celery import Celery

from marketplace.settings import Settings, get_settings
from workers.beat import BEAT_SCHEDULE


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    broker = settings.redis_url or "memory://"
    celery = Celery("marketplace", broker=broker, backend=None, include=["workers.tasks"])
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
        beat_schedule=BEAT_SCHEDULE,
    )
    return celery


app = make_celery()
