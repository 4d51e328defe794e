"""Throttling that cannot lock someone out: only failures count, per (account, address) and per address."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace import clock
from marketplace.app import create_app
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import LoginFailure, User
from marketplace.auth.throttle import ADDRESS_FACTOR, MemoryThrottle, RedisThrottle, SignInThrottle
from tests.auth.support import GOOD, client_at, give_code, login
from tests.conftest import assert_problem
from tests.support.world import PASSWORD

LIMIT = 10


@pytest.fixture
async def limited(settings, world, frozen_clock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    # The window stands still unless a test moves it: on a loaded machine a burst of logins can outlast a minute.
    frozen_clock(clock.now())
    app = create_app(dataclasses.replace(settings, login_rate_limit_per_minute=LIMIT))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as running:
        yield running  # the tests talk to the app from their own addresses through it


async def _failures(db) -> list[tuple[str, str, str]]:
    async with db.session() as s:
        rows = (await s.execute(select(LoginFailure.username, LoginFailure.address, LoginFailure.reason))).all()
    return [tuple(r) for r in rows]


async def test_ten_failures_from_one_address_do_not_lock_the_account_out(limited, db) -> None:
    async with client_at(limited, "203.0.113.9") as attacker, client_at(limited, "198.51.100.7") as owner:
        codes = [(await login(attacker, "director", f"guess-{i}")).status_code for i in range(LIMIT)]
        assert codes == [401] * LIMIT
        # The attacker's address is now refused for this account, before the password is even looked at...
        refused = await login(attacker, "director", PASSWORD)
        body = assert_problem(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60 and body["retry_after"] == int(
            refused.headers["retry-after"]
        )
        assert "秒后再试" in body["detail"]
        # ...and the account's owner, from their own address, logs in.
        assert (await login(owner, "director", PASSWORD)).status_code == 200
    rows = await _failures(db)
    assert rows.count(("director", "203.0.113.9", "password")) == LIMIT
    assert rows[-1] == ("director", "203.0.113.9", "throttled")


async def test_successes_do_not_count(limited) -> None:
    async with client_at(limited, "192.0.2.1") as c:
        for _ in range(LIMIT * 2):
            assert (await login(c, "admin", PASSWORD)).status_code == 200
        for _ in range(LIMIT - 1):
            assert (await login(c, "admin", "wrong")).status_code == 401
        assert (await login(c, "admin", PASSWORD)).status_code == 200


async def test_the_window_passes(limited, frozen_clock) -> None:
    start = clock.now()
    frozen_clock(start)
    async with client_at(limited, "192.0.2.2") as c:
        for _ in range(LIMIT):
            await login(c, "org", "wrong")
        r = await login(c, "org", PASSWORD)
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        frozen_clock(start + dt.timedelta(seconds=45))
        assert (await login(c, "org", PASSWORD)).headers["retry-after"] == "15"
        frozen_clock(start + dt.timedelta(seconds=61))
        assert (await login(c, "org", PASSWORD)).status_code == 200


async def test_one_address_trying_many_accounts_is_limited_per_address(limited, db) -> None:
    async with client_at(limited, "203.0.113.50") as sprayer, client_at(limited, "198.51.100.8") as other:
        for i in range(LIMIT * ADDRESS_FACTOR):
            assert (await login(sprayer, f"user{i}", "password1")).status_code == 401
        assert_problem(await login(sprayer, "admin", PASSWORD), 429)
        assert (await login(other, "admin", PASSWORD)).status_code == 200
    rows = await _failures(db)
    assert sum(1 for r in rows if r[2] == "unknown") == LIMIT * ADDRESS_FACTOR


async def test_failed_activations_are_throttled_too(limited, db) -> None:
    code = await give_code(db, "org2")
    async with client_at(limited, "203.0.113.77") as c:
        for _ in range(LIMIT):
            r = await c.post(
                "/api/v1/auth/activate", json={"username": "org2", "code": "AAAA-BBBB-CCCC", "new_password": GOOD}
            )
            assert r.status_code == 401
        r = await c.post("/api/v1/auth/activate", json={"username": "org2", "code": code, "new_password": GOOD})
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
    async with client_at(limited, "198.51.100.9") as owner:
        r = await owner.post("/api/v1/auth/activate", json={"username": "org2", "code": code, "new_password": GOOD})
        assert r.status_code == 200


async def test_a_disabled_account_s_failures_are_logged(client, db) -> None:
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "procurement"))
        assert user is not None
        user.is_active = False
    assert_problem(await login(client, "procurement", PASSWORD), 401)
    assert (await _failures(db))[-1] == ("procurement", "testclient", "disabled")


async def test_no_password_or_code_in_the_audit_log_or_the_logs(client, db, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    code = await give_code(db, "supervisor2")
    secrets = [PASSWORD, "wrong-password-xyz", GOOD, "Second-lantern-harbor-58", code, code.replace("-", "")]
    await login(client, "supervisor2", "wrong-password-xyz")
    await login(client, "ghost", "wrong-password-xyz")
    r = await client.post(
        "/api/v1/auth/activate", json={"username": "supervisor2", "code": "ZZZZ-ZZZZ-ZZZZ", "new_password": GOOD}
    )
    assert r.status_code == 401
    r = await client.post("/api/v1/auth/activate", json={"username": "supervisor2", "code": code, "new_password": GOOD})
    assert r.status_code == 200
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post(
        "/api/v1/auth/password",
        json={"current_password": GOOD, "new_password": "Second-lantern-harbor-58"},
        headers=headers,
    )
    assert r.status_code == 200
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    async with db.session() as s:
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.entity == "user"))).all()
    actions = [e.action for e in entries]
    for expected in ("login_failed", "activate_failed", "activate", "password_change", "logout"):
        assert expected in actions
    stored = repr([(e.action, e.fields, e.detail) for e in entries]) + repr(await _failures(db))
    logged = caplog.text
    for secret in secrets:
        assert secret not in stored and secret not in logged
        assert secret.lower() not in stored.lower()


def test_the_memory_throttle_counts_failures_in_a_sliding_window(frozen_clock) -> None:
    start = clock.now()
    frozen_clock(start)
    throttle = SignInThrottle(MemoryThrottle(window_seconds=60), limit=2)
    assert throttle.retry_after("a", "x") == 0
    throttle.fail("a", "x")
    frozen_clock(start + dt.timedelta(seconds=20))
    throttle.fail("A", "x")  # the same account, whatever the case
    assert throttle.retry_after("a", "x") == 40
    assert throttle.retry_after("a", "y") == 0 and throttle.retry_after("b", "x") == 0
    frozen_clock(start + dt.timedelta(seconds=60))
    assert throttle.retry_after("a", "x") == 0


def test_the_redis_throttle_is_shared_and_forgiving(redis_url, frozen_clock) -> None:
    frozen_clock(dt.datetime(2026, 6, 1, 8, 0, 10, tzinfo=dt.UTC))
    one = SignInThrottle(RedisThrottle(redis_url, window_seconds=60), limit=2)
    two = SignInThrottle(RedisThrottle(redis_url, window_seconds=60), limit=2)
    one.throttle.client.flushdb()  # type: ignore[attr-defined]
    one.fail("a", "x")
    two.fail("a", "x")
    assert one.retry_after("a", "x") == 50 and two.retry_after("a", "x") == 50
    assert one.retry_after("a", "y") == 0
    frozen_clock(dt.datetime(2026, 6, 1, 8, 1, 0, tzinfo=dt.UTC))
    assert one.retry_after("a", "x") == 0
    # A broker that is down lets everyone try rather than lock everyone out.
    down = SignInThrottle(RedisThrottle("redis://127.0.0.1:1/0", window_seconds=60), limit=1)
    down.fail("a", "x")
    assert down.retry_after("a", "x") == 0
