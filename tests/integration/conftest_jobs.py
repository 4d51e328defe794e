"""A real Celery worker for the job tests: a worker process on Redis and the per-test database, with the payment
channel pointed at localstripe (the jobs that reconcile or cancel payments talk to it), and a Celery client that
sends tasks the way the beat and the app do (by name, through the broker).

Import the fixtures explicitly into a test module:
``from tests.integration.conftest_jobs import broker_client, job_worker`` (with ``localstripe`` from
tests/integration/conftest_stripe.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from celery import Celery

from marketplace import tasks
from marketplace.settings import Settings
from tests.messaging.smtp_server import Mailbox, smtp_server

STRIPE_KEY = "sk_test_local"


@pytest.fixture
def job_mailbox() -> Iterator[Mailbox]:
    """A real local SMTP server the worker emails notifications into (messaging.deliver)."""
    with smtp_server() as box:
        yield box


@pytest.fixture
def jobs_settings(broker_settings: Settings, localstripe: str, job_mailbox: Mailbox) -> Settings:
    """The broker's settings with the payment channel on localstripe and email on a local SMTP server: what the
    worker and the test both use."""
    return replace(
        broker_settings,
        stripe_api_base=localstripe,
        stripe_api_key=STRIPE_KEY,
        smtp_url=job_mailbox.url,
        mail_from="notify@futian.example",
    )


@pytest.fixture
def job_worker(jobs_settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """A Celery worker process (solo pool) consuming the test's Redis; yields its log file."""
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": jobs_settings.database_url,
        "MARKETPLACE_DATA_DIR": jobs_settings.data_dir,
        "REDIS_URL": jobs_settings.redis_url or "",
        "MARKETPLACE_TASKS_EAGER": "0",
        "MARKETPLACE_SEARCH_PATH": jobs_settings.search_path,
        "MARKETPLACE_FIELD_KEY": jobs_settings.field_key,
        "MARKETPLACE_SECRET_KEY": jobs_settings.secret_key,
        "STRIPE_API_BASE": jobs_settings.stripe_api_base or "",
        "STRIPE_API_KEY": STRIPE_KEY,
        "MARKETPLACE_SMTP_URL": jobs_settings.smtp_url or "",
        "MARKETPLACE_MAIL_FROM": jobs_settings.mail_from,
    }
    log = tmp_path / "job-worker.log"
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
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def broker_client(jobs_settings: Settings) -> Celery:
    """The app's own Celery client (``marketplace.tasks.make_celery``) on the test's broker."""
    return tasks.make_celery(jobs_settings)
