"""A Celery worker killed with SIGKILL in the middle of a task while the API takes writes that enqueue work: after a
new worker and the outbox sweep, every acknowledged write's effect exists exactly once and no event is left.

Three kills, each at a moment the real worker is held at (``held_worker``):

1. a pool process in the middle of an export's transaction (the worker's main process survives): the late ack and
   ``task_reject_on_worker_lost`` put the message back at once, and the export finishes without any sweep;
2. the whole worker (main process and pool) in the middle of a referral notification's transaction: nothing of it
   is committed, the message is never acknowledged, and the sweep sends the event again to the next worker;
3. the whole worker after an event's transaction committed but before its task returned (not acknowledged): the
   event is done once; every later delivery finds it processed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from marketplace.db import Database
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings
from tests.faults.conftest import SUITE, Api, effects, recover
from tests.support import figures, workers

pytestmark = pytest.mark.integration

WRITES = 48
POOL = ("--pool=prefork", "--concurrency=2")


class Workers:
    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.settings = settings
        self.dir = tmp / "faults"
        self.dir.mkdir()
        self.log = tmp / "worker.log"
        self.current: subprocess.Popen[bytes] | None = None
        self.killed = 0

    def start(self) -> None:
        self.current = workers.start(
            self.settings,
            self.log,
            pool=POOL,
            module="tests.faults.held_worker",
            extra_env={"FAULTS_DIR": str(self.dir)},
        )

    def arm(self, point: str, topic: str = "") -> None:
        (self.dir / f"arm-{point}").write_text(topic)

    def held(self, point: str, timeout: float = 60.0) -> tuple[int, str, int]:
        """Wait until a task is held at ``point``: the holding process, the topic and the event."""
        path = self.dir / f"holding-{point}"
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert time.monotonic() < deadline, f"no task reached {point}:\n" + self.log.read_text()[-3000:]
            time.sleep(0.02)
        pid, topic, event_id = path.read_text().split()
        path.unlink()
        return int(pid), topic, int(event_id)

    def kill_group(self) -> None:
        assert self.current is not None
        workers.kill(self.current)
        self.killed += 1

    def close(self) -> None:
        if self.current is not None:
            workers.stop(self.current)


def processed(settings: Settings, event_id: int, timeout: float) -> bool:
    engine = create_engine(settings.sync_database_url, poolclass=NullPool)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.scalar(select(OutboxEvent.processed_at).where(OutboxEvent.id == event_id))
            if done is not None:
                return True
            time.sleep(0.1)
        return False
    finally:
        engine.dispose()


async def test_a_worker_killed_mid_task_loses_and_repeats_nothing(
    api: Api, fault_settings: Settings, db: Database, tmp_path: Path
) -> None:
    pool = Workers(fault_settings, tmp_path)
    await asyncio.to_thread(pool.start)
    faults_done = threading.Event()
    written = 0

    async def stream() -> None:
        """At least WRITES writes, and on until the last fault is injected (each fault waits for a task)."""
        nonlocal written
        while written < WRITES or not faults_done.is_set():
            await api.write(written)
            written += 1
            await asyncio.sleep(0.05 if written < WRITES else 0.3)  # then slower: a worker start can take a while

    def faults() -> None:
        """In a thread of its own: the test client holds the test's event loop while a request runs (it serves the
        app on another loop and waits), and a request may be waiting for the lock a held task keeps."""
        # 1. A pool process dies in an export's transaction; the worker's main process lives on.
        pool.arm("handler", "reports.export")
        pid, _topic, event_id = pool.held("handler")
        os.kill(pid, signal.SIGKILL)
        pool.killed += 1
        assert processed(fault_settings, event_id, 30), "the message of a killed pool process was not put back"
        # 2. The whole worker dies in a referral notification's transaction.
        pool.arm("handler", "referrals.sent")
        pool.held("handler")
        pool.kill_group()
        pool.start()
        # 3. The whole worker dies after an event committed, before its task returned.
        pool.arm("committed")
        pool.held("committed")
        pool.kill_group()
        pool.start()
        faults_done.set()

    try:
        await asyncio.wait_for(asyncio.gather(stream(), asyncio.to_thread(faults)), timeout=120)
        await recover(db, fault_settings)
        found = await effects(db, api.writes)
    finally:
        pool.close()
    async with db.session(write=False) as s:
        redelivered = len([e for e in (await s.scalars(select(OutboxEvent))).all() if e.attempts > 1])

    figures.record(SUITE, "workers killed mid-task (SIGKILL)", pool.killed)
    figures.record(SUITE, "writes during faults", api.writes.total)
    figures.record(SUITE, "effects lost", found.lost)
    figures.record(SUITE, "effects duplicated", found.duplicated)
    figures.record(SUITE, "unprocessed outbox events", found.unprocessed)
    figures.record(SUITE, "server errors", len(api.writes.server_errors))
    assert pool.killed == 3
    assert api.writes.server_errors == []
    assert api.writes.total == written >= WRITES
    assert len(api.writes.referrals) + len(api.writes.exports) == written, api.writes.statuses
    assert found.detail == [] and found.lost == 0 and found.duplicated == 0
    assert found.unprocessed == 0
    assert redelivered >= 1  # the export whose pool process died ran again (its first attempt committed progress)
