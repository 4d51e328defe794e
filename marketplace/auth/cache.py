"""The caller behind a bearer token without a database round trip on every request.

A valid token names its account and the token version it was issued under (``sub``, ``ver``). The principal of
``(account, version)`` is read once and kept, briefly, in the serving process; what keeps it honest is the accounts
signal: every committed change to what a principal is made of (role, scope, organization, active, token version,
the first-login gate; see ``PRINCIPAL_FIELDS``) changes a small file in the deployment's data directory, and every
request compares that file's identity (inode, modification time, size: one ``stat``) with what it saw last. A
change empties the cache, so a logout, a disabled account or a changed role takes effect on the very next request
in every serving process of the machine, as before. The time limit (``TTL_SECONDS``) bounds what a process on
another machine, which does not share the data directory, could miss.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from marketplace import clock, signals
from marketplace.auth.models import User
from marketplace.auth.principal import Principal

TTL_SECONDS: Final = 5.0
SIGNAL: Final = "accounts"
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
# Every committed change to what a principal is made of changes the accounts signal (marketplace.signals).
signals.watch(SIGNAL, (User,), PRINCIPAL_FIELDS)

Loader = Callable[[int, int], Awaitable[Principal]]
stamp = signals.stamp
bump = signals.bump


def signal_path(data_dir: str | os.PathLike[str]) -> Path:
    return signals.signal_path(data_dir, SIGNAL)


class PrincipalCache:
    """Per serving process: token → (account, version, expiry) and (account, version) → principal."""

    def __init__(self, data_dir: str | os.PathLike[str], ttl: float = TTL_SECONDS) -> None:
        # Emptied by the accounts signal; a principal read while the signal changed is not kept.
        self._principals: signals.SignalCache[tuple[int, int], Principal] = signals.SignalCache(
            data_dir, SIGNAL, ttl=ttl, max_entries=MAX_TOKENS
        )
        self.path = self._principals.path
        self._tokens: dict[str, tuple[int, int, int]] = {}

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
        """The principal of ``(account, version)``; ``load`` raises when the account or the version no longer
        holds, and a refusal is never kept."""
        return await signals.cached(self._principals, (user_id, version), lambda: load(user_id, version))
