"""Festival (节日慰问) and special (临时/专项补助) runs: who is paid and how much, the budget line committed and
released, duplicates refused, the sign-off / bank file / pay path, the quarter report by kind, and the runs
prepared in the background with their progress."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from marketplace.errors import Conflict
from marketplace.procurement.models import AllowancePayment, AllowanceRun
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, add_children, grant
from tests.procurement.helpers import line_id, make_budget

SPRING = f"{YEAR}-02-10"


async def _setup(client: Any, auth: Auth, db: Any, world: Any, settings: Any) -> tuple[dict[str, Any], list[int]]:
    officer = await auth("procurement")
    budget = await make_budget(client, officer, year=YEAR)
    ids = await add_children(
        db,
        world,
        [
            ("甲", ["orphan"], "active", KID),
            ("乙", ["de_facto_unsupported"], "active", KID),
            ("丙", ["orphan"], "active", KID),  # tagged, no grant: never paid
            ("丁", ["orphan"], "active", KID),  # granted, no payee yet
        ],
    )
    await grant(db, settings, [ids[0]])
    await grant(db, settings, [ids[1]], category="de_facto_unsupported")
    await grant(db, settings, [ids[3]], payee=False)
    return budget, ids


def _festival(budget: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "festival",
        "title": f"{YEAR}年春节慰问",
        "pay_date": SPRING,
        "line_id": line_id(budget, "living_allowance"),
        "category_amounts": [{"category": "orphan", "amount_fen": 80_000}],
        "amount_fen": 50_000,
        **extra,
    }


async def _committed(client: Any, auth: Auth, budget: dict[str, Any]) -> int:
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=await auth("procurement"))).json()
    line: int = next(x["committed_fen"] for x in view["lines"] if x["code"] == "living_allowance")
    return line


async def test_festival_run_pays_each_eligible_child_once(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget, ids = await _setup(client, auth, db, world, settings)
    before = await _committed(client, auth, budget)
    r = await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=officer)
    assert r.status_code == 201, r.text
    run = r.json()
    assert (run["kind"], run["title"], run["pay_date"], run["month"]) == (
        "festival",
        f"{YEAR}年春节慰问",
        SPRING,
        f"{YEAR}-02",
    )
    # 甲 (orphan: the category amount) and 乙 (the typed amount); 丁 has no payee, 丙 no grant.
    assert run["paid_count"] == 2 and run["total_fen"] == 80_000 + 50_000 and run["missing_payee"] == 1
    assert run["paid"][0]["kind"] == "festival" and run["paid"][0]["label"] == "节日慰问金"
    assert await _committed(client, auth, budget) == before + 130_000
    detail = (await client.get(f"/api/v1/allowances/runs/{run['id']}", headers=officer)).json()
    assert detail["kind_label"] == "节日慰问" and detail["title"] == f"{YEAR}年春节慰问"
    assert sorted((p["person_key"], p["amount_fen"]) for p in detail["payments"]) == sorted(
        [(f"child:{ids[0]}", 80_000), (f"child:{ids[1]}", 50_000)]
    )
    # The same title in the same year: refused, nothing changed.
    again = await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=officer)
    assert_problem(again, 409)
    assert "已有名为" in again.json()["detail"]
    assert await _committed(client, auth, budget) == before + 130_000
    # Another festival the same month (六一 and 端午 can share June): the same children are paid again.
    other = await client.post(
        "/api/v1/allowances/runs", json=_festival(budget, title=f"{YEAR}年元宵慰问"), headers=officer
    )
    assert other.status_code == 201, other.text
    assert other.json()["paid_count"] == 2
    async with db.session() as session:
        keys = (
            await session.scalars(select(AllowancePayment.person_key).where(AllowancePayment.run_id == run["id"]))
        ).all()
    assert len(keys) == len(set(keys)) == 2


async def test_sign_off_bank_file_pay_and_quarter_report(client, auth: Auth, db, world, settings) -> None:
    officer, admin = await auth("procurement"), await auth("admin")
    budget, _ = await _setup(client, auth, db, world, settings)
    run = (await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=officer)).json()
    early = await client.post(f"/api/v1/allowances/runs/{run['id']}/pay", headers=officer)
    assert_problem(early, 409)
    assert (
        await client.post(f"/api/v1/allowances/runs/{run['id']}/sign-off", json={}, headers=admin)
    ).status_code == 201
    bank = await client.get(f"/api/v1/allowances/runs/{run['id']}/bank-file", headers=officer)
    assert bank.status_code == 200
    rows = list(csv.reader(io.StringIO(bank.content.decode(settings.allowances.bank_file_encoding))))
    assert len(rows) == 3 and {r[5] for r in rows[1:]} == {f"{YEAR}年春节慰问"}
    assert sorted(r[4] for r in rows[1:]) == ["500.00", "800.00"]
    assert (await client.post(f"/api/v1/allowances/runs/{run['id']}/pay", headers=officer)).status_code == 200
    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1", headers=admin)).json()
    festival = next(x for x in report["totals"] if x["kind"] == "festival")
    assert (festival["payments"], festival["persons"], festival["total_fen"], festival["label"]) == (
        2,
        2,
        130_000,
        "节日慰问金",
    )
    assert {x["kind"] for x in report["by_month"]} == {"festival"}
    xlsx = await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1&format=xlsx", headers=admin)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    paid_again = await client.post(f"/api/v1/allowances/runs/{run['id']}/pay", headers=officer)
    assert_problem(paid_again, 409)


async def test_special_run_lists_chosen_children_with_reasons(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget, ids = await _setup(client, auth, db, world, settings)
    body = {
        "kind": "special",
        "title": f"{YEAR}年3月临时救助",
        "pay_date": f"{YEAR}-03-05",
        "line_id": line_id(budget, "living_allowance"),
        "payees": [{"child_id": ids[0], "amount_fen": 120_000, "reason": "住院医疗自付部分"}],
    }
    r = await client.post("/api/v1/allowances/runs", json=body, headers=officer)
    assert r.status_code == 201, r.text
    detail = (await client.get(f"/api/v1/allowances/runs/{r.json()['id']}", headers=officer)).json()
    assert [(p["person_key"], p["amount_fen"], p["reason"]) for p in detail["payments"]] == [
        (f"child:{ids[0]}", 120_000, "住院医疗自付部分")
    ]
    # The same title is fine for special runs; a child without a grant, twice in the list, or without payee: 422.
    for payees, field in (
        ([{"child_id": ids[2], "amount_fen": 1_000, "reason": "x"}], "payees[0].child_id"),
        ([{"child_id": ids[3], "amount_fen": 1_000, "reason": "x"}], "payees[0].child_id"),
        (
            [
                {"child_id": ids[0], "amount_fen": 1_000, "reason": "x"},
                {"child_id": ids[0], "amount_fen": 2_000, "reason": "y"},
            ],
            "payees[1].child_id",
        ),
    ):
        bad = await client.post("/api/v1/allowances/runs", json={**body, "payees": payees}, headers=officer)
        assert_problem(bad, 422)
        assert field in bad.text
    # Monthly fields on a special run, or one-off fields on a monthly run: 422.
    assert_problem(
        await client.post("/api/v1/allowances/runs", json={**body, "budget_id": budget["id"]}, headers=officer), 422
    )
    assert_problem(
        await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03", "title": "x"}, headers=officer), 422
    )
    assert_problem(await client.post("/api/v1/allowances/runs", json={"kind": "monthly"}, headers=officer), 422)


async def test_budget_exceeded_and_withdraw_release(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget, _ = await _setup(client, auth, db, world, settings)
    before = await _committed(client, auth, budget)
    huge = await client.post(
        "/api/v1/allowances/runs", json=_festival(budget, amount_fen=10**12, category_amounts=[]), headers=officer
    )
    assert_problem(huge, 409)
    assert "可用" in huge.json()["detail"]
    assert await _committed(client, auth, budget) == before
    async with db.session() as session:
        assert (await session.scalars(select(AllowanceRun))).all() == []
    run = (await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=officer)).json()
    assert await _committed(client, auth, budget) == before + 130_000
    w = await client.post(f"/api/v1/allowances/runs/{run['id']}/withdraw", json={"reason": "金额有误"}, headers=officer)
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    assert await _committed(client, auth, budget) == before
    # Withdrawn, its title is free again.
    again = await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=officer)
    assert again.status_code == 201, again.text


async def test_bad_requests_are_problems(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget, _ = await _setup(client, auth, db, world, settings)
    cases = [
        (_festival(budget, title="  "), "title"),
        (_festival(budget, pay_date=None), "pay_date"),
        (_festival(budget, line_id=None), "line_id"),
        (_festival(budget, line_id=999_999), "line_id"),
        (_festival(budget, pay_date=f"{YEAR + 1}-02-10"), "line_id"),
        (_festival(budget, amount_fen=None, category_amounts=[]), "amount_fen"),
        (_festival(budget, category_amounts=[{"category": "martian", "amount_fen": 1}]), "category_amounts"),
        (_festival(budget, month=f"{YEAR}-05"), "month"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/allowances/runs", json=body, headers=officer)
        assert_problem(r, 422)
        assert field in r.text, (field, r.text)
    forbidden = await client.post("/api/v1/allowances/runs", json=_festival(budget), headers=await auth("director"))
    assert forbidden.status_code in (403, 404)


async def test_prepare_in_the_background_with_progress(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget, ids = await _setup(client, auth, db, world, settings)
    r = await client.post("/api/v1/allowances/runs/prepare", json=_festival(budget), headers=officer)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["kind"] == "festival" and queued["title"] == f"{YEAR}年春节慰问"
    # Tasks run in process in tests: by the time we poll, the run is prepared.
    progress = (await client.get(f"/api/v1/allowances/runs/{queued['id']}/progress", headers=officer)).json()
    assert progress["status"] == "prepared" and progress["progress"] == 100
    assert progress["steps_done"] == progress["steps_total"] >= 2
    detail = (await client.get(f"/api/v1/allowances/runs/{queued['id']}", headers=officer)).json()
    assert detail["paid_count"] == 2 and detail["total_fen"] == 130_000
    # A second one with the same title is refused at once (the first holds it).
    assert_problem(await client.post("/api/v1/allowances/runs/prepare", json=_festival(budget), headers=officer), 409)
    # A refusal found in the background (no room on the line) leaves a failed run and nothing committed.
    before = await _committed(client, auth, budget)
    big = _festival(budget, title=f"{YEAR}年元宵慰问", amount_fen=10**12, category_amounts=[])
    failed = (await client.post("/api/v1/allowances/runs/prepare", json=big, headers=officer)).json()
    status = (await client.get(f"/api/v1/allowances/runs/{failed['id']}/progress", headers=officer)).json()
    assert status["status"] == "failed" and "可用" in status["error"]
    assert await _committed(client, auth, budget) == before
    # A failed run cannot be signed off.
    assert_problem(
        await client.post(f"/api/v1/allowances/runs/{failed['id']}/sign-off", json={}, headers=await auth("admin")),
        409,
    )
    # The monthly run in the background too; the month's synchronous contract is unchanged.
    monthly = await client.post("/api/v1/allowances/runs/prepare", json={"month": f"{YEAR}-03"}, headers=officer)
    assert monthly.status_code == 202, monthly.text
    m = (await client.get(f"/api/v1/allowances/runs/{monthly.json()['id']}", headers=officer)).json()
    assert m["status"] == "prepared" and m["kind"] == "monthly" and m["paid_count"] >= 2
    # A special run with a child who is not eligible is refused at once, nothing queued.
    bad = {
        "kind": "special",
        "title": "临时救助",
        "pay_date": f"{YEAR}-03-05",
        "line_id": line_id(budget, "living_allowance"),
        "payees": [{"child_id": ids[2], "amount_fen": 1_000, "reason": "x"}],
    }
    assert_problem(await client.post("/api/v1/allowances/runs/prepare", json=bad, headers=officer), 422)


async def test_a_task_delivered_twice_prepares_the_run_once(client, auth: Auth, db, world, settings) -> None:
    from marketplace.procurement import allowance_jobs, allowance_oneoff

    officer = await auth("procurement")
    budget, _ = await _setup(client, auth, db, world, settings)
    before = await _committed(client, auth, budget)
    queued = (await client.post("/api/v1/allowances/runs/prepare", json=_festival(budget), headers=officer)).json()
    async with db.session() as session:
        await allowance_jobs.run_prepare(session, queued["id"], settings)
    # A second delivery that got past the first check: refused under the run's lock, the prepared run untouched.
    async with db.session() as session:
        run = await session.get(AllowanceRun, queued["id"])
        assert run is not None
        run.status = "preparing"
        await session.flush()
        checked = await allowance_oneoff.check(
            session, None, allowance_oneoff.OneOffRequest.from_params(run.params), run_id=run.id
        )
        run.status = "prepared"
        await session.flush()
        with pytest.raises(Conflict, match="已不在编制中"):
            await allowance_oneoff.write(session, None, checked, run=run)
    status = (await client.get(f"/api/v1/allowances/runs/{queued['id']}/progress", headers=officer)).json()
    assert status["status"] == "prepared" and status["error"] == ""
    assert await _committed(client, auth, budget) == before + 130_000
