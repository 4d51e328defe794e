"""Monthly allowance runs: who is paid, idempotence per person and month, budget limits, the quarterly report."""

from __future__ import annotations

import datetime as dt

from marketplace.auth.principal import Principal
from marketplace.procurement import allowances
from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import make_budget

YEAR = 2026


async def add_children(db, world, specs: list[tuple[str, list[str], str, dt.date]]) -> list[int]:
    from marketplace.cases.models import Child

    ids = []
    async with db.session() as session:
        for i, (name, categories, status, birth) in enumerate(specs):
            child = Child(
                community_id=world.communities[i % 3],
                street_id=world.streets[0] if i % 3 < 2 else world.streets[1],
                name=name,
                gender="female",
                birth_date=birth,
                id_number_enc="x",
                id_number_hmac=f"h{name}",
                categories=categories,
                guardianship="family",
                risk_level="medium",
                next_visit_due=dt.date(YEAR, 12, 1),
                status=status,
            )
            session.add(child)
            await session.flush()
            ids.append(child.id)
    return ids


KID = dt.date(2015, 5, 1)


async def test_monthly_run_pays_eligible_once(client, auth: Auth, db, world) -> None:
    officer = await auth("procurement")
    budget = await make_budget(client, officer, year=YEAR)
    await add_children(
        db,
        world,
        [
            ("甲", ["orphan"], "active", KID),
            ("乙", ["de_facto_unsupported", "disabled"], "active", KID),
            ("丙", ["left_behind"], "active", KID),  # not eligible for the living allowance
            ("丁", ["orphan"], "closed", KID),  # file closed
            ("戊", ["orphan"], "active", dt.date(2008, 2, 10)),  # 18 on 2026-02-10: paid in February, not March
        ],
    )
    r = await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)
    assert r.status_code == 201, r.text
    run = r.json()
    paid = {k["kind"]: k for k in run["paid"]}
    assert paid["living_allowance"]["count"] == 2 and paid["living_allowance"]["total_fen"] == 2 * 245_400
    assert paid["director_subsidy"]["count"] == 3 and paid["director_subsidy"]["total_fen"] == 3 * 50_000
    assert run["already_paid"] == 0
    again = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)).json()
    assert again["paid_count"] == 0 and again["total_fen"] == 0 and again["already_paid"] == 5 and again["id"] is None
    feb = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-02"}, headers=officer)).json()
    assert {k["kind"]: k["count"] for k in feb["paid"]} == {"living_allowance": 3, "director_subsidy": 3}
    # A child added later is picked up by re-running the month, and only that child is paid.
    await add_children(db, world, [("己", ["orphan"], "active", KID)])
    late = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)).json()
    assert late["paid_count"] == 1 and late["total_fen"] == 245_400 and late["already_paid"] == 5
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
    lines = {x["code"]: x for x in view["lines"]}
    assert lines["living_allowance"]["paid_fen"] == 6 * 245_400 == lines["living_allowance"]["committed_fen"]
    assert lines["director_subsidy"]["paid_fen"] == 6 * 50_000

    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1", headers=await auth("fund"))).json()
    living = next(x for x in report["totals"] if x["kind"] == "living_allowance")
    assert (living["payments"], living["persons"], living["total_fen"]) == (6, 4, 6 * 245_400)
    assert report["payments"] == 12 and report["total_fen"] == 6 * 245_400 + 6 * 50_000
    assert report["total_yuan"] == "17724.00"
    q2 = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=2", headers=officer)).json()
    assert q2["payments"] == 0
    r = await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1&format=csv", headers=officer)
    assert r.status_code == 200 and "第1季度合计" in r.content.decode("utf-8-sig")
    assert_problem(await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=5", headers=officer), 400)
    assert_problem(
        await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1", headers=await auth("director")), 403
    )


async def test_concurrent_runs_of_one_month_pay_each_person_once(client, auth: Auth, db, world) -> None:
    import asyncio

    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    await add_children(db, world, [(f"童{i}", ["orphan"], "active", KID) for i in range(12)])
    responses = await asyncio.gather(
        *(client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-05"}, headers=officer) for _ in range(6))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert sum(r.json()["paid_count"] for r in responses) == 12 + 3
    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=2", headers=officer)).json()
    assert report["payments"] == 15 and report["total_fen"] == 12 * 245_400 + 3 * 50_000


async def test_standard_follows_the_date(client, auth: Auth, db, world) -> None:
    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    r = await client.post(
        "/api/v1/allowances/standards",
        json={"kind": "living_allowance", "effective_from": f"{YEAR}-07-01", "amount_fen": 260_000},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await client.post(
            "/api/v1/allowances/standards",
            json={"kind": "living_allowance", "effective_from": f"{YEAR}-07-01", "amount_fen": 1},
            headers=officer,
        ),
        409,
    )
    assert_problem(
        await client.post(
            "/api/v1/allowances/standards",
            json={"kind": "candy", "effective_from": f"{YEAR}-07-01", "amount_fen": 1},
            headers=officer,
        ),
        422,
    )
    june = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-06"}, headers=officer)).json()
    july = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-07"}, headers=officer)).json()
    assert next(k for k in june["paid"] if k["kind"] == "living_allowance")["standard_fen"] == 245_400
    assert next(k for k in july["paid"] if k["kind"] == "living_allowance")["total_fen"] == 260_000
    listed = (await client.get("/api/v1/allowances/standards", headers=await auth("auditor"))).json()
    assert [(s["kind"], s["effective_from"]) for s in listed][:2] == [
        ("director_subsidy", "2023-01-01"),
        ("living_allowance", "2023-01-01"),
    ]


async def test_run_refused_when_the_line_lacks_room_and_pays_nobody(client, auth: Auth, db, world) -> None:
    officer = await auth("procurement")
    lines = [
        {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 245_400},
        {"code": "director_post_subsidy", "name": "儿童主任岗位补贴", "appropriation_fen": 1_000_000},
    ]
    budget = await make_budget(client, officer, lines, year=YEAR)
    await add_children(db, world, [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID)])
    body = assert_problem(
        await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=officer), 409
    )
    assert body["requested_fen"] == 490_800 and body["available_fen"] == 245_400
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
    assert all(x["paid_fen"] == 0 for x in view["lines"])
    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1", headers=officer)).json()
    assert report["payments"] == 0
    assert_problem(await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-13"}, headers=officer), 400)
    assert_problem(await client.post("/api/v1/allowances/runs", json={"month": "2031-01"}, headers=officer), 409)
    assert_problem(
        await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=await auth("admin")), 403
    )


async def test_protocol_source_and_scheduled_job(db, world, monkeypatch) -> None:
    from marketplace.procurement import service
    from marketplace.procurement.schemas import BudgetIn, BudgetLineIn

    officer = Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")
    async with db.session() as session:
        await service.create_budget(
            session,
            officer,
            BudgetIn(
                name="补贴",
                fiscal_year=YEAR,
                total_fen=10_000_000,
                lines=[
                    BudgetLineIn(code="living_allowance", name="生活补贴", appropriation_fen=5_000_000),
                    BudgetLineIn(code="director_subsidy", name="岗位补贴", appropriation_fen=5_000_000),
                ],
            ),
        )

    async def register(session, month: str) -> list[allowances.Person]:
        return [allowances.Person(f"child:{n}", f"儿童{n}", None) for n in range(7)]

    async with db.session() as session:
        result = await allowances.run_month(session, officer, f"{YEAR}-04", sources={"living_allowance": register})
    assert result.paid_count == 7 and result.total_fen == 7 * 245_400

    from marketplace.procurement import jobs

    monkeypatch.setattr(jobs.clock, "month_key", lambda when=None: f"{YEAR}-04")
    first = await jobs.monthly_allowances(db)
    second = await jobs.monthly_allowances(db)
    assert first["paid"] == 3 and second["paid"] == 0  # the three directors; the children were paid already above
