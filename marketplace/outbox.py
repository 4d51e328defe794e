"""The transactional outbox: side effects are written with the change and relayed only after commit.

A feature calls ``emit(session, topic, payload)`` inside its unit of work. When the request's transaction
commits, ``relay`` hands the new rows on: in the embedded default it runs their handlers in process at once;
with a broker it sends each row's id to the Celery worker. Handlers take the payload, open nothing themselves
(they get a session), and must be idempotent: a row may be delivered more than once, never before commit.

Every topic emitted is known: it has its handler (``@handler(topic)``) or is declared record-only
(``record_only(topic, reason)``: the row is the record, nothing follows from it; processing marks it done). An
undeclared topic is a mistake caught before it ships: tests/outbox/test_topics.py walks every ``emit(`` of the code
and the demo's events, and under :data:`STRICT` (the tests) ``emit`` refuses one at once. At run time an event of
an undeclared topic is marked done with a warning and its ``last_error``.

A worker killed in the middle of an event (SIGKILL, a lost host) never acknowledges its message; the beat's sweep,
every :data:`SWEEP_EVERY_SECONDS`, sends again each unprocessed event not sent for :data:`SWEEP_AGE_SECONDS`, so the
event is redone within :data:`REDO_WITHIN_SECONDS` of its last send once a worker is running
(tests/faults/test_worker_killed.py measures it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Integer, String, Text, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow
from marketplace.observability import context

if TYPE_CHECKING:
    from marketplace.db import Database

log = logging.getLogger("marketplace.outbox")

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
Dispatcher = Callable[[int], None]
_HANDLERS: dict[str, Handler] = {}
# Topics whose events are the record themselves (nothing to do): topic -> why.
_RECORD_ONLY: dict[str, str] = {}
# Set by the tests (tests/conftest.py): emitting an undeclared topic raises at once instead of being noticed later.
STRICT = False
_PENDING_KEY = "outbox_pending"
# A handler's transaction that lost a race (PostgreSQL's serialization failure or deadlock victim, SQLite's
# "database is locked" past its busy timeout) is run again from the start this many times before it is left to
# the sweeper; its writes were rolled back, and handlers are idempotent.
RETRIES = 3
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# The sweeper leaves alone events sent (or, never sent, committed) less than this ago: their delivery is still on its
# way (a worker takes a message within milliseconds when one is free; a handler runs well under this).
SWEEP_AGE_SECONDS = 15
# How often the beat runs the sweep (workers/beat.py).
SWEEP_EVERY_SECONDS = 10.0
# The bound this gives: an event whose worker died is sent again at most SWEEP_AGE + SWEEP_EVERY seconds after its
# last send, and a running worker takes it at once; 5 s of it are left for the handler and the broker.
REDO_WITHIN_SECONDS = SWEEP_AGE_SECONDS + int(SWEEP_EVERY_SECONDS) + 5


def transient(exc: BaseException) -> bool:
    """True for a database error that a fresh attempt of the same transaction may not meet again."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in _TRANSIENT_SQLSTATES or "database is locked" in str(orig)


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"

    topic: Mapped[str] = mapped_column(String(80), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The X-Request-ID of the request (or the event) that emitted it: its handling logs under the same id.
    request_id: Mapped[str | None] = mapped_column(String(128))


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the one handler of ``topic``. A second, different handler for the same topic is refused at import:
    it would silently replace the first (re-importing the same function, as a reload does, is allowed)."""

    def register(fn: Handler) -> Handler:
        known = _HANDLERS.get(topic)
        if known is not None and (known.__module__, known.__qualname__) != (fn.__module__, fn.__qualname__):
            raise RuntimeError(f"outbox topic {topic!r} already has a handler: {known.__module__}.{known.__qualname__}")
        _HANDLERS[topic] = fn
        return fn

    return register


def handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


class UnknownTopic(RuntimeError):
    """A topic with neither a handler nor a record-only declaration."""


def record_only(topic: str, reason: str) -> None:
    """Declare that ``topic``'s events need no handler: the row itself is the record (``reason`` says why; it is
    shown by tests/outbox/test_topics.py). A topic is handled or record-only, never both."""
    if not reason.strip():
        raise ValueError(f"record-only outbox topic {topic!r} needs its reason")
    _RECORD_ONLY[topic] = reason


def record_only_topics() -> dict[str, str]:
    return dict(_RECORD_ONLY)


def known_topics() -> set[str]:
    return set(_HANDLERS) | set(_RECORD_ONLY)


def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    if STRICT and topic not in _HANDLERS and topic not in _RECORD_ONLY:
        raise UnknownTopic(
            f"outbox topic {topic!r} has no handler and is not declared record-only: add @outbox.handler({topic!r}) "
            f"or outbox.record_only({topic!r}, reason) in the feature's handlers module"
        )
    event = OutboxEvent(topic=topic, payload=payload, request_id=context.current_request_id())
    session.add(event)
    session.info.setdefault(_PENDING_KEY, []).append(event)
    return event


def take_pending(session: AsyncSession) -> list[int]:
    """The ids of the rows this session wrote; call after a successful commit."""
    events: list[OutboxEvent] = session.info.pop(_PENDING_KEY, [])
    return [e.id for e in events if e.id is not None]


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING_KEY, None)


async def process_event(db: Database, event_id: int, dispatcher: Dispatcher | None = None) -> bool:
    """Run one event's handler in its own transaction; True if it ran now, False if already done.

    Events the handler itself emits are relayed once this transaction commits, like a request's. While it runs,
    the request id is the one the event was emitted under (every log line, and the events it emits, carry it).
    """
    token = context.request_id_var.set(context.current_request_id())
    try:
        return await _process_event(db, event_id, dispatcher)
    finally:
        context.request_id_var.reset(token)


async def _process_event(db: Database, event_id: int, dispatcher: Dispatcher | None) -> bool:
    async with db.session() as session:
        session.info["settings"] = db.settings
        event = await session.get(OutboxEvent, event_id, with_for_update=not db.settings.is_sqlite)
        if event is None or event.processed_at is not None:
            return False
        if event.request_id:
            context.request_id_var.set(event.request_id)
        fn = _HANDLERS.get(event.topic)
        event.attempts += 1
        if fn is None:
            event.processed_at = utcnow()
            if event.topic in _RECORD_ONLY:  # the row is the record: done
                return True
            event.last_error = f"no handler for topic {event.topic}"
            log.warning("outbox event %s has no handler and its topic is not declared (%s)", event_id, event.topic)
            return True
        # read before the handler runs: a handler that commits its progress expires the row's attributes
        topic, attempts = event.topic, event.attempts
        await fn(session, dict(event.payload))
        event.processed_at = utcnow()
        event.last_error = None
    log.info(
        "outbox event %s (%s) handled",
        event_id,
        topic,
        extra={"event_id": event_id, "topic": topic, "attempt": attempts},
    )
    await relay(db, take_pending(session), dispatcher)
    return True


async def record_failure(db: Database, event_id: int, error: str) -> None:
    async with db.session() as session:
        await session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(last_error=error[:2000]))


async def relay(db: Database, event_ids: list[int], dispatcher: Dispatcher | None) -> None:
    """Hand committed events on: to the broker when there is one, else run them here and now."""
    if not event_ids:
        return
    if dispatcher is None:
        for event_id in event_ids:
            for attempt in range(1, RETRIES + 1):
                try:
                    await process_event(db, event_id)
                except Exception as exc:  # the change is committed; the sweeper retries the event
                    if attempt < RETRIES and transient(exc):
                        log.info("outbox event %s lost a race (attempt %s); running it again", event_id, attempt)
                        continue
                    log.exception("outbox event %s failed in process", event_id)
                    try:
                        await record_failure(db, event_id, repr(exc))
                    except Exception:  # the note is bookkeeping; the committed change must not fail for it
                        log.exception("outbox event %s: its failure could not be noted", event_id)
                break
        return
    sent: list[int] = []
    for event_id in event_ids:
        try:
            dispatcher(event_id)
        except Exception:
            # The broker is unreachable (down, restarting): the change and its events are committed, so the write
            # has succeeded. The events stay in the table, unprocessed, and the sweeper (every 10 s, on the beat)
            # sends them once the broker is back; nothing is lost and nothing needs the broker to answer a write.
            await _note_left_for_sweep(db, event_ids[len(sent) :])
            break
        sent.append(event_id)
    if not sent:
        return
    try:
        async with db.session() as session:
            await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(sent)).values(dispatched_at=utcnow()))
    except Exception:  # ``dispatched_at`` is bookkeeping: the sweeper goes by ``processed_at``
        log.exception("outbox events %s: dispatch time not recorded", sent)


async def _note_left_for_sweep(db: Database, event_ids: list[int]) -> None:
    """One WARNING (no traceback: nothing failed that the sweep does not mend) naming each event left unsent and its
    topic."""
    topics: dict[int, str] = {}
    try:
        async with db.session(write=False) as session:
            rows = await session.execute(select(OutboxEvent.id, OutboxEvent.topic).where(OutboxEvent.id.in_(event_ids)))
            topics = {int(event_id): str(topic) for event_id, topic in rows}
    except Exception:  # the topics only name the events in the log line; the ids are enough for the sweep
        log.debug("outbox events %s: topics not read for the log", event_ids, exc_info=True)
    named = ", ".join(f"{event_id} ({topics.get(event_id, '?')})" for event_id in event_ids)
    log.warning(
        "broker unreachable: outbox events %s are committed and left for the sweep, which delivers them once the "
        "broker answers again",
        named,
        extra={"event_ids": event_ids, "topics": [topics.get(event_id) for event_id in event_ids]},
    )


async def sweep(db: Database, dispatcher: Dispatcher | None, older_than_seconds: int = SWEEP_AGE_SECONDS) -> int:
    """Re-deliver events committed but not processed and not sent for ``older_than_seconds``: those whose relay
    never reached the broker, those the broker lost, those of a worker killed mid-task. Each send is noted
    (``dispatched_at``), so a backlog the workers are still working through is sent again at most once per
    ``older_than_seconds``, not at every sweep."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
    last_sent = func.coalesce(OutboxEvent.dispatched_at, OutboxEvent.created_at)
    async with db.session(write=False) as session:
        ids = list(
            (
                await session.scalars(
                    select(OutboxEvent.id)
                    .where(OutboxEvent.processed_at.is_(None), last_sent < cutoff)
                    .order_by(OutboxEvent.id)
                    .limit(500)
                )
            ).all()
        )
    await relay(db, ids, dispatcher)
    return len(ids)
