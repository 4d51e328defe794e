"""The console's forms carry a one-time idempotency key: a double submit creates once and answers the second time
with the first time's redirect."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from sqlalchemy import create_engine, func, select, update

from marketplace import clock
from marketplace.idempotency import middleware as idempotency_http
from marketplace.idempotency.models import IdempotencyKey
from marketplace.resources.models import Service
from tests.admin.console import console_login, csrf_of
from tests.admin.test_org_console import NEW_SERVICE

KEY_RE = re.compile(
    r'name="_csrf_token" value="[^"]+"><input type="hidden" name="_idempotency_key" value="([0-9a-f]{32})">'
)


async def services(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(Service)) or 0)


async def test_every_form_has_its_own_key_and_a_double_submit_creates_once(client, world, db) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/services/new")
    keys = KEY_RE.findall(page.text)
    assert keys and len(set(keys)) == len(keys) == page.text.count('name="_csrf_token"')
    again = KEY_RE.findall((await client.get("/admin/services/new")).text)
    assert not set(again) & set(keys)  # made as the page renders
    form = {**NEW_SERVICE, "_csrf_token": csrf_of(page.text), "_idempotency_key": keys[0]}
    before = await services(db)
    first = await client.post("/admin/services/new", data=form, follow_redirects=False)
    assert first.status_code == 303, first.text
    second = await client.post("/admin/services/new", data=form, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert await services(db) == before + 1
    async with db.session(write=False) as s:
        row = (await s.scalars(select(IdempotencyKey))).one()
    assert row.owner == f"user:{world.users['org']}" and row.status_code == 303


async def test_a_refused_form_keeps_no_key_and_the_corrected_one_goes_through(client, world, db) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/services/new")
    key = KEY_RE.findall(page.text)[0]
    form = {**NEW_SERVICE, "_csrf_token": csrf_of(page.text), "_idempotency_key": key}
    before = await services(db)
    r = await client.post("/admin/services/new", data={**form, "capacity_per_month": "八"})
    assert r.status_code == 422 and "每月名额：请填写非负整数" in r.text
    r = await client.post("/admin/services/new", data=form, follow_redirects=False)
    assert r.status_code == 303 and "idempotent-replayed" not in r.headers
    assert await services(db) == before + 1


async def test_the_same_key_with_other_values_is_refused_in_chinese(client, world, db) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/services/new")
    key = KEY_RE.findall(page.text)[0]
    form = {**NEW_SERVICE, "_csrf_token": csrf_of(page.text), "_idempotency_key": key}
    assert (await client.post("/admin/services/new", data=form, follow_redirects=False)).status_code == 303
    before = await services(db)
    r = await client.post("/admin/services/new", data={**form, "title": "另一个项目"}, follow_redirects=False)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"] and "该表单已提交过" in r.text
    assert await services(db) == before


async def test_a_second_submit_waits_for_the_first_and_shows_its_result(client, world, db, monkeypatch) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/services/new")
    key = KEY_RE.findall(page.text)[0]
    form = {**NEW_SERVICE, "_csrf_token": csrf_of(page.text), "_idempotency_key": key}
    first = await client.post("/admin/services/new", data=form, follow_redirects=False)
    assert first.status_code == 303
    before = await services(db)
    # As if the first submit were still running: its row claimed, no answer yet.
    async with db.session() as s:
        await s.execute(update(IdempotencyKey).values(status_code=None, claimed_at=clock.now()))

    def first_finishes() -> None:  # on its own thread: the test client holds this loop while it posts
        time.sleep(0.6)
        engine = create_engine(db.settings.sync_database_url)
        with engine.begin() as conn:
            conn.execute(update(IdempotencyKey).values(status_code=303))
        engine.dispose()

    finisher = threading.Thread(target=first_finishes)
    finisher.start()
    second = await client.post("/admin/services/new", data=form, follow_redirects=False)
    finisher.join()
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true" and await services(db) == before

    # A first submit that never answers: after the wait, the page says so in Chinese (409), nothing created.
    monkeypatch.setattr(idempotency_http, "CONSOLE_WAIT_SECONDS", 0.5)
    async with db.session() as s:
        await s.execute(update(IdempotencyKey).values(status_code=None, claimed_at=clock.now()))
    r = await client.post("/admin/services/new", data=form, follow_redirects=False)
    assert r.status_code == 409 and "上一次提交仍在处理中" in r.text and await services(db) == before
