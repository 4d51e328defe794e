"""An account someone else set up: /auth/me says it must change its password, everything else answers 403 until it
sets its own (with the password it was given, or with its one-time code, which expires and works once)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.auth.models import LoginFailure, User
from tests.auth.support import GOOD, GOOD2, give_code, token, user_named
from tests.conftest import assert_problem
from tests.support.world import PASSWORD


async def _activate(client, username: str, code: str, new_password: str = GOOD):
    return await client.post(
        "/api/v1/auth/activate", json={"username": username, "code": code, "new_password": new_password}
    )


async def test_the_first_login_gate_and_activation(client, db) -> None:
    code = await give_code(db, "director3")
    headers = await token(client, "director3")  # the password it was given still logs it in...
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["must_change_password"] is True and me.json()["org_admin"] is False
    # ...but nothing else answers until it has chosen its own.
    for path in ("/api/v1/children", "/api/v1/referrals", "/api/v1/streets"):
        body = assert_problem(await client.get(path, headers=headers), 403)
        assert "设置您自己的密码" in body["detail"] and "set your own password" in body["detail"]
        assert body["must_change_password"] is True

    r = await _activate(client, "director3", code.lower().replace("-", " "))  # as typed from paper
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=fresh)).json()["must_change_password"] is False
    assert (await client.get("/api/v1/children", headers=fresh)).status_code == 200
    # The token from before the activation is void; the code works once.
    assert_problem(await client.get("/api/v1/auth/me", headers=headers), 401)
    assert_problem(await _activate(client, "director3", code, GOOD2), 401)
    user = await user_named(db, "director3")
    assert user.one_time_code_hash is None and not user.must_change_password and user.password_changed_at
    await token(client, "director3", GOOD)


async def test_the_gate_opens_with_a_password_change_too(client, db) -> None:
    await give_code(db, "director2", "reset")
    headers = await token(client, "director2")
    assert_problem(await client.get("/api/v1/children", headers=headers), 403)
    r = await client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": GOOD}, headers=headers
    )
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get("/api/v1/children", headers=fresh)).status_code == 200
    user = await user_named(db, "director2")
    assert user.one_time_code_hash is None  # the pending code is void once the account chose its password


async def test_logout_is_open_before_the_password_change(client, db) -> None:
    await give_code(db, "org3")
    headers = await token(client, "org3")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=headers), 401)


async def test_wrong_expired_and_unknown_codes_look_the_same(client, db, frozen_clock) -> None:
    start = clock.now()
    frozen_clock(start)
    code = await give_code(db, "org2")
    wrong = assert_problem(await _activate(client, "org2", "ABCD-EFGH-JKMN"), 401)
    unknown = assert_problem(await _activate(client, "nobody", code), 401)
    frozen_clock(start + dt.timedelta(hours=72, seconds=1))
    expired = assert_problem(await _activate(client, "org2", code), 401)
    assert wrong["detail"] == unknown["detail"] == expired["detail"]
    frozen_clock(start + dt.timedelta(hours=71))
    assert (await _activate(client, "org2", code)).status_code == 200
    async with db.session() as s:
        reasons = (await s.scalars(select(LoginFailure.reason).order_by(LoginFailure.id))).all()
    assert reasons == ["code", "unknown", "code"]


async def test_activation_applies_the_policy_and_keeps_the_code(client, db) -> None:
    code = await give_code(db, "fund")
    body = assert_problem(await _activate(client, "fund", code, "fund-12345678"), 422)
    assert body["errors"][0]["field"] == "new_password"
    assert_problem(await _activate(client, "fund", code, "short"), 422)
    # A refused password does not use the code up.
    assert (await _activate(client, "fund", code)).status_code == 200


async def test_a_disabled_account_cannot_activate(client, db) -> None:
    code = await give_code(db, "auditor")
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "auditor"))
        assert user is not None
        user.is_active = False
    assert_problem(await _activate(client, "auditor", code), 401)


async def test_activation_validation(client) -> None:
    assert_problem(await client.post("/api/v1/auth/activate", json={"username": "x"}), 400)
    assert_problem(
        await client.post("/api/v1/auth/activate", json={"username": "x", "code": "y", "new_password": "z", "q": 1}),
        400,
    )
