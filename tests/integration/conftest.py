"""Real servers for integration tests: a Redis server and a Celery worker process on the per-test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from marketplace.settings import Settings


@pytest.fixture
def broker_settings(settings: Settings, redis_url: str) -> Settings:
    redis.Redis.from_url(redis_url).flushdb()
    return replace(settings, redis_url=redis_url, task_always_eager=False)


@pytest.fixture
def celery_worker(broker_settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": broker_settings.database_url,
        "REDIS_URL": broker_settings.redis_url or "",
        "MARKETPLACE_TASKS_EAGER": "0",
        "MARKETPLACE_SEARCH_PATH": broker_settings.search_path,
        "MARKETPLACE_FIELD_KEY": broker_settings.field_key,
        "MARKETPLACE_SECRET_KEY": broker_settings.secret_key,
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("celery worker did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
