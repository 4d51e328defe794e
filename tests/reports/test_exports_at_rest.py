"""Children's data at rest outside the case files (issue #17): report exports' files are kept encrypted with the
field key ring and deleted after the retention period; special-run reasons are encrypted like the payee's name;
``rotate-field-key`` moves both; migration 0023 encrypts what was stored before it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text

from marketplace import clock, migrate
from marketplace.cases import rotation
from marketplace.cases.crypto import field_cipher
from marketplace.db import Database
from marketplace.keyfiles import FieldKey
from marketplace.reports import jobs
from marketplace.settings import Settings
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import YEAR
from tests.procurement.helpers import line_id
from tests.procurement.test_allowance_festival import _setup

K2 = FieldKey("k2", "a2V5LXR3by1mb3ItdGhlLXJvdGF0aW9uLXRlc3QtMDE=")
REASON = "住院医疗自付部分，母亲重病无力承担"


def _raw(settings: Settings, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as c:
            return list(c.execute(text(sql), params).all())
    finally:
        engine.dispose()


async def _export(client: Any, h: dict[str, str]) -> dict[str, Any]:
    r = await client.post("/api/v1/reports/exports", json={"kind": "coverage_all", "format": "csv"}, headers=h)
    assert r.status_code == 202, r.text
    status: dict[str, Any] = (await client.get(f"/api/v1/reports/exports/{r.json()['id']}", headers=h)).json()
    assert status["status"] == "done", status
    return status


async def _special_runs(
    client: Any, auth: Auth, db: Any, world: Any, settings: Any, *, background: tuple[bool, ...] = (False,)
) -> list[int]:
    """Special runs (at once, or prepared in the background) paying the first child with ``REASON``."""
    officer = await auth("procurement")
    budget, ids = await _setup(client, auth, db, world, settings)
    async with db.session() as s:  # the helper's children carry a placeholder number: a real one, for rotation
        cipher = field_cipher(settings)
        for n, child_id in enumerate(ids):
            number = cipher.encrypt(f"4403042015050100{n:02d}", "children.id_number")
            await s.execute(text("UPDATE children SET id_number_enc = :n WHERE id = :i"), {"n": number, "i": child_id})
    runs = []
    for n, queued in enumerate(background):
        body = {
            "kind": "special",
            "title": f"{YEAR}年3月临时救助{n}",
            "pay_date": f"{YEAR}-03-05",
            "line_id": line_id(budget, "living_allowance"),
            "payees": [{"child_id": ids[0], "amount_fen": 120_000, "reason": REASON}],
        }
        path = "/api/v1/allowances/runs/prepare" if queued else "/api/v1/allowances/runs"
        r = await client.post(path, json=body, headers=officer)
        assert r.status_code in (201, 202), r.text
        run_id: int = r.json()["id"]
        detail = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=officer)).json()
        assert detail["status"] == "prepared" and [p["reason"] for p in detail["payments"]] == [REASON]
        runs.append(run_id)
    return runs


async def test_an_exports_file_is_stored_encrypted_and_served_in_clear(
    client: Any, auth: Auth, db: Any, settings: Settings, world: Any
) -> None:
    h = await auth("admin")
    status = await _export(client, h)
    served = (await client.get(status["download_url"], headers=h)).content.decode("utf-8-sig")
    assert "福田街道" in served
    ((sealed,),) = _raw(settings, "SELECT content_sealed FROM export_jobs WHERE id = :i", i=status["id"])
    assert sealed.startswith("v2:") and "福田" not in sealed


async def test_an_export_past_its_retention_is_deleted_by_the_job(
    client: Any, auth: Auth, db: Database, settings: Settings, world: Any
) -> None:
    h = await auth("admin")
    old, fresh = await _export(client, h), await _export(client, h)
    async with db.session() as s:
        await s.execute(
            text("UPDATE export_jobs SET finished_at = :t WHERE id = :i"),
            {"t": clock.now() - dt.timedelta(hours=settings.export_retention_hours + 1), "i": old["id"]},
        )
    expired = await jobs.expire_exports_job(db)
    assert expired == [old["id"]]
    rows = dict(
        (i, (st, c)) for i, st, c in _raw(settings, "SELECT id, status, content_sealed FROM export_jobs ORDER BY id")
    )
    assert rows[old["id"]] == ("expired", None)
    assert rows[fresh["id"]][0] == "done" and rows[fresh["id"]][1]
    gone = await client.get(old["download_url"], headers=h)
    assert_problem(gone, 409)
    assert "保留期" in gone.text
    listed = (await client.get(f"/api/v1/reports/exports/{old['id']}", headers=h)).json()
    assert listed["status"] == "expired"
    assert (await client.get(fresh["download_url"], headers=h)).status_code == 200
    assert await jobs.expire_exports_job(db) == []  # once


async def test_a_special_runs_reasons_are_encrypted_in_the_payments_and_the_queued_run(
    client: Any, auth: Auth, db: Any, world: Any, settings: Settings
) -> None:
    for run_id in await _special_runs(client, auth, db, world, settings, background=(False, True)):
        ((reason,),) = _raw(settings, "SELECT reason FROM allowance_payments WHERE run_id = :i", i=run_id)
        assert reason.startswith("v2:") and "住院" not in reason
        ((params,),) = _raw(settings, "SELECT params FROM allowance_runs WHERE id = :i", i=run_id)
        assert "住院" not in str(params) and "\\u4f4f\\u9662" not in str(params)


async def test_rotation_moves_export_files_and_reasons(
    client: Any, auth: Auth, db: Database, world: Any, settings: Settings
) -> None:
    await _special_runs(client, auth, db, world, settings)
    h = await auth("admin")
    status = await _export(client, h)
    new = dataclasses.replace(settings, field_key=K2.secret, field_key_id=K2.id, old_field_keys=settings.field_key_ring)
    report = await rotation.rotate(db, field_cipher(new), batch_size=2)
    assert report.done and report.texts_unreadable == []
    assert {"allowance_payments.reason", "export_jobs.content_sealed"} <= set(report.fields)
    ((sealed,),) = _raw(settings, "SELECT content_sealed FROM export_jobs WHERE id = :i", i=status["id"])
    (reasons,) = _raw(settings, "SELECT reason FROM allowance_payments WHERE reason <> ''")
    assert sealed.startswith("v2:k2:") and reasons[0].startswith("v2:k2:")


async def test_0023_encrypts_what_was_stored_before_it_and_its_downgrade_gives_it_back(
    client: Any, auth: Auth, db: Database, world: Any, settings: Settings
) -> None:
    (run_id,) = await _special_runs(client, auth, db, world, settings)
    h = await auth("admin")
    status = await _export(client, h)
    served = (await client.get(status["download_url"], headers=h)).content
    await db.dispose()
    config = migrate.alembic_config(settings)
    command.downgrade(config, "0023@-1")
    ((reason,),) = _raw(settings, "SELECT reason FROM allowance_payments WHERE run_id = :i", i=run_id)
    ((content,),) = _raw(settings, "SELECT content FROM export_jobs WHERE id = :i", i=status["id"])
    assert reason == REASON and bytes(content) == served
    command.upgrade(config, "heads")
    ((reason,),) = _raw(settings, "SELECT reason FROM allowance_payments WHERE run_id = :i", i=run_id)
    ((sealed,),) = _raw(settings, "SELECT content_sealed FROM export_jobs WHERE id = :i", i=status["id"])
    assert reason.startswith("v2:") and sealed.startswith("v2:")
    assert (await client.get(status["download_url"], headers=h)).content == served
    detail = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("procurement"))).json()
    assert [p["reason"] for p in detail["payments"]] == [REASON]
