"""Revocation that takes effect at once: logout, a password change and disabling end every token and console
session of the account on its next request."""

from __future__ import annotations

import jwt
from sqlalchemy import select, update

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import User
from marketplace.auth.service import revoke_sessions
from tests.admin.console import console_login
from tests.auth.support import GOOD, token
from tests.conftest import assert_problem
from tests.support.world import PASSWORD

SECRET = "test-secret-key-0123456789-0123456789-0123456789"


async def _console_alive(client) -> bool:
    r = await client.get("/admin/", follow_redirects=False)
    assert r.status_code in {200, 303}, r.text
    return r.status_code == 200


async def test_tokens_carry_the_account_version(client, db) -> None:
    headers = await token(client, "director")
    claims = jwt.decode(headers["Authorization"].split()[1], SECRET, algorithms=["HS256"])
    assert claims["ver"] == 0 and claims["sub"]
    # Forged with our key but another version, or without one: refused.
    for forged in ({**claims, "ver": 1}, {k: v for k, v in claims.items() if k != "ver"}):
        bad = jwt.encode(forged, SECRET, algorithm="HS256")
        assert_problem(await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"}), 401)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


async def test_logout_revokes_a_live_token_and_a_live_console_session(client, db) -> None:
    await console_login(client, "director")
    api = await token(client, "director")
    other = await token(client, "director2")
    assert await _console_alive(client)

    r = await client.post("/api/v1/auth/logout", headers=api)
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=api), 401)
    assert not await _console_alive(client)
    # Only that account: another's token still works, and the account logs in again.
    assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 200
    again = await token(client, "director")
    assert (await client.get("/api/v1/auth/me", headers=again)).status_code == 200
    async with db.session() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "user"))).all()
    assert "logout" in actions and actions.count("login") >= 3


async def test_console_logout_revokes_the_account_s_tokens(client) -> None:
    api = await token(client, "admin")
    csrf = await console_login(client, "admin")
    r = await client.post("/admin/logout", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert_problem(await client.get("/api/v1/auth/me", headers=api), 401)


async def test_password_change_revokes_both_and_the_new_token_works(client, db) -> None:
    await console_login(client, "supervisor")
    old = await token(client, "supervisor")
    r = await client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": GOOD}, headers=old
    )
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert r.json()["role"] == "child_supervisor"
    assert_problem(await client.get("/api/v1/auth/me", headers=old), 401)
    assert not await _console_alive(client)
    me = await client.get("/api/v1/auth/me", headers=fresh)
    assert me.status_code == 200 and me.json()["must_change_password"] is False
    assert (await client.get("/api/v1/children", headers=fresh)).status_code == 200
    # The old password is gone, the new one works.
    assert (
        await client.post("/api/v1/auth/login", json={"username": "supervisor", "password": PASSWORD})
    ).status_code == 401
    await token(client, "supervisor", GOOD)
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "supervisor"))
        assert user is not None and user.password_changed_at is not None and user.token_version == 1


async def test_password_change_checks_the_current_one_and_the_policy(client, db) -> None:
    headers = await token(client, "org")
    wrong = await client.post(
        "/api/v1/auth/password", json={"current_password": "not-it", "new_password": GOOD}, headers=headers
    )
    body = assert_problem(wrong, 422)
    assert body["errors"][0]["field"] == "current_password"
    weak = await client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password123"}, headers=headers
    )
    assert assert_problem(weak, 422)["errors"][0]["field"] == "new_password"
    same = await client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=headers
    )
    assert_problem(same, 422)
    # Nothing was changed by the refusals: the token still works.
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert_problem(
        await client.post("/api/v1/auth/password", json={"current_password": PASSWORD}, headers=headers), 400
    )


async def test_disabling_revokes_a_live_token_and_console_session(client, db) -> None:
    await console_login(client, "org2")
    api = await token(client, "org2")
    async with db.session() as s:
        await s.execute(update(User).where(User.username == "org2").values(is_active=False, disabled_at=clock.now()))
    assert_problem(await client.get("/api/v1/auth/me", headers=api), 401)
    assert not await _console_alive(client)


async def test_a_bumped_version_ends_sessions_on_the_next_request(client, db) -> None:
    """What revoke_sessions does for a handover or a role change, seen from a live token and console session."""
    await console_login(client, "fund")
    api = await token(client, "fund")
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "fund"))
        assert user is not None
        revoke_sessions(user)
    assert_problem(await client.get("/api/v1/auth/me", headers=api), 401)
    assert not await _console_alive(client)
