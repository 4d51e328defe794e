"""Festival plans (节日慰问计划): the plan's rules and roles, amounts by category (the highest of a child's, once),
the run idempotent (a re-run with nobody new writes nothing; a 补发 lists only the new children), versions after a
run, a withdrawn run giving its children back, the unique festival key, the line's room (409 with the shortfall),
the payment list, and two runs at once on PostgreSQL (one list, nobody paid twice)."""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.auth.principal import Principal
from marketplace.errors import Conflict
from marketplace.procurement import festivals
from marketplace.procurement.models import AllowancePayment, AllowanceRun
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, add_children, grant
from tests.procurement.helpers import line_id, make_budget
from tests.support import figures

PLANS = "/api/v1/allowances/festival-plans"
JUNE = f"{YEAR}-06-01"
LINES = [
    {"code": "festival", "name": "节日慰问", "appropriation_fen": 1_000_000},
    {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 20_000_000},
]
AMOUNTS = [
    {"category": "orphan", "amount_fen": 60_000},
    {"category": "disabled", "amount_fen": 80_000},
    {"category": "de_facto_unsupported", "amount_fen": 50_000},
]


async def _setup(client: Any, auth: Auth, db: Any, world: Any, settings: Any) -> tuple[dict[str, Any], list[int]]:
    budget = await make_budget(client, await auth("procurement"), lines=LINES, year=YEAR, name="未成年人保护专项")
    ids = await add_children(
        db,
        world,
        [
            ("甲", ["orphan", "disabled"], "active", KID),  # orphan grant, disabled too: 800 yuan (the highest)
            ("乙", ["de_facto_unsupported"], "active", KID),  # 500 yuan
            ("丙", ["orphan"], "active", KID),  # granted, no payee yet
            ("丁", ["economic_hardship"], "active", KID),  # granted in a category the plan does not pay
            ("戊", ["orphan"], "active", KID),  # tagged, no grant: never paid
        ],
    )
    await grant(db, settings, [ids[0]])
    await grant(db, settings, [ids[1]], category="de_facto_unsupported")
    await grant(db, settings, [ids[2]], payee=False)
    await grant(db, settings, [ids[3]], category="economic_hardship")
    return budget, ids


def _plan_body(budget: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "year": YEAR,
        "festival": "childrens_day",
        "pay_date": JUNE,
        "line_id": line_id(budget, "festival"),
        "amounts": AMOUNTS,
        **extra,
    }


async def _plan(client: Any, auth: Auth, budget: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = await client.post(PLANS, json=_plan_body(budget, **extra), headers=await auth("admin"))
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


async def _line(client: Any, auth: Auth, plan_id: int) -> dict[str, Any]:
    r = await client.get(f"{PLANS}/{plan_id}", headers=await auth("auditor"))
    assert r.status_code == 200, r.text
    line: dict[str, Any] = r.json()["line"]
    return line


async def _counts(db: Any) -> tuple[int, int]:
    async with db.session(write=False) as session:
        runs = await session.scalar(select(func.count()).select_from(AllowanceRun))
        payments = await session.scalar(select(func.count()).select_from(AllowancePayment))
    return int(runs or 0), int(payments or 0)


async def test_plan_rules_and_roles(client, auth: Auth, db, world, settings) -> None:
    budget, _ = await _setup(client, auth, db, world, settings)
    admin, officer = await auth("admin"), await auth("procurement")
    for who in ("director", "supervisor", "fund", "org", "auditor"):
        assert_problem(await client.post(PLANS, json=_plan_body(budget), headers=await auth(who)), 403)
    for who in ("director", "supervisor", "fund", "org"):
        assert_problem(await client.get(PLANS, headers=await auth(who)), 403)
    bad = await client.post(PLANS, json=_plan_body(budget, amounts=[{"category": "x", "amount_fen": 1}]), headers=admin)
    assert "未知儿童类别" in assert_problem(bad, 422)["detail"]
    bad = await client.post(PLANS, json=_plan_body(budget, pay_date=f"{YEAR + 1}-01-05"), headers=admin)
    assert assert_problem(bad, 422)["errors"][0]["field"] == "pay_date"
    other = await make_budget(client, officer, lines=LINES, year=YEAR + 1, name="下年度")
    bad = await client.post(PLANS, json=_plan_body(budget, line_id=line_id(other, "festival")), headers=admin)
    assert assert_problem(bad, 422)["errors"][0]["field"] == "line_id"
    assert_problem(await client.post(PLANS, json=_plan_body(budget, amounts=[]), headers=admin), 400)
    assert_problem(await client.post(PLANS, json=_plan_body(budget, festival="halloween"), headers=admin), 400)
    assert await _counts(db) == (0, 0)

    plan = await _plan(client, auth, budget)
    assert (plan["title"], plan["festival_label"], plan["version"], plan["current"], plan["editable"]) == (
        f"{YEAR}年六一儿童节慰问",
        "六一儿童节",
        1,
        True,
        True,
    )
    assert [(a["category"], a["amount_fen"]) for a in plan["amounts"]] == [
        ("orphan", 60_000),
        ("de_facto_unsupported", 50_000),
        ("disabled", 80_000),
    ]
    assert plan["line"]["appropriation_fen"] == 1_000_000 and plan["line"]["available_fen"] == 1_000_000
    dup = await client.post(PLANS, json=_plan_body(budget), headers=officer)
    assert assert_problem(dup, 409)["existing_id"] == plan["id"]
    # The officer edits it before any run; the auditor reads it, but may not change it.
    r = await client.patch(f"{PLANS}/{plan['id']}", json={"note": "按区财政批复"}, headers=officer)
    assert r.status_code == 200 and r.json()["note"] == "按区财政批复"
    assert_problem(await client.patch(f"{PLANS}/{plan['id']}", json={"note": "x"}, headers=await auth("auditor")), 403)
    listed = await client.get(f"{PLANS}?year={YEAR}", headers=await auth("auditor"))
    assert [p["id"] for p in listed.json()] == [plan["id"]]
    assert (await client.get(f"{PLANS}?year={YEAR + 1}", headers=admin)).json() == []
    assert_problem(await client.get(f"{PLANS}/999999", headers=admin), 404)


async def test_amounts_by_category_idempotent_rerun_and_supplementary(client, auth: Auth, db, world, settings) -> None:
    budget, ids = await _setup(client, auth, db, world, settings)
    admin, officer = await auth("admin"), await auth("procurement")
    plan = await _plan(client, auth, budget)
    r = await client.post(f"{PLANS}/{plan['id']}/runs", headers=admin)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] and not out["run"]["supplementary"] and out["run"]["title"] == f"{YEAR}年六一儿童节慰问"
    assert (out["already_paid"], out["missing_payee"], out["not_covered"]) == (0, 1, 1)
    run_id = out["run"]["run_id"]
    assert (out["run"]["paid_count"], out["run"]["total_fen"], out["run"]["month"]) == (2, 130_000, f"{YEAR}-06")
    detail = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=officer)).json()
    assert sorted((p["person_key"], p["category"], p["amount_fen"]) for p in detail["payments"]) == sorted(
        [(f"child:{ids[0]}", "disabled", 80_000), (f"child:{ids[1]}", "de_facto_unsupported", 50_000)]
    )
    assert (await _line(client, auth, plan["id"]))["committed_fen"] == 130_000
    # A plan with a run is no longer edited in place.
    locked = await client.patch(f"{PLANS}/{plan['id']}", json={"amounts": AMOUNTS[:1]}, headers=admin)
    assert "新版本" in assert_problem(locked, 409)["detail"]
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=admin)).json()["editable"] is False

    # Again with nobody new: 200, the existing run, nothing written.
    before = await _counts(db)
    again = await client.post(f"{PLANS}/{plan['id']}/runs", headers=officer)
    assert again.status_code == 200, again.text
    assert not again.json()["created"] and again.json()["run"] is None
    assert [x["run_id"] for x in again.json()["runs"]] == [run_id] and again.json()["already_paid"] == 2
    assert await _counts(db) == before and (await _line(client, auth, plan["id"]))["committed_fen"] == 130_000

    # Signed off and paid through the allowance runs' flow; the bank file is the one signed.
    assert (await client.post(f"/api/v1/allowances/runs/{run_id}/sign-off", json={}, headers=admin)).status_code == 201
    bank = await client.get(f"/api/v1/allowances/runs/{run_id}/bank-file", headers=admin)
    assert (
        bank.status_code == 200
        and f"{YEAR}年六一儿童节慰问".encode(settings.allowances.bank_file_encoding) in bank.content
    )
    assert (await client.post(f"/api/v1/allowances/runs/{run_id}/pay", headers=officer)).status_code == 200
    assert (await _line(client, auth, plan["id"]))["paid_fen"] == 130_000

    # 丙's payee is registered and a new child is granted: the 补发 lists only them.
    newer = await add_children(db, world, [("己", ["orphan"], "active", KID)])
    await grant(db, settings, newer)
    async with db.session() as session:
        from marketplace.cases.models import AllowanceDecision

        decision = await session.scalar(select(AllowanceDecision).where(AllowanceDecision.child_id == ids[2]))
        assert decision is not None
        await session.delete(decision)
    await grant(db, settings, [ids[2]])
    sup = await client.post(f"{PLANS}/{plan['id']}/runs", headers=officer)
    assert sup.status_code == 201, sup.text
    body = sup.json()
    assert body["run"]["supplementary"] and body["run"]["title"] == f"{YEAR}年六一儿童节慰问（补发1）"
    assert body["already_paid"] == 2 and next(x["run_id"] for x in body["runs"]) == run_id
    sup_detail = (await client.get(f"/api/v1/allowances/runs/{body['run']['run_id']}", headers=officer)).json()
    assert sorted(p["person_key"] for p in sup_detail["payments"]) == sorted([f"child:{ids[2]}", f"child:{newer[0]}"])
    assert (await client.post(f"{PLANS}/{plan['id']}/runs", headers=officer)).status_code == 200
    runs = (await client.get(f"{PLANS}/{plan['id']}/runs", headers=await auth("auditor"))).json()
    assert [(r["run_id"], r["supplementary"]) for r in runs] == [(run_id, False), (body["run"]["run_id"], True)]

    # A new version (amounts raised): the old one kept; running it pays nobody already paid.
    v2 = await client.post(
        f"{PLANS}/{plan['id']}/versions",
        json={"amounts": [{"category": "orphan", "amount_fen": 90_000}]},
        headers=admin,
    )
    assert v2.status_code == 201, v2.text
    assert (v2.json()["version"], v2.json()["supersedes_id"], v2.json()["current"]) == (2, plan["id"], True)
    old = (await client.get(f"{PLANS}/{plan['id']}", headers=admin)).json()
    assert old["current"] is False and [a["amount_fen"] for a in old["amounts"]] == [60_000, 50_000, 80_000]
    assert_problem(await client.post(f"{PLANS}/{plan['id']}/runs", headers=admin), 409)
    assert_problem(await client.post(f"{PLANS}/{plan['id']}/versions", json={}, headers=admin), 409)
    before = await _counts(db)
    assert (await client.post(f"{PLANS}/{v2.json()['id']}/runs", headers=admin)).status_code == 200
    assert await _counts(db) == before
    every = (await client.get(f"{PLANS}?year={YEAR}&all_versions=true", headers=admin)).json()
    assert [p["version"] for p in every] == [1, 2]


async def test_withdrawn_run_gives_its_children_back(client, auth: Auth, db, world, settings) -> None:
    budget, _ids = await _setup(client, auth, db, world, settings)
    admin, officer = await auth("admin"), await auth("procurement")
    plan = await _plan(client, auth, budget)
    first = (await client.post(f"{PLANS}/{plan['id']}/runs", headers=admin)).json()["run"]
    w = await client.post(
        f"/api/v1/allowances/runs/{first['run_id']}/withdraw", json={"reason": "名册有误"}, headers=officer
    )
    assert w.status_code == 200, w.text
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=admin)).json()["editable"] is True
    again = await client.post(f"{PLANS}/{plan['id']}/runs", headers=admin)
    assert again.status_code == 201, again.text
    assert not again.json()["run"]["supplementary"] and again.json()["run"]["paid_count"] == 2
    assert (await _line(client, auth, plan["id"]))["committed_fen"] == 130_000


async def test_one_live_payment_per_person_and_festival_is_a_constraint(
    client, auth: Auth, db, world, settings
) -> None:
    budget, _ids = await _setup(client, auth, db, world, settings)
    plan = await _plan(client, auth, budget)
    run_id = (await client.post(f"{PLANS}/{plan['id']}/runs", headers=await auth("admin"))).json()["run"]["run_id"]
    async with db.session() as session:
        paid = await session.scalar(select(AllowancePayment).where(AllowancePayment.run_id == run_id).limit(1))
        assert paid is not None and paid.festival_key == f"{YEAR}:childrens_day" and paid.festival_live is True
        # Another run of the festival (so (run_id, person_key) does not clash): only the festival key refuses it.
        other = AllowanceRun(month=paid.month, budget_id=budget["id"], kind="festival", title="另一批")
        session.add(other)
        await session.flush()
        row = {
            "run_id": other.id,
            "kind": "festival",
            "person_key": paid.person_key,
            "month": paid.month,
            "amount_fen": 1,
            "line_id": paid.line_id,
            "live": None,
            "festival_key": paid.festival_key,
        }
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(AllowancePayment(**row, festival_live=True))
    async with db.session() as session:  # released (withdrawn: NULL), the same person may be paid again
        session.add(AllowancePayment(**row, festival_live=None))


async def test_over_the_line_is_refused_with_the_shortfall(client, auth: Auth, db, world, settings) -> None:
    budget = await make_budget(
        client,
        await auth("procurement"),
        lines=[{"code": "festival", "name": "节日慰问", "appropriation_fen": 100_000}],
        year=YEAR,
    )
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    plan = await _plan(client, auth, budget)  # 2 × 600 yuan against 1,000 yuan
    before = await _counts(db)
    r = await client.post(f"{PLANS}/{plan['id']}/runs", headers=await auth("admin"))
    body = assert_problem(r, 409)
    assert body["shortfall_fen"] == 20_000 and "缺口 200.00元" in body["detail"]
    assert await _counts(db) == before and (await _line(client, auth, plan["id"]))["committed_fen"] == 0
    assert (await client.get(f"{PLANS}/{plan['id']}/runs", headers=await auth("admin"))).json() == []


async def test_payment_list_xlsx_and_csv(client, auth: Auth, db, world, settings) -> None:
    budget, _ids = await _setup(client, auth, db, world, settings)
    plan = await _plan(client, auth, budget)
    run_id = (await client.post(f"{PLANS}/{plan['id']}/runs", headers=await auth("admin"))).json()["run"]["run_id"]
    x = await client.get(f"/api/v1/allowances/runs/{run_id}/list", headers=await auth("auditor"))
    assert x.status_code == 200, x.text
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "社区编号", "姓名") and len(rows) == 3
    assert sorted(str(r[6]) for r in rows[1:]) == ["500", "800"] and {r[3] for r in rows[1:]} == {
        "残疾儿童",
        "事实无人抚养儿童",
    }
    c = await client.get(f"/api/v1/allowances/runs/{run_id}/list?format=csv", headers=await auth("admin"))
    assert c.status_code == 200 and "甲" in c.content.decode("utf-8-sig")
    assert_problem(await client.get(f"/api/v1/allowances/runs/{run_id}/list", headers=await auth("director")), 403)


@pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql", reason="the row locks are PostgreSQL's")
async def test_two_runs_at_once_make_one_list(client, auth: Auth, db, world, settings) -> None:
    budget, ids = await _setup(client, auth, db, world, settings)
    plan = await _plan(client, auth, budget)
    admin = Principal(user_id=world.users["admin"], username="admin", role="district_admin")
    officer = Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")

    async def one(who: Principal) -> festivals.Outcome | Conflict:
        try:
            async with db.session() as session:
                return await festivals.run_plan(session, who, plan["id"])
        except Conflict as exc:
            return exc

    attempts = 0
    for n in range(3):
        results = await asyncio.gather(one(admin), one(officer))
        attempts += 2
        created = [r for r in results if isinstance(r, festivals.Outcome) and r.created]
        # The first pair: one prepares the list, the other waits on the plan's lock and finds nobody new.
        assert len(created) == (1 if n == 0 else 0), results
        assert not any(isinstance(r, Conflict) for r in results), results
    async with db.session(write=False) as session:
        keys = (
            await session.scalars(
                select(AllowancePayment.person_key).where(
                    AllowancePayment.festival_key == f"{YEAR}:childrens_day", AllowancePayment.festival_live.is_(True)
                )
            )
        ).all()
        runs = await session.scalar(select(func.count()).select_from(AllowanceRun))
    twice = len(keys) - len(set(keys))
    figures.record("Festival plans (concurrent runs)", "runs attempted at once", attempts)
    figures.record("Festival plans (concurrent runs)", "people paid twice", twice)
    assert twice == 0 and sorted(keys) == sorted([f"child:{ids[0]}", f"child:{ids[1]}"]) and runs == 1
