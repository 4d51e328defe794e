"""The retention rule's edges: when a file falls due, what waits, the command line, the console, the JSON scrubbing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases import retention
from marketplace.cases.models import Child
from marketplace.db import Base
from marketplace.features import load_models
from marketplace.procurement.allowance_models import AllowancePayment
from tests.admin.console import console_login
from tests.cases.support import TokenAuth, add_child
from tests.procurement.allowance_helpers import grant
from tests.procurement.helpers import make_budget
from tests.test_cli import cli_env, run

__all__ = ["cli_env"]

T0 = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)


async def _closed(db, settings, world, closed_at: dt.datetime | None, *, seq: str, name: str = "赵小北") -> int:
    """A file in the first community, closed at ``closed_at`` (None: still active)."""
    async with db.session() as s:
        child = await add_child(s, settings, world.communities[0], world.streets[0], name=name, seq=seq)
        if closed_at is not None:
            child.status, child.closed_at = "closed", closed_at
        return child.id


def test_whole_years_and_the_leap_day() -> None:
    leap = dt.datetime(2024, 2, 29, 10, 0, tzinfo=dt.UTC)
    assert retention.add_years(leap, 5) == dt.datetime(2029, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert retention.add_years(leap, 4) == dt.datetime(2028, 2, 29, 10, 0, tzinfo=dt.UTC)
    assert retention.add_years(dt.datetime(2028, 2, 29, 10, 0, tzinfo=dt.UTC), -5) == dt.datetime(
        2023, 2, 28, 10, 0, tzinfo=dt.UTC
    )


def test_scrub_drops_records_about_the_file_and_lists_lose_its_ids() -> None:
    related = retention.Related()
    related.of("child").add(7)
    related.of("need").add(70)
    related.of("referral")
    assert retention.scrub({"child_id": 7, "x": 1}, related)[0] is retention.DROP
    assert retention.scrub({"child_id": 8, "need_id": 70}, related)[0] is retention.DROP
    digest, changed = retention.scrub({"child_ids": [5, 7, 9], "count": 3, "community_id": 7}, related)
    assert changed and digest == {"child_ids": [5, 9], "count": 3, "community_id": 7}
    runs, changed = retention.scrub([{"need_id": 70, "score": 1}, {"need_id": 71, "score": 2}], related)
    assert changed and runs == [{"need_id": 71, "score": 2}]
    # Another child's ids, or the same number under another kind of key, are left alone.
    assert retention.scrub({"child_id": 70, "referral_id": 7, "report": "7"}, related) == (
        {"child_id": 70, "referral_id": 7, "report": "7"},
        False,
    )


async def test_closing_stamps_the_instant_and_reopening_clears_it(
    client, auth, db, world, settings, frozen_clock
) -> None:
    frozen_clock(T0)
    cid = await _closed(db, settings, world, None, seq="981")
    director = await auth("director")
    r = await client.patch(f"/api/v1/children/{cid}", json={"status": "closed"}, headers=director)
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        assert (await s.get(Child, cid)).closed_at == T0  # type: ignore[union-attr]
    # Closing again (another field with it) keeps the first closing.
    frozen_clock(T0 + dt.timedelta(days=3))
    director = await TokenAuth(db, settings)("director")  # a token of the day
    r = await client.patch(f"/api/v1/children/{cid}", json={"status": "closed", "school": "某校"}, headers=director)
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        assert (await s.get(Child, cid)).closed_at == T0  # type: ignore[union-attr]
    r = await client.patch(f"/api/v1/children/{cid}", json={"status": "active"}, headers=director)
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        assert (await s.get(Child, cid)).closed_at is None  # type: ignore[union-attr]
    # A reopened file is never due, however old its first closing.
    frozen_clock(T0 + dt.timedelta(days=365 * 20))
    async with db.session(write=False) as s:
        assert await retention.due_files(s, settings) == []


async def test_a_file_in_an_unpaid_allowance_run_waits_for_it(client, auth, db, world, settings, frozen_clock) -> None:
    frozen_clock(T0)
    await make_budget(client, await auth("procurement"), year=2026)
    cid = await _closed(db, settings, world, None, seq="982")
    await grant(db, settings, [cid], month="2026-03")
    run = await client.post("/api/v1/allowances/runs", json={"month": "2026-03"}, headers=await auth("procurement"))
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    async with db.session() as s:
        child = await s.get(Child, cid)
        assert child is not None
        child.status = "closed"
    frozen_clock(T0 + dt.timedelta(days=365 * 5 + 2))
    report = await retention.purge_expired(db)
    assert (report.held, report.purged) == ([cid], [])
    async with db.session(write=False) as s:
        assert await s.get(Child, cid) is not None
        payment = (
            await s.scalars(
                select(AllowancePayment).where(
                    AllowancePayment.run_id == run_id, AllowancePayment.person_key == f"child:{cid}"
                )
            )
        ).one()
        assert payment.person_key == f"child:{cid}"
    # The run withdrawn, the file goes and the withdrawn list keeps its amount without the child.
    withdrawn = await client.post(
        f"/api/v1/allowances/runs/{run_id}/withdraw",
        json={"reason": "名册有误"},
        headers=await TokenAuth(db, settings)("procurement"),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    report = await retention.purge_expired(db)
    assert [o.child_id for o in report.purged] == [cid] and report.held == []
    async with db.session(write=False) as s:
        kept = await s.get(AllowancePayment, payment.id)
        assert kept is not None
        assert (kept.person_key, kept.person_name, kept.amount_fen) == (
            f"purged:{kept.id}",
            retention.TOMBSTONE,
            payment.amount_fen,
        )


async def test_the_command_lists_then_deletes_only_what_is_due(db, world, settings, frozen_clock, cli_env) -> None:
    frozen_clock(T0)
    due = await _closed(db, settings, world, T0 - dt.timedelta(days=365 * 5 + 3), seq="983", name="钱多多")
    later = await _closed(db, settings, world, T0 - dt.timedelta(days=365 * 4), seq="984")
    active = await _closed(db, settings, world, None, seq="985")
    result = await asyncio.to_thread(run, ["purge-expired", "--dry-run"], cli_env)
    assert result.exit_code == 0, result.output
    assert f"child {due} " in result.output and "would go" in result.output
    assert f"child {later} " not in result.output and f"child {active} " not in result.output
    assert "1 files would be deleted, 0 wait (dry run: nothing changed)" in result.output
    assert "钱多多" not in result.output
    async with db.session(write=False) as s:
        assert await s.get(Child, due) is not None
    result = await asyncio.to_thread(run, ["purge-expired"], cli_env)
    assert result.exit_code == 0, result.output
    assert "1 files deleted, 0 wait" in result.output and "钱多多" not in result.output
    async with db.session(write=False) as s:
        assert await s.get(Child, due) is None
        assert {c.id for c in (await s.scalars(select(Child))).all()} == {later, active}
        assert await s.scalar(select(func.count()).where(AuditEntry.action == "purged")) == 1


async def test_the_district_sees_what_falls_due_and_when(client, db, world, settings, frozen_clock) -> None:
    frozen_clock(T0)
    await _closed(db, settings, world, T0 - dt.timedelta(days=365 * 5 + 40), seq="986")
    await _closed(db, settings, world, T0 - dt.timedelta(days=365 * 5 - 20), seq="987")
    await _closed(db, settings, world, T0 - dt.timedelta(days=365 * 5 - 20), seq="988")
    await _closed(db, settings, world, T0 - dt.timedelta(days=365), seq="989")
    async with db.session(write=False) as s:
        view = await retention.overview(s, settings)
    soon = clock.local_date(T0 + dt.timedelta(days=20)).strftime("%Y-%m")
    assert dataclasses.astuple(view)[:3] == (5, 4, 1)
    assert view.upcoming == [(soon, 2)] and view.last_purge_at is None
    await console_login(client, "admin")
    page = await client.get("/admin/children")
    assert page.status_code == 200, page.text
    assert "档案保存期限" in page.text and "结案满 <strong>5</strong> 年" in page.text
    assert "<dd>1 份" in page.text and f"<td>{soon}</td><td>2</td>" in page.text
    await console_login(client, "director")
    page = await client.get("/admin/children")
    assert page.status_code == 200 and "档案保存期限" not in page.text


def test_no_search_index_holds_children() -> None:
    """Every index, embedded or Meilisearch, is filled by ``marketplace.indexing.sync`` from these builders only:
    services and organizations; no child's file ever reaches a search backend, so the purge has nothing to remove
    there (the end-to-end test also searches the embedded index's files)."""
    from marketplace.indexing.documents import BUILDERS

    assert set(BUILDERS) == {"services", "organizations"}


def test_every_table_about_a_child_has_its_line_in_the_plan() -> None:
    """A feature's table that refers to a child (or to one of its reports, or to such a table) is deleted with the
    file by the sweep, and says so in ``PLAN`` (README.md's table is written from it)."""
    load_models()
    swept = retention.swept_tables()
    assert {"safety_warnings", "intakes", "conferences", "entrusted_guardianships", "families_parents"} <= set(swept)
    assert set(swept) <= set(retention.PLAN), "a table the purge deletes without a line in retention.PLAN"
    assert not set(swept) & retention.WRITTEN_OUT
    for table in Base.metadata.sorted_tables:
        if any(fk.column.table.name == "children" for fk in table.foreign_keys):
            assert table.name in swept or table.name in retention.WRITTEN_OUT, table.name
