"""The real worker (``workers.celery_app``, its real tasks and handlers), with a place where a test can hold a task
still so that it can kill the worker at that moment: ``python -m tests.faults.held_worker -A workers.celery_app
worker ...``.

A test arms a point by writing the file ``arm-<point>`` in ``FAULTS_DIR`` (its text: the outbox topic to hold,
empty for any). The first task that reaches the point with that topic takes the file (a rename: one process wins),
writes ``holding-<point>`` (``<pid> <topic> <event id>``) and sleeps there until it is killed. The points:

* ``handler``: inside the event's transaction, after the real handler has done its work (its rows written,
  nothing committed): a kill here must roll everything back and the event must run again;
* ``committed``: after the event's transaction has committed, before the task returns (with late acks the message
  is not acknowledged yet): a kill here must not make the effect happen twice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from marketplace import outbox
from marketplace.features import load_models

HOLD_SECONDS = 300
DIR = Path(os.environ.get("FAULTS_DIR", "."))
_current = [0]  # the event this process is running (one task at a time per process)


def _claim(point: str, topic: str) -> bool:
    arm = DIR / f"arm-{point}"
    try:
        wanted = arm.read_text().strip()
    except FileNotFoundError:
        return False
    if wanted and wanted != topic:
        return False
    try:
        arm.rename(DIR / f"taken-{point}-{os.getpid()}")
    except FileNotFoundError:
        return False  # another process took it
    return True


def _hold(point: str, topic: str, event_id: int) -> None:
    held = DIR / f"holding-{point}"
    held.with_suffix(".tmp").write_text(f"{os.getpid()} {topic} {event_id}")
    held.with_suffix(".tmp").rename(held)
    time.sleep(HOLD_SECONDS)  # blocks the task (and its event loop) until the test kills this process


def _held_handler(topic: str, fn: outbox.Handler) -> outbox.Handler:
    async def held(session: Any, payload: dict[str, Any]) -> None:
        await fn(session, payload)
        if _claim("handler", topic):
            await session.flush()
            _hold("handler", topic, _current[0])

    return held


def instrument() -> None:
    load_models()
    for topic, fn in outbox.handlers().items():
        outbox._HANDLERS[topic] = _held_handler(topic, fn)
    process_event: Callable[..., Awaitable[bool]] = outbox.process_event
    topics: dict[int, str] = {}

    async def held_process_event(db: Any, event_id: int, dispatcher: Any = None) -> bool:
        async with db.session(write=False) as session:
            event = await session.get(outbox.OutboxEvent, event_id)
            topics[event_id] = event.topic if event is not None else ""
        _current[0] = event_id
        ran = await process_event(db, event_id, dispatcher)
        if ran and _claim("committed", topics[event_id]):
            _hold("committed", topics[event_id], event_id)
        return ran

    outbox.process_event = held_process_event  # type: ignore[assignment]


def main() -> None:
    instrument()
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    celery_main()


if __name__ == "__main__":
    main()
