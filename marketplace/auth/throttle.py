"""Throttling of failed sign-ins, made so that it cannot be used to lock someone out.

Only failures count (a wrong password, an unknown or disabled account, a wrong activation code); a successful
login costs nothing. Failures are counted per (account, address) and per address, never per account alone: an
attacker hammering an account from one address blocks that address, and the account's owner still logs in from
theirs. The per-address limit is larger (an office behind one address has many people). When a key is over its
limit the caller is told how many seconds remain (``Retry-After``) before the password is even looked at.

Counts live in Redis when the deployment has it (every process sees the same counts), else in this process.
Windows follow ``marketplace.clock``, so tests move them with ``clock.travel``.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Final, Protocol

from marketplace import clock

# The per-address limit is this many times the per-(account, address) one.
ADDRESS_FACTOR: Final = 5


class Throttle(Protocol):
    """Failure counts per key over a window."""

    def retry_after(self, key: str, limit: int) -> int:
        """0 while ``key`` has fewer than ``limit`` failures in the window, else the seconds until it may try."""
        ...

    def fail(self, key: str) -> None:
        """Count one failure against ``key``."""
        ...

    def hit(self, key: str, limit: int) -> int:
        """Count one use of ``key`` unless it is already at ``limit`` in the window: 0 if counted, else the seconds
        until it may try again (check and count in one step, so concurrent callers cannot all slip under)."""
        ...


class MemoryThrottle:
    """A sliding window per key, in this process (tests, a single-process run)."""

    # Every this many counts, keys whose last use has left the window are dropped (many addresses, little memory).
    SWEEP_EVERY: Final = 1024

    def __init__(self, window_seconds: float = 60.0) -> None:
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._counted = 0

    def _recent(self, key: str) -> deque[float]:
        now = clock.timestamp()
        failures = self._failures[key]
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return failures

    def retry_after(self, key: str, limit: int) -> int:
        failures = self._recent(key)
        if len(failures) < limit:
            if not failures:
                self._failures.pop(key, None)
            return 0
        # Free again once enough of the oldest failures have left the window.
        oldest_that_counts = failures[len(failures) - limit]
        return max(math.ceil(oldest_that_counts + self.window - clock.timestamp()), 1)

    def fail(self, key: str) -> None:
        self._recent(key).append(clock.timestamp())
        self._counted += 1
        if self._counted % self.SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        now = clock.timestamp()
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self.window]:
            del self._failures[key]

    def hit(self, key: str, limit: int) -> int:
        wait = self.retry_after(key, limit)
        if not wait:
            self.fail(key)
        return wait


class RedisThrottle:
    """A fixed window per key in Redis, shared by every process; a broker outage lets everyone try."""

    def __init__(self, url: str, window_seconds: int = 60, prefix: str = "login-failures") -> None:
        import redis  # deferred import: only deployments with a broker load the client

        self.client: Any = redis.Redis.from_url(url, socket_timeout=0.5)
        self.window = window_seconds
        self.prefix = prefix

    def _bucket(self, key: str) -> tuple[str, int]:
        now = int(clock.timestamp())
        return f"marketplace:{self.prefix}:{key}:{now // self.window}", self.window - now % self.window

    def retry_after(self, key: str, limit: int) -> int:
        bucket, remaining = self._bucket(key)
        try:
            count = int(self.client.get(bucket) or 0)
        except Exception:  # a broker outage must not lock everyone out
            return 0
        return remaining if count >= limit else 0

    def fail(self, key: str) -> None:
        bucket, _ = self._bucket(key)
        try:
            pipe = self.client.pipeline()
            pipe.incr(bucket)
            pipe.expire(bucket, self.window * 2)
            pipe.execute()
        except Exception:  # a broker outage must not lock everyone out
            return

    def hit(self, key: str, limit: int) -> int:
        """INCR is atomic across processes: the call that takes the count past ``limit`` is refused."""
        bucket, remaining = self._bucket(key)
        try:
            pipe = self.client.pipeline()
            pipe.incr(bucket)
            pipe.expire(bucket, self.window * 2)
            count = int(pipe.execute()[0])
        except Exception:  # a broker outage must not lock everyone out
            return 0
        return remaining if count > limit else 0


@dataclass(frozen=True)
class SignInThrottle:
    """The two keys of one sign-in attempt: (account, address) with ``limit``, the address with a larger one."""

    throttle: Throttle
    limit: int

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        return f"acct:{username.strip().lower()}|{address}", f"addr:{address}"

    def retry_after(self, username: str, address: str) -> int:
        account_key, address_key = self.keys(username, address)
        return max(
            self.throttle.retry_after(account_key, self.limit),
            self.throttle.retry_after(address_key, self.limit * ADDRESS_FACTOR),
        )

    def fail(self, username: str, address: str) -> None:
        for key in self.keys(username, address):
            self.throttle.fail(key)
