"""The transactional outbox: side effects are written with the change and relayed only after commit.

A feature calls ``emit(session, topic, payload)`` inside its unit of work. When the request's transaction
commits, ``relay`` hands the new rows on: in the embedded default it runs their handlers in process at once;
with a broker it sends each row's id to the Celery worker. Handlers take the payload, open nothing themselves
(they get a session), and must be idempotent: a row may be delivered more than once, never before commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Integer, String, Text, select, update
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
_PENDING_KEY = "outbox_pending"
# A handler's transaction that lost a race (PostgreSQL's serialization failure or deadlock victim, SQLite's
# "database is locked" past its busy timeout) is run again from the start this many times before it is left to
# the sweeper; its writes were rolled back, and handlers are idempotent.
RETRIES = 3
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# The sweeper leaves alone events younger than this: their request's relay is still on its way.
SWEEP_AGE_SECONDS = 30


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


def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxEvent:
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
            event.last_error = f"no handler for topic {event.topic}"
            event.processed_at = utcnow()
            log.warning("outbox event %s has no handler (%s)", event_id, event.topic)
            return True
        await fn(session, dict(event.payload))
        event.processed_at = utcnow()
        event.last_error = None
        topic, attempts = event.topic, event.attempts
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
            # has succeeded. The events stay in the table, unprocessed, and the sweeper (every 30 s, on the beat)
            # sends them once the broker is back; nothing is lost and nothing needs the broker to answer a write.
            log.warning("broker unreachable: outbox events %s left for the sweeper", event_ids[len(sent) :])
            break
        sent.append(event_id)
    if not sent:
        return
    try:
        async with db.session() as session:
            await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(sent)).values(dispatched_at=utcnow()))
    except Exception:  # ``dispatched_at`` is bookkeeping: the sweeper goes by ``processed_at``
        log.exception("outbox events %s: dispatch time not recorded", sent)


async def sweep(db: Database, dispatcher: Dispatcher | None, older_than_seconds: int = SWEEP_AGE_SECONDS) -> int:
    """Re-deliver events that were committed but never processed (a crash between commit and relay)."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
    async with db.session(write=False) as session:
        ids = list(
            (
                await session.scalars(
                    select(OutboxEvent.id)
                    .where(OutboxEvent.processed_at.is_(None), OutboxEvent.created_at < cutoff)
                    .order_by(OutboxEvent.id)
                    .limit(500)
                )
            ).all()
        )
    await relay(db, ids, dispatcher)
    return len(ids)
