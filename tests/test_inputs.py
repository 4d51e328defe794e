"""Inputs that once gave a 500 answer a 4xx problem (issue #17): NUL characters anywhere a value reaches the
database, JSON nested 1,000 deep, a token naming a 20-digit account, and JSON bodies decoded strictly (a money
amount sent as the string ``"100"`` is refused, not coerced)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace import clock
from marketplace.auth.service import ALGORITHM
from marketplace.settings import Settings
from tests.admin.console import console_login, csrf_of
from tests.conftest import Auth, assert_problem
from tests.support.world import PASSWORD

LOGIN = "/api/v1/auth/login"


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, [r.getMessage() for r in logged]


async def test_nul_in_a_json_string_without_login(client: AsyncTestClient[Litestar], caplog: Any) -> None:
    body = assert_problem(await client.post(LOGIN, json={"username": "adm\u0000in", "password": PASSWORD}), 422)
    assert "NUL" in body["detail"] and "空字符" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["username"]
    # in a key, nested, or in a password
    body = assert_problem(await client.post(LOGIN, json={"username": "admin", "password": "x\u0000"}), 422)
    assert [e["field"] for e in body["errors"]] == ["password"]
    body = assert_problem(await client.post(LOGIN, json={"username": "admin", "password": PASSWORD, "a\u0000": 1}), 422)
    assert [e["field"] for e in body["errors"]] == ["a\\u0000"]
    body = assert_problem(
        await client.post(LOGIN, json={"username": "admin", "password": [{"x": ["", "\u0000"]}]}), 422
    )
    assert [e["field"] for e in body["errors"]] == ["password[0].x[1]"]
    # an escaped backslash followed by "u0000" is text, not a NUL: an ordinary failed sign-in
    assert_problem(await client.post(LOGIN, json={"username": "adm\\u0000in", "password": "nope"}), 401)
    _no_traceback(caplog)


async def test_nul_in_a_signed_in_write(client: AsyncTestClient[Litestar], auth: Auth, world: Any) -> None:
    headers = await auth("admin")
    r = await client.post(
        "/api/v1/auth/password", json={"current_password": "a\u0000", "new_password": "b"}, headers=headers
    )
    assert_problem(r, 422)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/services?q=%E5%84%BF%00",
        "/api/v1/services?q=a+%00+b",
        "/api/v1/services?q=a%00",
        "/api/v1/organizations?q=%00",
    ],
)
async def test_nul_in_a_query(client: AsyncTestClient[Litestar], auth: Auth, url: str) -> None:
    body = assert_problem(await client.get(url, headers=await auth("admin")), 400)
    assert "空字符" in body["detail"]


async def test_nul_in_a_path_or_a_header(client: AsyncTestClient[Litestar], auth: Auth) -> None:
    headers = await auth("admin")
    r = await client.get("/api/v1/services/1%00", headers=headers)
    assert 400 <= r.status_code < 500
    r = await client.get("/api/v1/services", headers={**headers, "X-Note": "a\x00b"})
    assert_problem(r, 400)
    # the console's session cookie is looked up in the session store
    r = await client.get("/admin/", headers={"Cookie": "session=abc%00def"}, follow_redirects=False)
    assert r.status_code == 400


async def test_nul_in_a_console_form(client: AsyncTestClient[Litestar], world: Any) -> None:
    page = await client.get("/admin/login")
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": "adm\x00in", "password": PASSWORD, "next": "/admin/"},
        follow_redirects=False,
    )
    assert r.status_code == 422, r.text
    assert "空字符" in r.text
    # the same browser still signs in
    await console_login(client, "admin", clear=False)


async def test_deeply_nested_json(client: AsyncTestClient[Litestar], auth: Auth, caplog: Any) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    json_header = {"Content-Type": "application/json"}
    body = assert_problem(await client.post(LOGIN, content=deep, headers=json_header), 400)
    assert "嵌套" in body["detail"]
    deep_object = b'{"a":' * 1000 + b"1" + b"}" * 1000
    r = await client.post("/api/v1/funds", content=deep_object, headers={**json_header, **await auth("fund")})
    assert_problem(r, 400)
    _no_traceback(caplog)


@pytest.mark.parametrize("sub", ["12345678901234567890", "-1", "0", str(2**31)])
async def test_token_naming_an_impossible_account(
    client: AsyncTestClient[Litestar], settings: Settings, caplog: Any, sub: str
) -> None:
    now = clock.timestamp()
    token = jwt.encode({"sub": sub, "ver": 0, "exp": now + 600, "iat": now}, settings.secret_key, algorithm=ALGORITHM)
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401)
    _no_traceback(caplog)


def _offline_gift(fund_id: Any, amount: Any) -> dict[str, Any]:
    return {
        "fund_id": fund_id,
        "amount_fen": amount,
        "channel": "bank_transfer",
        "reference": "STRICT-1",
        "received_on": dt.date(2026, 1, 10).isoformat(),
        "donor": {"name": "某单位", "kind": "enterprise"},
    }


async def _fund(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> int:
    r = await client.post(
        "/api/v1/funds",
        json={"code": "strict_fund", "name": "严格解析基金", "kind": "other"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(
    ("fund_id", "amount", "field"),
    [(None, "100", "amount_fen"), (None, 100.0, "amount_fen"), ("1", 100, "fund_id"), (None, True, "amount_fen")],
)
async def test_json_bodies_decode_strictly(
    client: AsyncTestClient[Litestar], auth: Auth, fund_id: Any, amount: Any, field: str
) -> None:
    fm = await auth("fund")
    fund = await _fund(client, fm)
    r = await client.post("/api/v1/donations/offline", json=_offline_gift(fund_id or fund, amount), headers=fm)
    body = assert_problem(r, 400)
    assert any(e["field"] == field for e in body["errors"]), body
    assert "校验失败" in body["detail"]
    # nothing was recorded; the same gift with an integer amount is
    assert (await client.get(f"/api/v1/funds/{fund}", headers=fm)).json()["balance_fen"] == 0
    ok = await client.post("/api/v1/donations/offline", json=_offline_gift(fund, 100), headers=fm)
    assert ok.status_code == 201, ok.text
