"""The worker's Celery app: the app's Celery configuration (``marketplace.tasks``), its tasks and beat."""

from __future__ import annotations

from celery import Celery

from marketplace import tasks
from marketplace.settings import Settings
from workers.beat import BEAT_SCHEDULE


def make_celery(settings: Settings | None = None) -> Celery:
    return tasks.make_celery(settings, include=["workers.tasks"], beat_schedule=BEAT_SCHEDULE)


app = make_celery()
