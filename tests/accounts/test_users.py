"""Staff accounts through /api/v1/users: who may see and change which accounts, scopes, revocation, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace.auth.models import LoginFailure, User
from marketplace.db import Database, utcnow
from tests.accounts.support import activate, audit_actions, audit_details, login
from tests.admin.console import console_login
from tests.conftest import Auth
from tests.support.world import PASSWORD, World

Client = AsyncTestClient[Litestar]


def person(username: str, role: str, **scope: Any) -> dict[str, Any]:
    return {"username": username, "display_name": "测试人员", "phone": "13512345678", "role": role, **scope}


async def make_org_admin(db: Database, username: str = "org") -> None:
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        user.is_org_admin = True


async def test_district_admin_creates_each_role_with_a_consistent_scope(
    client: Client, world: World, auth: Auth
) -> None:
    admin = await auth("admin")
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    cases = [
        (person("new.dir", "child_director", community_id=c3), {"street_id": s2, "community_id": c3}),
        (person("new.sup", "child_supervisor", street_id=s1), {"street_id": s1, "community_id": None}),
        (person("new.org", "org_staff", organization_id=world.orgs[1], is_org_admin=True), {"is_org_admin": True}),
        (person("new.fund", "fund_manager"), {"street_id": None, "organization_id": None}),
    ]
    for body, expected in cases:
        r = await client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["user"]["must_change_password"] is True and out["user"]["is_active"] is True
        assert out["activation"]["purpose"] == "activate" and len(out["activation"]["code"]) == 14
        for field, value in expected.items():
            assert out["user"][field] == value, (body, field)
    # Inconsistent scopes and unknown ids are 422 with the field named.
    bad = [
        (person("x.dir", "child_director"), "community_id"),
        (person("x.dir", "child_director", community_id=c1, street_id=s2), "street_id"),
        (person("x.dir", "child_director", community_id=999_999), "community_id"),
        (person("x.sup", "child_supervisor"), "street_id"),
        (person("x.sup", "child_supervisor", street_id=s1, organization_id=world.orgs[0]), "organization_id"),
        (person("x.org", "org_staff"), "organization_id"),
        (person("x.org", "org_staff", organization_id=2**31 - 1), "organization_id"),
        (person("x.adm", "district_admin", street_id=s1), "street_id"),
        (person("x.adm", "district_admin", is_org_admin=True), "is_org_admin"),
        (person("x.who", "superuser"), "role"),
    ]
    for body, field in bad:
        r = await client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (body, r.json())
    taken = await client.post("/api/v1/users", json=person("Director", "fund_manager"), headers=admin)
    assert taken.status_code == 409


async def test_a_created_account_has_no_usable_password_until_it_activates(
    client: Client, world: World, auth: Auth, db: Database
) -> None:
    admin = await auth("admin")
    r = await client.post("/api/v1/users", json=person("fresh", "fund_manager"), headers=admin)
    code = r.json()["activation"]["code"]
    async with db.session(write=False) as session:
        user = await session.scalar(select(User).where(User.username == "fresh"))
        assert user is not None and user.created_by == world.users["admin"]
        assert code.replace("-", "") not in (user.one_time_code_hash or "")
    assert (await client.post("/api/v1/auth/login", json={"username": "fresh", "password": ""})).status_code in (
        400,
        401,
    )
    await activate(client, "fresh", code)
    me = await client.get("/api/v1/auth/me", headers=await login(client, "fresh"))
    assert me.json()["must_change_password"] is False


async def test_who_sees_which_accounts(client: Client, world: World, auth: Auth, db: Database) -> None:
    await make_org_admin(db, "org")
    async with db.session() as session:
        for name in ("admin", "org", "org2"):
            user = await session.scalar(select(User).where(User.username == name))
            assert user is not None
            user.phone = "13800138000"
    admin, auditor, org = await auth("admin"), await auth("auditor"), await auth("org")
    everyone = (await client.get("/api/v1/users?limit=200", headers=admin)).json()
    assert everyone["total"] == len(world.users)
    assert {u["phone"] for u in everyone["items"] if u["username"] == "org2"} == {"13800138000"}
    seen_by_auditor = (await client.get("/api/v1/users?q=org2", headers=auditor)).json()["items"]
    assert [u["phone"] for u in seen_by_auditor] == ["138****8000"]
    own = (await client.get("/api/v1/users", headers=org)).json()
    assert [u["username"] for u in own["items"]] == ["org"] and own["items"][0]["phone"] == "13800138000"
    assert (await client.get(f"/api/v1/users/{world.users['org2']}", headers=org)).status_code == 404
    assert (await client.get(f"/api/v1/users/{world.users['admin']}", headers=org)).status_code == 404
    for name in ("director", "supervisor", "fund", "org2"):
        r = await client.get("/api/v1/users", headers=await auth(name))
        assert r.status_code == 403, name
    found = (await client.get("/api/v1/users?q=direc&role=child_director&active=true", headers=admin)).json()
    assert {u["username"] for u in found["items"]} == {"director", "director2", "director3"}
    assert (await client.get("/api/v1/users?q=%25", headers=admin)).json()["total"] == 0  # % is literal


async def test_scope_rules_for_changes(client: Client, world: World, auth: Auth, db: Database) -> None:
    await make_org_admin(db, "org")
    org, director, auditor = await auth("org"), await auth("director"), await auth("auditor")
    # A director cannot create accounts; an auditor changes nothing.
    assert (await client.post("/api/v1/users", json=person("d.x", "fund_manager"), headers=director)).status_code == 403
    assert (await client.post("/api/v1/users", json=person("a.x", "fund_manager"), headers=auditor)).status_code == 403
    r = await client.post(f"/api/v1/users/{world.users['org2']}/disable", headers=auditor)
    assert r.status_code == 403
    # An organization admin: only org_staff of its own organization, never an admin.
    assert (await client.post("/api/v1/users", json=person("o.x", "child_director"), headers=org)).status_code == 403
    other = person("o.y", "org_staff", organization_id=world.orgs[1])
    assert (await client.post("/api/v1/users", json=other, headers=org)).status_code == 403
    boss = person("o.z", "org_staff", is_org_admin=True)
    assert (await client.post("/api/v1/users", json=boss, headers=org)).status_code == 403
    # It cannot touch another organization's staff (it does not even see them).
    target = world.users["org2"]
    for path in ("disable", "enable", "reset-password"):
        assert (await client.post(f"/api/v1/users/{target}/{path}", headers=org)).status_code == 404
    assert (
        await client.patch(f"/api/v1/users/{target}", json={"phone": "13300001111"}, headers=org)
    ).status_code == 404
    # Its own staff: names and phones yes, roles no.
    mine = (await client.post("/api/v1/users", json=person("o.staff", "org_staff"), headers=org)).json()["user"]
    assert mine["organization_id"] == world.orgs[0]
    r = await client.patch(f"/api/v1/users/{mine['id']}", json={"display_name": "王新名"}, headers=org)
    assert r.status_code == 200 and r.json()["display_name"] == "王新名"
    r = await client.patch(f"/api/v1/users/{mine['id']}", json={"role": "district_admin"}, headers=org)
    assert r.status_code == 403
    assert (await client.post(f"/api/v1/users/{mine['id']}/disable", headers=org)).status_code == 200
    # Nobody disables itself.
    assert (await client.post(f"/api/v1/users/{world.users['org']}/disable", headers=org)).status_code == 409
    admin = await auth("admin")
    assert (await client.post(f"/api/v1/users/{world.users['admin']}/disable", headers=admin)).status_code == 409


async def test_disable_revokes_a_live_token_and_a_live_console_session(
    client: Client, world: World, auth: Auth
) -> None:
    admin = await auth("admin")
    token = await auth("supervisor")
    assert (await client.get("/api/v1/children", headers=token)).status_code == 200
    await console_login(client, "supervisor")
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 200
    r = await client.post(f"/api/v1/users/{world.users['supervisor']}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert (await client.get("/api/v1/children", headers=token)).status_code == 401
    page = await client.get("/admin/", follow_redirects=False)
    assert page.status_code in (302, 303) and "/admin/login" in page.headers["location"]
    # Enabled again, the account logs in anew; the old token stays dead.
    r = await client.post(f"/api/v1/users/{world.users['supervisor']}/enable", headers=admin)
    assert r.status_code == 200 and r.json()["is_active"] is True and r.json()["disabled_at"] is None
    assert (await client.get("/api/v1/children", headers=token)).status_code == 401
    assert (
        await client.get("/api/v1/children", headers=await login(client, "supervisor", PASSWORD))
    ).status_code == 200


async def test_a_role_change_revokes_and_a_name_change_does_not(client: Client, world: World, auth: Auth) -> None:
    admin = await auth("admin")
    token = await auth("director2")
    uid = world.users["director2"]
    r = await client.patch(f"/api/v1/users/{uid}", json={"display_name": "赵新", "phone": "13312345678"}, headers=admin)
    assert r.status_code == 200 and r.json()["phone"] == "13312345678"
    assert (await client.get("/api/v1/children", headers=token)).status_code == 200
    r = await client.patch(
        f"/api/v1/users/{uid}", json={"role": "child_supervisor", "street_id": world.streets[1]}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["community_id"] is None and r.json()["street_id"] == world.streets[1]
    assert (await client.get("/api/v1/children", headers=token)).status_code == 401
    # A community that is not in the given street is refused.
    r = await client.patch(
        f"/api/v1/users/{uid}",
        json={"role": "child_director", "community_id": world.communities[0], "street_id": world.streets[1]},
        headers=admin,
    )
    assert r.status_code == 422
    # One does not change one's own role.
    r = await client.patch(f"/api/v1/users/{world.users['admin']}", json={"role": "auditor"}, headers=admin)
    assert r.status_code == 403


async def test_reset_password_gives_a_code_and_the_old_password_stops_working(
    client: Client, world: World, auth: Auth, db: Database
) -> None:
    admin = await auth("admin")
    token = await auth("fund")
    r = await client.post(f"/api/v1/users/{world.users['fund']}/reset-password", headers=admin)
    assert r.status_code == 200, r.text
    code = r.json()
    assert code["purpose"] == "reset" and code["username"] == "fund"
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401
    old = await client.post("/api/v1/auth/login", json={"username": "fund", "password": PASSWORD})
    assert old.status_code == 401
    await activate(client, "fund", code["code"], "Fresh-reset-passphrase-5")
    assert (
        await client.get("/api/v1/auth/me", headers=await login(client, "fund", "Fresh-reset-passphrase-5"))
    ).status_code == 200
    assert code["code"] not in repr(await audit_details(db))


async def test_login_failures_per_account_and_recent_count(
    client: Client, world: World, auth: Auth, db: Database
) -> None:
    admin = await auth("admin")
    now = utcnow()
    async with db.session() as session:
        session.add_all(
            [
                LoginFailure(
                    username="director3", address="10.0.0.1", reason="password", at=now - dt.timedelta(hours=1)
                ),
                LoginFailure(
                    username="director3", address="10.0.0.2", reason="password", at=now - dt.timedelta(hours=2)
                ),
                LoginFailure(
                    username="director3", address="10.0.0.3", reason="password", at=now - dt.timedelta(days=3)
                ),
                LoginFailure(username="director2", address="10.0.0.1", reason="password", at=now),
            ]
        )
    uid = world.users["director3"]
    r = await client.get(f"/api/v1/users/{uid}/login-failures", headers=admin)
    assert [f["address"] for f in r.json()["items"]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert (await client.get(f"/api/v1/users/{uid}", headers=admin)).json()["recent_failures"] == 2
    listed = (await client.get("/api/v1/users?role=child_director", headers=admin)).json()["items"]
    assert {u["username"]: u["recent_failures"] for u in listed} == {"director": 0, "director2": 1, "director3": 2}
    assert (await client.get(f"/api/v1/users/{uid}/login-failures", headers=await auth("director"))).status_code == 403


async def test_every_account_event_is_audited(client: Client, world: World, auth: Auth, db: Database) -> None:
    admin = await auth("admin")
    uid = (await client.post("/api/v1/users", json=person("audited", "auditor"), headers=admin)).json()["user"]["id"]
    await client.patch(f"/api/v1/users/{uid}", json={"display_name": "审计二"}, headers=admin)
    await client.post(f"/api/v1/users/{uid}/disable", headers=admin)
    await client.post(f"/api/v1/users/{uid}/enable", headers=admin)
    await client.post(f"/api/v1/users/{uid}/reset-password", headers=admin)
    rows = [(a, u) for a, e, i, u in await audit_actions(db, "user") if i == uid]
    assert rows == [
        ("user.create", "admin"),
        ("user.update", "admin"),
        ("user.disable", "admin"),
        ("user.enable", "admin"),
        ("user.reset_password", "admin"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "ab", "display_name": "x", "phone": "13512345678", "role": "auditor"},
        {"username": "ok.name", "display_name": "x", "phone": "12345", "role": "auditor"},
        {"username": "ok.name", "display_name": "", "phone": "13512345678", "role": "auditor"},
        {"username": "bad name", "display_name": "x", "phone": "13512345678", "role": "auditor"},
        {"username": "ok.name", "display_name": "x", "phone": "13512345678", "role": "auditor", "extra": 1},
        {"username": "ok.name", "display_name": "x", "phone": "13512345678", "role": "org_staff", "organization_id": 0},
        {
            "username": "ok.name",
            "display_name": "x",
            "phone": "13512345678",
            "role": "org_staff",
            "organization_id": 2**40,
        },
        {"username": "ok.name", "display_name": "x", "phone": "13512345678", "role": "\x00"},
        {"username": 5, "display_name": "x", "phone": "13512345678", "role": "auditor"},
        {"username": "ok.name", "display_name": "a\x00b", "phone": "13512345678", "role": "auditor"},
        [],
        "null",
    ],
)
async def test_bad_account_input_is_a_4xx(client: Client, world: World, auth: Auth, body: Any) -> None:
    admin = await auth("admin")
    r = await client.post("/api/v1/users", json=body, headers=admin)
    assert 400 <= r.status_code < 500, r.text


async def test_bad_paths_and_queries_are_4xx(client: Client, world: World, auth: Auth) -> None:
    admin = await auth("admin")
    for method, path in [
        ("GET", "/api/v1/users/0"),
        ("GET", f"/api/v1/users/{2**40}"),
        ("GET", "/api/v1/users/999999"),
        ("GET", "/api/v1/users?role=DROP%20TABLE"),
        ("GET", "/api/v1/users?active=maybe"),
        ("GET", "/api/v1/users?limit=0"),
        ("GET", "/api/v1/users?q=" + "x" * 200),
        ("POST", "/api/v1/users/999999/disable"),
        ("POST", f"/api/v1/users/{2**40}/reset-password"),
        ("GET", "/api/v1/users/999999/login-failures"),
        ("PATCH", "/api/v1/users/999999"),
    ]:
        r = await client.request(method, path, headers=admin, json={} if method == "PATCH" else None)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
    r = await client.patch(f"/api/v1/users/{world.users['fund']}", json={"street_id": "x"}, headers=admin)
    assert r.status_code == 400
