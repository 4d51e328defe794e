"""Every answer carries the request's id: echoed in ``X-Request-ID``, in problem bodies, in the access log line and
on the outbox events the request emits."""

from __future__ import annotations

import logging
import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace.db import Database
from marketplace.outbox import OutboxEvent
from tests.conftest import Auth, assert_problem
from tests.support import figures
from tests.support.world import World

HEX32 = re.compile(r"[0-9a-f]{32}")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "marketplace.access"]


async def test_a_sane_id_is_echoed_and_an_insane_one_replaced(client: AsyncTestClient[Litestar]) -> None:
    tried = refused_ok = 0
    r = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc123"
    for bad in ("x" * 129, "has space", "a/b", "abc;rm", "%41"):
        tried += 1
        r = await client.get("/health", headers={"X-Request-ID": bad})
        assert r.status_code == 200
        assert HEX32.fullmatch(r.headers["x-request-id"]), (bad, r.headers["x-request-id"])
        refused_ok += 1
    made = {(await client.get("/health")).headers["x-request-id"] for _ in range(5)}
    assert len(made) == 5 and all(HEX32.fullmatch(m) for m in made)
    figures.record("observability", "insane request ids sent", tried)
    figures.record("observability", "insane request ids replaced", refused_ok)


async def test_problems_carry_the_request_id(client: AsyncTestClient[Litestar], auth: Auth) -> None:
    headers = {"X-Request-ID": "req-404"}
    body = assert_problem(await client.get("/api/v1/no-such-route", headers=headers), 404)
    assert body["request_id"] == "req-404"
    body = assert_problem(await client.get("/api/v1/children", headers={"X-Request-ID": "req-401"}), 401)
    assert body["request_id"] == "req-401"
    r = await client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": 5}, headers={"X-Request-ID": "req-400"}
    )
    assert r.status_code in (400, 422) and r.json()["request_id"] == "req-400" == r.headers["x-request-id"]


async def test_console_pages_echo_it_too(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/admin/login", headers={"X-Request-ID": "console-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "console-1"
    r = await client.get("/admin/no-such-page", headers={"X-Request-ID": "console-2"})
    assert r.headers["x-request-id"] == "console-2"


async def test_one_access_line_per_request_with_route_template_status_and_principal(
    client: AsyncTestClient[Litestar], auth: Auth, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await auth("director")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="marketplace.access"):
        r = await client.get("/api/v1/children?q=张三&page=1", headers={**headers, "X-Request-ID": "list-1"})
        assert r.status_code == 200, r.text
        await client.get("/api/v1/children/987654", headers={**headers, "X-Request-ID": "one-1"})
        await client.get("/nowhere/secret-name?phone=13800000000", headers={"X-Request-ID": "lost-1"})
    lines = access_lines(caplog)
    assert len(lines) == 3
    listing, one, lost = lines
    assert (listing.method, listing.route, listing.status) == ("GET", "/api/v1/children", 200)
    assert listing.principal_id == world.users["director"]
    assert listing.bytes == len(r.content) and listing.duration_ms >= 0
    assert (one.route, one.status) == ("/api/v1/children/{child_id}", 404)
    assert (lost.route, lost.status, lost.principal_id) == ("<unmatched>", 404, None)
    for record in lines:  # no query strings, no names, no numbers from the URL
        text = record.getMessage() + " " + str(record.route)
        assert "张三" not in text and "13800000000" not in text and "secret-name" not in text


async def test_an_event_stores_the_id_of_the_request_that_emitted_it(
    client: AsyncTestClient[Litestar], auth: Auth, world: World, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**(await auth("org")), "X-Request-ID": "pause-42"}
    with caplog.at_level(logging.INFO, logger="marketplace.outbox"):
        r = await client.post(f"/api/v1/services/{world.services[0]}/pause", headers=headers)
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        events = (await s.scalars(select(OutboxEvent))).all()
    assert events and {e.request_id for e in events} == {"pause-42"}
    assert all(e.processed_at is not None for e in events)  # eager: handled in process, under the same id
    handled = [r for r in caplog.records if r.name == "marketplace.outbox" and "handled" in r.getMessage()]
    assert handled and all(getattr(r, "topic", None) for r in handled)
