from __future__ import annotations

from tests.conftest import Auth, assert_problem


async def test_login_and_me(client, auth: Auth) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "test-password"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["role"] == "child_director"
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["scope"] == "community" and me.json()["role_label"] == "儿童主任"
    # The demo's and the tests' seeded accounts are not made to change their passwords.
    assert me.json()["must_change_password"] is False and me.json()["org_admin"] is False


async def test_wrong_password_and_unknown_user_look_the_same(client) -> None:
    a = await client.post("/api/v1/auth/login", json={"username": "director", "password": "nope"})
    b = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"})
    assert assert_problem(a, 401)["detail"] == assert_problem(b, 401)["detail"]


async def test_missing_and_bad_tokens(client) -> None:
    assert_problem(await client.get("/api/v1/auth/me"), 401)
    assert_problem(await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer garbage"}), 401)
    assert_problem(await client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}), 401)


async def test_login_validation(client) -> None:
    body = assert_problem(await client.post("/api/v1/auth/login", json={"username": "x"}), 400)
    assert body["errors"]
    assert_problem(await client.post("/api/v1/auth/login", json={"username": "x", "password": "y", "z": 1}), 400)
    assert_problem(
        await client.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}), 400
    )


async def test_login_is_rate_limited(settings, world) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app

    app = create_app(replace(settings, login_rate_limit_per_minute=3))
    async with AsyncTestClient(app=app) as c:
        responses = [
            await c.post("/api/v1/auth/login", json={"username": "director", "password": "bad"}) for _ in range(5)
        ]
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses[3:])
    assert "retry-after" not in responses[0].headers


async def test_health(client) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok" and r.json()["status"] in {"ok", "degraded"}
