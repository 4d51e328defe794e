"""The audit log's hash chain and `marketplace verify`: untouched it passes; a row deleted with the triggers switched
off (as the table's owner could), a field edited, or a forged row inserted makes it fail naming the row."""

from __future__ import annotations

from sqlalchemy import select, text

from marketplace.audit import chain, service
from marketplace.audit.models import AUDIT_CHAIN, AuditEntry, ChainVerification
from marketplace.db import Database
from tests.audit.tamper import owner, verify
from tests.cases.support import Cases


async def audit_rows(db: Database) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def read_children(client, auth, cases: Cases, times: int = 3) -> None:
    for _ in range(times):
        for child in cases.children.values():
            assert (await client.get(f"/api/v1/children/{child}", headers=await auth("admin"))).status_code == 200


async def test_rows_are_chained_as_written_by_the_writer_and_by_write_transactions(db, client, auth, cases) -> None:
    await read_children(client, auth, cases)  # group-committed reads
    async with db.session() as s:  # a write transaction's own rows
        await service.record_many(s, None, "update", "child", [1, 2, 3], ["name"])
    rows = await audit_rows(db)
    assert len(rows) > 5
    prev = chain.GENESIS
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == chain.digest(AUDIT_CHAIN, vars(row), prev)
        prev = row.hash
    outcome = await verify(db)
    assert outcome.ok, outcome.lines()
    assert outcome.record.rows_checked >= len(rows)


async def test_a_row_deleted_with_the_triggers_off_is_named(db, client, auth, cases) -> None:
    await read_children(client, auth, cases)
    rows = await audit_rows(db)
    victim, after = rows[len(rows) // 2], rows[len(rows) // 2 + 1]
    async with owner(db) as s:
        await s.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": victim.id})
    outcome = await verify(db)
    assert not outcome.ok
    assert outcome.record.broken == {
        "table": "audit_log",
        "id": after.id,
        "problem": "prev_hash",
        "expected": rows[len(rows) // 2 - 1].hash,
        "found": victim.hash,
    }
    assert f"audit_log #{after.id}" in " ".join(outcome.lines())


async def test_an_edited_field_is_named(db, client, auth, cases) -> None:
    await read_children(client, auth, cases)
    rows = await audit_rows(db)
    victim = rows[2]
    async with owner(db) as s:
        await s.execute(text("UPDATE audit_log SET username = 'nobody' WHERE id = :id"), {"id": victim.id})
    broken = (await verify(db)).record.broken
    assert broken is not None
    assert (broken["table"], broken["id"], broken["problem"], broken["found"]) == (
        "audit_log",
        victim.id,
        "hash",
        victim.hash,
    )
    assert broken["expected"] != victim.hash


async def test_a_forged_row_is_named(db, client, auth, cases) -> None:
    await read_children(client, auth, cases, times=1)
    last = (await audit_rows(db))[-1]
    async with db.session() as s:  # no trigger stops an INSERT: a forger writes a plausible row by hand
        await s.execute(
            text(
                "INSERT INTO audit_log (at, user_id, username, role, action, entity, entity_id, fields, detail, "
                "prev_hash, hash) VALUES (:at, NULL, 'director', 'director', 'read', 'child', 1, '[]', '{}', :prev, "
                ":hash)"
            ),
            {"at": last.at.replace(tzinfo=None), "prev": last.hash, "hash": "f" * 64},
        )
    broken = (await verify(db)).record.broken
    assert broken is not None and broken["table"] == "audit_log" and broken["problem"] == "hash"
    assert broken["id"] == last.id + 1


async def test_a_tail_cut_after_a_verification_is_found_by_the_anchor(db, client, auth, cases) -> None:
    await read_children(client, auth, cases)
    assert (await verify(db)).ok
    last = (await audit_rows(db))[-1]
    async with owner(db) as s:
        await s.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": last.id})
    broken = (await verify(db)).record.broken
    assert broken == {
        "table": "audit_log",
        "id": last.id,
        "problem": "anchor",
        "expected": last.hash,
        "found": "(missing)",
    }


async def test_untouched_chains_pass_and_each_run_is_recorded(db, client, auth, cases) -> None:
    await read_children(client, auth, cases, times=1)
    first, second = await verify(db), await verify(db)
    assert first.ok and second.ok
    async with db.session(write=False) as s:
        runs = list((await s.scalars(select(ChainVerification).order_by(ChainVerification.id))).all())
    assert [r.ok for r in runs] == [True, True]
    assert {c["table"] for c in runs[-1].chains} == {"audit_log", "journal_entries", "ledger_postings"}
