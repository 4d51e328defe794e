"""Signals between the processes of a deployment: per-process caches that stay true after another process writes.

A signal is a small file in the deployment's data directory, named after a kind of data (``accounts``, ``pool``).
Every committed change to the ORM classes a signal watches grows that file by a byte (see ``bump``), whichever
process commits it: a serving worker, a Celery worker, the
command line. A process that keeps something derived from that data compares the file's identity (one ``stat``:
inode, size, modification time) with what it saw when it filled its cache, and empties the cache on a change. So a
change takes effect on the very next request in every serving process of the machine; a time limit bounds what a
process on another machine, which does not share the data directory, could miss.

Features register what they watch when they are imported (``watch``) and keep their own caches (``SignalCache``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

Stamp = tuple[int, int, int] | None
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_CHANGED: Final = "signals_changed"
# A signal file is replaced by a new one when it has grown to this many bytes (one per change).
ROLLOVER: Final = 1 << 16


@dataclass(frozen=True)
class Watch:
    """A signal's name and the ORM classes it watches; ``fields``, when given, limits updates to those columns (new
    and deleted rows always count)."""

    name: str
    classes: tuple[type[Any], ...]
    fields: frozenset[str] | None = None

    def touched_by(self, obj: Any, session: Session) -> bool:
        if not isinstance(obj, self.classes):
            return False
        if obj in session.new or obj in session.deleted or self.fields is None:
            return True
        attrs = inspect(obj).attrs
        return any(attrs[name].history.has_changes() for name in self.fields)


_WATCHES: dict[str, Watch] = {}


def watch(name: str, classes: Iterable[type[Any]], fields: Iterable[str] | None = None) -> Watch:
    """Register (once per name) what replaces the signal ``name``; returns the registration."""
    registered = Watch(name, tuple(classes), frozenset(fields) if fields is not None else None)
    _WATCHES[name] = registered
    return registered


def signal_path(data_dir: str | os.PathLike[str], name: str) -> Path:
    return Path(data_dir) / f"{name}.signal"


def stamp(path: Path) -> Stamp:
    """The signal file's identity now (None while nothing it watches has changed since the directory was made)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def bump(path: Path) -> None:
    """Change the signal file's identity: one byte appended (an atomic append, so the size grows with every change
    and two changes within one tick of the file system's clock still differ). Past ``ROLLOVER`` bytes the file is
    replaced by a new one (a new inode, made while the old file still holds its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if os.stat(path).st_size < ROLLOVER:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_bytes(b".")
    os.replace(tmp, path)


class SignalCache(Generic[K, V]):
    """A per-process map emptied when its signal changes, with a time limit per entry and a bound on its size.

    ``get`` answers None on a miss; ``fresh()`` (one ``stat``) must be called first in each request, and its stamp
    handed to ``put``: a value read while the signal changed is not kept."""

    def __init__(self, data_dir: str | os.PathLike[str], name: str, *, ttl: float, max_entries: int) -> None:
        self.path = signal_path(data_dir, name)
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen: Stamp = stamp(self.path)
        self._entries: dict[K, tuple[V, float]] = {}

    def fresh(self) -> Stamp:
        """Empty the cache if the signal changed since it was last looked at; the stamp now."""
        now = stamp(self.path)
        if now != self._seen:
            self._entries.clear()
            self._seen = now
        return now

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        return None

    def put(self, key: K, value: V, seen: Stamp) -> None:
        if stamp(self.path) != seen:  # the data changed while the value was computed: do not keep it
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic())

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def cached(cache: SignalCache[K, V], key: K, compute: Callable[[], Any]) -> V:
    """The cached value of ``key``, or ``await compute()`` kept under the stamp seen before computing it."""
    seen = cache.fresh()
    hit = cache.get(key)
    if hit is not None:
        return hit
    value: V = await compute()
    cache.put(key, value, seen)
    return value


# ---------------------------------------------------------------- every session that commits


def _flag(session: Session, names: Iterable[str]) -> None:
    flagged: set[str] | None = session.info.get(_CHANGED)
    if flagged is None:
        flagged = session.info[_CHANGED] = set()
    flagged.update(names)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if not _WATCHES:
        return
    objects = (*session.new, *session.dirty, *session.deleted)
    _flag(session, (w.name for w in _WATCHES.values() if any(w.touched_by(obj, session) for obj in objects)))


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    # Bulk INSERT / UPDATE / DELETE statements through a session (``update(Model)...``) change the data too.
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    classes = {m.class_ for m in state.all_mappers}
    _flag(state.session, (w.name for w in _WATCHES.values() if classes.intersection(w.classes)))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    flagged: set[str] | None = session.info.pop(_CHANGED, None)
    data_dir = session.info.get("data_dir")
    if flagged and data_dir:
        for name in sorted(flagged):
            bump(signal_path(data_dir, name))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_CHANGED, None)
