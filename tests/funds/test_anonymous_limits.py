"""Writes without login are limited per client address and per window (issue #17: 30 donors in 0.9 s)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select

from marketplace import clock
from marketplace.auth.models import LoginFailure
from marketplace.auth.ratelimit import AnonymousWriteLimit, client_address, counted_as
from marketplace.auth.throttle import MemoryThrottle
from marketplace.db import Database
from marketplace.funds.models import Donation, Donor
from marketplace.settings import Settings
from tests.conftest import assert_problem
from tests.funds.live import API_KEY, LiveStripe
from tests.support import databases

LIMIT = 20
WINDOW = 600


@pytest.fixture
def settings(database_url: str, tmp_path: Any, localstripe: str) -> Settings:
    return databases.test_settings(
        database_url,
        tmp_path,
        anonymous_write_limit=LIMIT,
        anonymous_write_window_seconds=WINDOW,
        stripe_api_base=localstripe,
        stripe_api_key=API_KEY,
    )


@pytest.fixture
async def peers(client: Any, app: Litestar) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Clients of the running app (its lifespan entered by ``client``) seen from a given peer address."""
    made: list[httpx.AsyncClient] = []

    def at(address: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://testserver"
        )
        made.append(c)
        return c

    yield at
    for c in made:
        await c.aclose()


def gift(fund_id: int, n: int) -> dict[str, Any]:
    return {"fund_id": fund_id, "amount_fen": 1_000 + n, "donor": {"name": f"捐赠人{n}", "email": f"d{n}@example.com"}}


async def counts(db: Database) -> tuple[int, int]:
    async with db.session(write=False) as s:
        donations = await s.scalar(select(func.count()).select_from(Donation)) or 0
        donors = await s.scalar(select(func.count()).select_from(Donor)) or 0
    return donations, donors


async def test_a_burst_of_donations_is_cut_off_per_address_until_the_window_passes(
    peers: Callable[..., httpx.AsyncClient], db: Database, fund_id: int, stripe_live: LiveStripe, frozen_clock: Any
) -> None:
    start = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    frozen_clock(start)
    burst = peers("203.0.113.7")
    before = await counts(db)
    intents = stripe_live.intents()
    codes = [(await burst.post("/api/v1/donations", json=gift(fund_id, n))).status_code for n in range(30)]
    assert codes == [201] * LIMIT + [429] * (30 - LIMIT)
    after = await counts(db)
    assert after[0] - before[0] == LIMIT and after[1] - before[1] == LIMIT  # nothing written past the limit
    assert stripe_live.gifts_started_since(intents) == LIMIT  # and Stripe was not asked

    refused = await burst.post("/api/v1/donations", json=gift(fund_id, 99))
    problem = assert_problem(refused, 429)
    wait = int(refused.headers["retry-after"])
    assert 0 < wait <= WINDOW and problem["retry_after"] == wait
    assert "请" in problem["detail"] and "秒后再试" in problem["detail"]

    # Another address is not affected.
    assert (await peers("198.51.100.20").post("/api/v1/donations", json=gift(fund_id, 100))).status_code == 201

    # Once the window has passed, the address may give again.
    frozen_clock(start + dt.timedelta(seconds=WINDOW + 1))
    assert (await burst.post("/api/v1/donations", json=gift(fund_id, 101))).status_code == 201


async def test_invalid_requests_count_too_and_organization_applications_are_limited(
    peers: Callable[..., httpx.AsyncClient], fund_id: int
) -> None:
    c = peers("203.0.113.8")
    for _ in range(LIMIT):
        assert (await c.post("/api/v1/organization-applications", json={"name": ""})).status_code == 400
    assert_problem(await c.post("/api/v1/organization-applications", json={"name": ""}), 429)
    # The same address's donations share the count: one budget for writes without login.
    assert_problem(await c.post("/api/v1/donations", json=gift(fund_id, 1)), 429)
    assert_problem(await c.post("/api/v1/organization-applications/1/supplement", json={}), 429)


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    app: Litestar, peers: Callable[..., httpx.AsyncClient], fund_id: int, settings: Settings
) -> None:
    app.state.settings = dataclasses.replace(settings, trusted_proxies=("10.0.0.0/8",))
    proxy = peers("10.0.0.5")
    stranger = peers("203.0.113.9")
    for n in range(LIMIT):
        r = await proxy.post("/api/v1/donations", json=gift(fund_id, n), headers={"x-forwarded-for": "192.0.2.1"})
        assert r.status_code == 201
    assert_problem(
        await proxy.post("/api/v1/donations", json=gift(fund_id, 50), headers={"x-forwarded-for": "192.0.2.1"}), 429
    )
    # Another client behind the same proxy has its own count.
    r = await proxy.post("/api/v1/donations", json=gift(fund_id, 51), headers={"x-forwarded-for": "192.0.2.2"})
    assert r.status_code == 201
    # A client that is not a proxy cannot choose its address by writing the header.
    for n in range(LIMIT):
        r = await stranger.post(
            "/api/v1/donations", json=gift(fund_id, 60 + n), headers={"x-forwarded-for": f"192.0.2.{100 + n}"}
        )
        assert r.status_code == 201
    assert_problem(
        await stranger.post("/api/v1/donations", json=gift(fund_id, 90), headers={"x-forwarded-for": "192.0.2.250"}),
        429,
    )


def test_client_address_rules() -> None:
    trusted = ("10.0.0.0/8", "127.0.0.1")
    assert client_address("203.0.113.1", "192.0.2.1", trusted) == "203.0.113.1"  # not a proxy: header ignored
    assert client_address("10.1.2.3", "192.0.2.1", trusted) == "192.0.2.1"
    # The client wrote its own header; the proxy appended the real address: the rightmost untrusted hop counts.
    assert client_address("10.1.2.3", "1.1.1.1, 192.0.2.7, 10.9.9.9", trusted) == "192.0.2.7"
    assert client_address("10.1.2.3", "not-an-ip", trusted) == "10.1.2.3"
    assert client_address("10.1.2.3", "10.0.0.1, 127.0.0.1", trusted) == "10.1.2.3"
    assert client_address("10.1.2.3", "192.0.2.1", ()) == "10.1.2.3"  # no proxies named: the peer
    assert client_address(None, None, ()) == "unknown"


def test_memory_hit_counts_only_what_it_allows(frozen_clock: Any) -> None:
    frozen_clock(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC))
    t = MemoryThrottle(60)
    assert [t.hit("k", 3) for _ in range(5)][:3] == [0, 0, 0]
    assert t.hit("k", 3) == 60
    frozen_clock(clock.now() + dt.timedelta(seconds=61))
    assert t.hit("k", 3) == 0


async def test_two_api_processes_share_the_count_in_redis(
    settings: Settings, world: Any, db: Database, fund_id: int, redis_url: str
) -> None:
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app

    shared = dataclasses.replace(settings, redis_url=redis_url)
    limit = AnonymousWriteLimit.from_settings(shared)
    limit.throttle.client.flushdb()  # type: ignore[attr-defined]
    async with (
        AsyncTestClient(app=create_app(shared), raise_server_exceptions=False) as one,
        AsyncTestClient(app=create_app(shared), raise_server_exceptions=False) as two,
    ):
        codes = [
            (await (one if n % 2 else two).post("/api/v1/donations", json=gift(fund_id, n))).status_code
            for n in range(LIMIT + 6)
        ]
    assert codes == [201] * LIMIT + [429] * 6
    # Check and count are one atomic step: concurrent callers cannot all slip under the limit.
    other = AnonymousWriteLimit.from_settings(shared)
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: other.hit("192.0.2.99"), range(3 * LIMIT)))
    assert sum(1 for w in waits if w == 0) == LIMIT
    # A broker that is down lets writes through rather than refuse every donor.
    down = AnonymousWriteLimit.from_settings(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    assert all(down.hit("192.0.2.1") == 0 for _ in range(LIMIT + 1))


async def test_sign_in_failures_behind_a_trusted_proxy_count_per_client(
    app: Litestar, peers: Callable[..., httpx.AsyncClient], settings: Settings, db: Database
) -> None:
    app.state.settings = dataclasses.replace(settings, trusted_proxies=("10.0.0.0/8",))
    proxy = peers("10.0.0.5")
    r = await proxy.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "wrong"}, headers={"x-forwarded-for": "192.0.2.44"}
    )
    assert r.status_code == 401
    async with db.session(write=False) as s:
        addresses = set((await s.scalars(select(LoginFailure.address))).all())
    assert addresses == {"192.0.2.44"}


async def test_the_consoles_application_form_shares_the_limit_and_keeps_what_was_typed(
    client: Any, world: Any, db: Database
) -> None:
    from marketplace.accounts.models import OrganizationApplication
    from tests.admin.console import csrf_of
    from tests.admin.test_accounts import application_form

    page = await client.get("/admin/apply")
    for n in range(LIMIT):
        r = await client.post("/admin/apply", data=application_form(csrf_of(page.text), world, name=""))
        assert r.status_code != 429, n
    async with db.session(write=False) as s:
        before = await s.scalar(select(func.count()).select_from(OrganizationApplication))
    form = application_form(csrf_of(page.text), world, name="深圳市福田区限流测试社工服务中心")
    r = await client.post("/admin/apply", data=form)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "请求过于频繁" in r.text and "深圳市福田区限流测试社工服务中心" in r.text  # re-rendered, values kept
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(OrganizationApplication)) == before


def test_an_ipv6_block_counts_as_one_address_and_old_keys_are_dropped(frozen_clock: Any) -> None:
    assert counted_as("2001:db8:1:2:aaaa::1") == counted_as("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert counted_as("2001:db8:1:3::1") != counted_as("2001:db8:1:2::1")
    assert counted_as("::ffff:192.0.2.1") == "192.0.2.1"
    assert counted_as("192.0.2.1") == "192.0.2.1" and counted_as("unknown") == "unknown"
    frozen_clock(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC))
    t = MemoryThrottle(60)
    for n in range(MemoryThrottle.SWEEP_EVERY - 1):
        t.hit(f"old{n}", 5)
    frozen_clock(clock.now() + dt.timedelta(seconds=61))
    t.hit("new", 5)
    assert set(t._failures) == {"new"}
