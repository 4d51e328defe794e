"""Limits on writes made without login: per client address, per window.

A route that writes without a token (an online donation) carries the guard :func:`anonymous_write`: each request
counts against its client address, and once the address has used ``anonymous_write_limit`` requests in
``anonymous_write_window_seconds`` it is answered ``429`` with ``Retry-After`` before the handler runs, so nothing
is written. The counts live where the sign-in throttle's do (``marketplace.auth.throttle``): in Redis when the
deployment has it, so every API process shares them, else in this process. Windows follow ``marketplace.clock``.

The client address is the peer's, unless the peer is one of ``trusted_proxies``: then ``X-Forwarded-For`` is read
from the right, skipping the trusted proxies, and the first other address is the client's (what a client writes
into the header itself, to the left of that, is never believed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from marketplace.auth.throttle import MemoryThrottle, RedisThrottle, Throttle
from marketplace.errors import TooManyRequests
from marketplace.settings import Settings

STATE_KEY = "anonymous_write_limit"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in n for n in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[str, ...]) -> str:
    """The client's address: the peer's, or, behind a trusted proxy, the nearest untrusted one it forwarded."""
    address = (peer or "unknown")[:64]
    networks = _networks(trusted_proxies)
    if not networks or not forwarded_for or not _trusted(address, networks):
        return address
    for hop in reversed(forwarded_for.split(",")):
        ip = _ip(hop)
        if ip is None:
            break  # a malformed hop: believe nothing further left
        if not any(ip in n for n in networks):
            return str(ip)
    return address


def counted_as(address: str) -> str:
    """The key an address counts under: an IPv6 address by its /64 (one subscriber's whole block), others as is."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return address


@dataclass(frozen=True)
class AnonymousWriteLimit:
    throttle: Throttle
    limit: int
    window_seconds: int
    trusted_proxies: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> AnonymousWriteLimit:
        window = max(settings.anonymous_write_window_seconds, 1)
        counts: Throttle = (
            RedisThrottle(settings.redis_url, window, prefix="anonymous-writes")
            if settings.redis_url
            else MemoryThrottle(window)
        )
        return cls(counts, settings.anonymous_write_limit, window, settings.trusted_proxies)

    def address_of(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        peer = connection.client.host if connection.client else None
        return client_address(peer, connection.headers.get("x-forwarded-for"), self.trusted_proxies)

    def hit(self, address: str) -> int:
        """Count one write from ``address``; 0 if allowed, else the seconds to wait."""
        if self.limit <= 0:
            return 0  # 0 switches the limit off
        return self.throttle.hit(f"anon:{counted_as(address)}", self.limit)


def limit_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AnonymousWriteLimit:
    """The app's limit, made from its settings on first use."""
    state = connection.app.state
    limit: AnonymousWriteLimit | None = state.get(STATE_KEY)
    if limit is None:
        limit = AnonymousWriteLimit.from_settings(state.settings)
        state[STATE_KEY] = limit
    return limit


def anonymous_write(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of a route that writes without login: 429 (with Retry-After) once the address is over its limit."""
    limit = limit_of(connection)
    wait = limit.hit(limit.address_of(connection))
    if wait:
        raise TooManyRequests.retry_after(
            f"来自该地址的请求过于频繁，请 {wait} 秒后再试 (too many requests from this address: retry after {wait} s)",
            wait,
        )
