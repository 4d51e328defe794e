"""The principal behind a token without a database round trip per request, and revocation still at once: a commit
that changes an account changes the accounts signal file, and every serving process's cache is emptied by it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from marketplace.app import create_app
from marketplace.auth import cache
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.errors import Unauthorized
from tests.auth.support import token
from tests.conftest import assert_problem
from tests.support.statements import statements_mentioning


async def test_a_valid_token_costs_no_account_read_after_the_first(client, app, db) -> None:
    headers = await token(client, "director")
    seen = statements_mentioning(app.state.db, "FROM users")
    assert (await client.get("/api/v1/services?limit=5", headers=headers)).status_code == 200
    first = len(seen)
    for _ in range(5):
        assert (await client.get("/api/v1/services?limit=5", headers=headers)).status_code == 200
    assert first == 1 and len(seen) == first  # one read of the account, then none


async def test_a_change_committed_elsewhere_reaches_a_warm_cache_on_the_next_request(client, db, settings) -> None:
    """Another serving process (a second app on the same data directory) revokes; this one sees it at once."""
    headers = await token(client, "fund")
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200  # cached now
    other = create_app(settings)
    async with AsyncTestClient(other) as second:
        moved = await second.get("/api/v1/auth/me", headers=headers)
        assert moved.status_code == 200
        assert (await second.post("/api/v1/auth/logout", headers=headers)).status_code in {200, 204}
    assert_problem(await client.get("/api/v1/auth/me", headers=headers), 401)


async def test_a_role_change_committed_by_a_bulk_update_is_seen_next_request(client, db) -> None:
    headers = await token(client, "director")
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["role"] == "child_director"
    async with db.session() as s:
        await s.execute(update(User).where(User.username == "director").values(display_name="新名字"))
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["display_name"] == "新名字"


async def test_a_commit_that_does_not_touch_a_principal_leaves_the_signal_alone(world, db, settings) -> None:
    path = cache.signal_path(settings.data_dir)
    before = cache.stamp(path)
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "director"))
        assert user is not None
        user.phone = "13800000000"  # not part of a principal
    assert cache.stamp(path) == before
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "director"))
        assert user is not None
        user.role = "child_supervisor"
    assert cache.stamp(path) != before
    # A change rolled back signals nothing.
    middle = cache.stamp(path)
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            user = await s.scalar(select(User).where(User.username == "director"))
            assert user is not None
            user.is_active = False
            await s.flush()
            raise RuntimeError("abandon")
    assert cache.stamp(path) == middle


def test_two_signals_in_one_clock_tick_still_differ(tmp_path: Path) -> None:
    path = cache.signal_path(tmp_path)
    stamps = set()
    for _ in range(50):
        cache.bump(path)
        stamps.add(cache.stamp(path))
    assert len(stamps) == 50
    assert not [p for p in os.listdir(tmp_path) if p != path.name]  # no temporary files left


async def test_the_cache_refuses_what_the_loader_refuses_and_keeps_only_what_held(tmp_path: Path) -> None:
    principals = cache.PrincipalCache(tmp_path, ttl=60)
    calls: list[tuple[int, int]] = []

    async def load(user_id: int, version: int) -> Principal:
        calls.append((user_id, version))
        if version != 3:
            raise Unauthorized("revoked")
        return Principal(user_id=user_id, username="u", role="child_director")

    with pytest.raises(Unauthorized):
        await principals.principal(7, 2, load)
    with pytest.raises(Unauthorized):
        await principals.principal(7, 2, load)  # a refusal is never kept
    assert (await principals.principal(7, 3, load)).user_id == 7
    await principals.principal(7, 3, load)
    assert calls == [(7, 2), (7, 2), (7, 3)]
    cache.bump(principals.path)
    await principals.principal(7, 3, load)
    assert calls[-1] == (7, 3) and len(calls) == 4
    expired = cache.PrincipalCache(tmp_path, ttl=0)
    await expired.principal(7, 3, load)
    await expired.principal(7, 3, load)
    assert len(calls) == 6
