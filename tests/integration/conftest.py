"""Real servers for integration tests: a Redis server and a Celery worker process on the per-test database."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from marketplace.settings import Settings
from tests.support import workers


@pytest.fixture
def broker_settings(settings: Settings, redis_url: str) -> Settings:
    redis.Redis.from_url(redis_url).flushdb()
    return replace(settings, redis_url=redis_url, task_always_eager=False)


@pytest.fixture
def celery_worker(broker_settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = workers.start(broker_settings, tmp_path / "worker.log")
    yield proc
    workers.stop(proc)
