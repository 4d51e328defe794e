"""Every read and write of children's data leaves an audit row, refused attempts included.

The child-data operations are enumerated from the OpenAPI schema (every operation under a child-data path must be
classified in ``marketplace.audit.operations``); each read is called and must leave its row; the writes issue #17
found unaudited leave theirs in the work's transaction; an attempt refused with 403/404 leaves a ``refused`` row
although its work is rolled back.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.audit.operations import CHILD_DATA, NOT_CHILD_DATA
from marketplace.cases.models import Visit
from marketplace.db import Database
from tests.cases.support import Cases

CHILD_PATHS = re.compile(
    r"^/api/v1/(children|needs|visits|referrals|mandatory-reports|allowance-decisions|allowances|child-transfers|"
    r"escalations|matching|handovers|families|intakes|safety|guardianship|places)(/|$)"
)


def operations(app: Litestar) -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) of every operation in the app's OpenAPI schema."""
    schema = app.openapi_schema.to_schema()
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


def test_every_operation_on_child_data_paths_is_classified(app: Litestar) -> None:
    ops = operations(app)
    on_child_paths = {key for key, (_, path) in ops.items() if CHILD_PATHS.match(path)}
    unclassified = on_child_paths - CHILD_DATA.keys() - NOT_CHILD_DATA.keys()
    assert not unclassified, f"say whether these touch children's data: {sorted(unclassified)}"
    api_keys = {k for k in CHILD_DATA if not k.startswith("console-")}
    assert api_keys <= ops.keys(), sorted(api_keys - ops.keys())
    route_names = {h.name for route in app.routes for h in getattr(route, "route_handlers", []) if h.name}
    console_keys = {k for k in CHILD_DATA if k.startswith("console-")}
    assert console_keys <= route_names, sorted(console_keys - route_names)
    # The path parameter each entry names is the operation's own.
    for key, op in CHILD_DATA.items():
        if key in ops and op.param:
            assert "{" + op.param + "}" in ops[key][1], key


async def last_id(db: Database) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)


async def rows_since(db: Database, after: int) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id))).all())


def path_for(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


async def test_every_child_data_read_leaves_its_row(app: Litestar, client, auth, cases: Cases, db: Database) -> None:
    """Each GET that shows children's data, called as the district (whose scope is the district): its row is
    there when the response is, naming the record; a record that does not exist is a refused row."""
    ids = {"child_id": cases.children["A"], "need_id": cases.needs["A"], "referral_id": cases.referrals["A"]}
    ops = operations(app)
    reads = sorted(k for k in CHILD_DATA if k in ops and ops[k][0] == "GET")
    assert len(reads) >= 20
    for role in ("admin", "director", "supervisor"):
        h = await auth(role)
        for key in reads:
            _, template = ops[key]
            before = await last_id(db)
            r = await client.get(path_for(template, ids), headers=h)
            assert r.status_code < 500, (key, r.text)
            rows = await rows_since(db, before)
            assert rows, f"{role} {key} -> {r.status_code} left no audit row"
            assert all(row.username == role for row in rows)
            op = CHILD_DATA[key]
            if r.status_code == 200:
                assert not any(row.action == "refused" for row in rows), key
                if op.param in ids:
                    assert any(row.entity_id == ids[op.param] for row in rows), (key, [vars(x) for x in rows])
            else:
                assert r.status_code in (403, 404), (key, r.status_code)
                assert [(x.action, x.entity, x.detail["status"]) for x in rows] == [
                    ("refused", op.entity, r.status_code)
                ], key


async def test_the_reads_found_unaudited_name_record_and_fields(client, auth, cases: Cases, db: Database) -> None:
    h = await auth("director")
    need, referral = cases.needs["A"], cases.referrals["A"]
    for url, action, entity, entity_id, field in [
        (f"/api/v1/needs/{need}", "read", "need", need, "note"),
        ("/api/v1/needs", "list", "need", need, "note"),
        (f"/api/v1/referrals/{referral}/logs", "read", "referral", referral, "logs"),
    ]:
        before = await last_id(db)
        assert (await client.get(url, headers=h)).status_code == 200
        rows = await rows_since(db, before)
        assert [(x.action, x.entity, x.entity_id) for x in rows] == [(action, entity, entity_id)], url
        assert field in rows[0].fields and rows[0].detail.get("operation") is None  # the service's own row


async def test_the_writes_found_unaudited_leave_their_rows(client, auth, cases: Cases, db: Database) -> None:
    h = await auth("director")
    child, need = cases.children["A"], cases.needs["A"]
    before = await last_id(db)
    r = await client.post(
        f"/api/v1/children/{child}/visits",
        json={"visited_on": clock.today().isoformat(), "kind": "home", "findings": "家中整洁"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    rows = await rows_since(db, before)
    assert [(x.action, x.entity, x.entity_id) for x in rows] == [("create", "visit", r.json()["id"])]
    assert "findings" in rows[0].fields and rows[0].detail == {"child_id": child}
    assert "家中整洁" not in str(rows[0].detail)  # never the free text

    before = await last_id(db)
    r = await client.patch(f"/api/v1/needs/{need}", json={"urgency": 4, "note": "更紧急"}, headers=h)
    assert r.status_code == 200, r.text
    rows = await rows_since(db, before)
    assert [(x.action, x.entity, x.entity_id, sorted(x.fields)) for x in rows] == [
        ("update", "need", need, ["note", "urgency"])
    ]


async def test_a_refused_attempt_leaves_a_refused_row_and_changes_nothing(
    client, auth, cases: Cases, db: Database
) -> None:
    other_child, other_need = cases.children["C"], cases.needs["C"]  # director3's community, not director's
    h = await auth("director")
    attempts: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
        ("GET", f"/api/v1/needs/{other_need}", None, "need", other_need),
        ("PATCH", f"/api/v1/needs/{other_need}", {"urgency": 1}, "need", other_need),
        (
            "POST",
            f"/api/v1/children/{other_child}/visits",
            {"visited_on": clock.today().isoformat(), "kind": "home"},
            "visit",
            other_child,
        ),
        ("GET", f"/api/v1/children/{other_child}", None, "child", other_child),
        ("GET", f"/api/v1/referrals/{cases.referrals['C']}/logs", None, "referral", cases.referrals["C"]),
    ]
    for method, url, body, entity, entity_id in attempts:
        before = await last_id(db)
        r = await client.request(method, url, json=body, headers=h)
        assert r.status_code in (403, 404), (url, r.status_code)
        rows = await rows_since(db, before)
        assert [(x.action, x.entity, x.entity_id, x.username, x.role) for x in rows] == [
            ("refused", entity, entity_id, "director", "child_director")
        ], url
        assert rows[0].detail["status"] == r.status_code and rows[0].detail["method"] == method
    # A visible need the role may not change: 403, refused, and the need unchanged.
    before = await last_id(db)
    r = await client.patch(f"/api/v1/needs/{cases.needs['A']}", json={"urgency": 1}, headers=await auth("supervisor"))
    assert r.status_code == 403
    assert [(x.action, x.entity) for x in await rows_since(db, before)] == [("refused", "need")]
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Visit)) == 0
