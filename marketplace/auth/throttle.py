"""Login throttling per username and per client address; Redis-backed when a broker is configured."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Protocol

from marketplace import clock


class Throttle(Protocol):
    def hit(self, key: str) -> bool:
        """Record one attempt; False once the key is over its limit for the window."""
        ...


class MemoryThrottle:
    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str) -> bool:
        now = time.monotonic()
        hits = self._hits[key]
        while hits and now - hits[0] > self.window:
            hits.popleft()
        hits.append(now)
        return len(hits) <= self.limit


class RedisThrottle:
    def __init__(self, url: str, limit: int, window_seconds: int = 60) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5)
        self.limit = limit
        self.window = window_seconds

    def hit(self, key: str) -> bool:
        bucket = f"marketplace:login:{key}:{int(clock.timestamp()) // self.window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(bucket)
            pipe.expire(bucket, self.window * 2)
            count = int(pipe.execute()[0])
        except Exception:  # a broker outage must not lock everyone out
            return True
        return count <= self.limit
