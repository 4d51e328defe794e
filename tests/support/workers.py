"""Real Celery worker processes for tests, on a test's settings (its database, Redis and keys).

``tests/integration`` runs one worker per test (``start``/``stop``); ``tests/faults`` also kills them with SIGKILL
(``kill``: the worker's whole process group, as a crashed host or container would lose it) and starts new ones.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from marketplace.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# As tests/integration has always run it: one task at a time, no gossip between workers.
SOLO = ("--pool=solo", "--concurrency=1")


def worker_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a worker of ``settings`` reads (``marketplace.settings.load_settings``)."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": settings.data_dir,
        "REDIS_URL": settings.redis_url or "",
        "MARKETPLACE_TASKS_EAGER": "0",
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "MARKETPLACE_FIELD_KEY": settings.field_key,
        "MARKETPLACE_SECRET_KEY": settings.secret_key,
        **(extra or {}),
    }


def start(
    settings: Settings,
    log: Path,
    *,
    pool: tuple[str, ...] = SOLO,
    module: str = "celery",
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
) -> subprocess.Popen[bytes]:
    """A worker process (in its own process group), returned once it says it is ready to take tasks.

    ``module`` is what ``python -m`` runs with the usual ``-A workers.celery_app worker ...`` arguments (a test may
    name a module that instruments the worker before starting it)."""
    start_at = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                "-A",
                "workers.celery_app",
                "worker",
                *pool,
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=worker_env(settings, extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while b"ready." not in log.read_bytes()[start_at:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            kill(proc)
            raise RuntimeError("celery worker did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the worker's process group: the main process and every pool process, with no chance to ack,
    requeue or clean up anything."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(15)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """A warm shutdown (SIGTERM), then SIGKILL to whatever is left of the group."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    kill(proc)
