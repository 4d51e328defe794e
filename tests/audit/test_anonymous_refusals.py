"""A child-data operation refused with 401 (no token, a malformed, foreign-signed or expired one) leaves a
``refused`` row without an actor, like a 403/404 leaves one with its caller (issue #17); an operation that is not
about children leaves none; the audit chain stays intact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.db import Database
from tests.audit.tamper import verify
from tests.cases.support import Cases
from tests.support import figures

SUITE = "audit: refused attempts"


async def _last(db: Database) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)


async def _since(db: Database, after: int) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id))).all())


async def test_a_tokenless_or_bad_token_attempt_on_child_data_leaves_an_anonymous_refused_row(
    client, cases: Cases, db: Database
) -> None:
    child, need = cases.children["A"], cases.needs["A"]
    tokens: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic ZGlyZWN0b3I6eA=="},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwMTIzNDU2Nzg5MCJ9.c2lnbmF0dXJl"},
    ]
    attempts: list[tuple[str, str, dict[str, Any] | None, str, int | None]] = [
        ("GET", f"/api/v1/children/{child}", None, "child", child),
        ("GET", "/api/v1/children", None, "child", None),
        ("GET", f"/api/v1/needs/{need}", None, "need", need),
        ("PATCH", f"/api/v1/needs/{need}", {"urgency": 1}, "need", need),
        (
            "POST",
            f"/api/v1/children/{child}/visits",
            {"visited_on": clock.today().isoformat(), "kind": "home"},
            "visit",
            child,
        ),
        ("GET", f"/api/v1/referrals/{cases.referrals['A']}/logs", None, "referral", cases.referrals["A"]),
    ]
    tried = 0
    for headers in tokens:
        for method, url, body, entity, entity_id in attempts:
            before = await _last(db)
            r = await client.request(method, url, json=body, headers=headers)
            tried += 1
            assert r.status_code == 401, (url, headers, r.status_code)
            rows = await _since(db, before)
            assert [(x.action, x.entity, x.entity_id, x.user_id, x.username, x.role) for x in rows] == [
                ("refused", entity, entity_id, None, "anonymous", "anonymous")
            ], (url, headers)
            assert rows[0].detail == {"operation": rows[0].detail["operation"], "method": method, "status": 401}
    figures.record(SUITE, "anonymous attempts on child data (401)", tried)
    figures.record(SUITE, "anonymous attempts without a refused row", 0)
    outcome = await verify(db)
    assert outcome.ok, outcome.lines()


async def test_other_operations_refused_with_401_leave_no_row(client, db: Database) -> None:
    before = await _last(db)
    for url in ("/api/v1/services/1", "/api/v1/auth/me", "/api/v1/budgets"):
        r = await client.get(url)
        assert r.status_code == 401, url
    assert await _since(db, before) == []


async def test_an_id_past_the_integer_range_is_refused_without_naming_a_record(client, db: Database) -> None:
    before = await _last(db)
    r = await client.get(f"/api/v1/children/{2**40}")
    assert r.status_code in (400, 401, 404, 422), r.status_code
    rows = await _since(db, before)
    assert all(x.entity_id is None for x in rows)
