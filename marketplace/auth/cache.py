"""The caller behind a bearer token without a database round trip on every request.

A valid token names its account and the token version it was issued under (``sub``, ``ver``). The principal of
``(account, version)`` is read once and kept, briefly, in the serving process; what keeps it honest is the accounts
signal: every committed change to what a principal is made of (role, scope, organization, active, token version,
the first-login gate; see ``PRINCIPAL_FIELDS``) replaces a small file in the deployment's data directory, and every
request compares that file's identity (inode, modification time, size: one ``stat``) with what it saw last. A
change empties the cache, so a logout, a disabled account or a changed role takes effect on the very next request
in every serving process of the machine, as before. The time limit (``TTL_SECONDS``) bounds what a process on
another machine, which does not share the data directory, could miss.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import Principal

TTL_SECONDS: Final = 5.0
SIGNAL_FILE: Final = "accounts.signal"
# Tokens decoded and kept (their claims only); beyond this many the map starts again (a bound on memory).
MAX_TOKENS: Final = 20_000
PRINCIPAL_FIELDS: Final = frozenset(
    {
        "username",
        "display_name",
        "role",
        "street_id",
        "community_id",
        "organization_id",
        "is_active",
        "token_version",
        "must_change_password",
        "is_org_admin",
    }
)
_CHANGED: Final = "accounts_changed"

Stamp = tuple[int, int, int] | None
Loader = Callable[[int, int], Awaitable[Principal]]


def signal_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SIGNAL_FILE


def stamp(path: Path) -> Stamp:
    """The signal file's identity now (None when no account has changed since the directory was made)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def bump(path: Path) -> None:
    """Replace the signal file (a new inode every time, so two changes in one clock tick still differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_text(f"{time.time_ns()}\n")
    os.replace(tmp, path)


class PrincipalCache:
    """Per serving process: token → (account, version, expiry) and (account, version) → principal."""

    def __init__(self, data_dir: str | os.PathLike[str], ttl: float = TTL_SECONDS) -> None:
        self.path = signal_path(data_dir)
        self.ttl = ttl
        self._seen: Stamp = stamp(self.path)
        self._tokens: dict[str, tuple[int, int, int]] = {}
        self._principals: dict[tuple[int, int], tuple[Principal, float]] = {}

    def claims(self, token: str, decode: Callable[[str], tuple[int, int, int]]) -> tuple[int, int]:
        """The token's account and version; its signature is checked once, its expiry on every call."""
        known = self._tokens.get(token)
        if known is None:
            known = decode(token)
            if len(self._tokens) >= MAX_TOKENS:
                self._tokens.clear()
            self._tokens[token] = known
        user_id, version, expires = known
        if expires <= clock.timestamp():
            self._tokens.pop(token, None)
            known = decode(token)  # raises the expired-token refusal
        return user_id, version

    async def principal(self, user_id: int, version: int, load: Loader) -> Principal:
        now = stamp(self.path)
        if now != self._seen:
            self._principals.clear()
            self._seen = now
        key = (user_id, version)
        hit = self._principals.get(key)
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        principal = await load(user_id, version)  # raises when the account or the version no longer holds
        if stamp(self.path) == now:  # nothing changed while it was read: keep it
            self._principals[key] = (principal, time.monotonic())
        return principal


# ---------------------------------------------------------------- the signal, from every session that commits


def _touches_principal(session: Session) -> bool:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, User):
            continue
        if obj in session.new or obj in session.deleted:
            return True
        attrs = inspect(obj).attrs
        if any(attrs[name].history.has_changes() for name in PRINCIPAL_FIELDS):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if _touches_principal(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    # Bulk UPDATE / DELETE statements on users (``update(User)...`` through a session) change principals too.
    if (state.is_update or state.is_delete) and any(m.class_ is User for m in state.all_mappers):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        data_dir = session.info.get("data_dir")
        if data_dir:
            bump(signal_path(data_dir))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_CHANGED, None)
