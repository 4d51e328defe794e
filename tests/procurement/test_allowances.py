"""Monthly allowance runs: who is paid (approved decisions, not category tags), idempotence per person and month,
budget limits, rates by category and region, the quarterly report."""

from __future__ import annotations

import datetime as dt

from marketplace.auth.principal import Principal
from marketplace.procurement import allowances
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, add_children, cease, grant, run_sign_pay
from tests.procurement.helpers import make_budget


async def test_monthly_run_pays_the_granted_once(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    budget = await make_budget(client, officer, year=YEAR)
    ids = await add_children(
        db,
        world,
        [
            ("甲", ["orphan"], "active", KID),
            ("乙", ["de_facto_unsupported", "disabled"], "active", KID),
            ("丙", ["orphan"], "active", KID),  # tagged orphan, but no decision: not paid
            ("丁", ["orphan"], "closed", KID),  # granted, file closed
            ("戊", ["orphan"], "active", dt.date(2008, 2, 10)),  # 18 on 2026-02-10: paid in February, not March
            ("庚", ["orphan"], "active", KID),  # granted, no payee recorded yet
        ],
    )
    await grant(db, settings, [ids[0], ids[3], ids[4]])
    await grant(db, settings, [ids[1]], category="de_facto_unsupported")
    await grant(db, settings, [ids[5]], payee=False)
    r = await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)
    assert r.status_code == 201, r.text
    run = r.json()
    paid = {k["kind"]: k for k in run["paid"]}
    assert paid["living_allowance"]["count"] == 2 and paid["living_allowance"]["total_fen"] == 2 * 245_400
    assert paid["director_subsidy"]["count"] == 3 and paid["director_subsidy"]["total_fen"] == 3 * 50_000
    assert run["already_paid"] == 0 and run["missing_payee"] == 1 and run["status"] == "prepared"
    again = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)).json()
    assert again["paid_count"] == 0 and again["total_fen"] == 0 and again["already_paid"] == 5 and again["id"] is None
    feb = await run_sign_pay(client, auth, f"{YEAR}-02")
    assert {k["kind"]: k["count"] for k in feb["paid"]} == {"living_allowance": 3, "director_subsidy": 3}
    # Prepared, the March run has committed its money but paid nothing yet.
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
    lines = {x["code"]: x for x in view["lines"]}
    assert lines["living_allowance"]["committed_fen"] == 5 * 245_400
    assert lines["living_allowance"]["paid_fen"] == 3 * 245_400
    # The payee recorded, re-running the month picks up only that child.
    async with db.session() as session:
        from marketplace.cases.crypto import field_cipher
        from marketplace.cases.models import AllowancePayee

        session.add(
            AllowancePayee(
                child_id=ids[5],
                kind="institution",
                name="深圳市儿童福利院",
                bank_name="中国银行",
                account_enc=field_cipher(settings).encrypt("6216611234567890", "allowance_payees.account"),
                account_last4="7890",
            )
        )
    late = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=officer)).json()
    assert late["paid_count"] == 1 and late["total_fen"] == 245_400 and late["already_paid"] == 5
    admin = await auth("admin")
    for run_id in (run["id"], late["id"]):
        assert (
            await client.post(f"/api/v1/allowances/runs/{run_id}/sign-off", json={}, headers=admin)
        ).status_code == 201
        assert (await client.post(f"/api/v1/allowances/runs/{run_id}/pay", headers=officer)).status_code == 200
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


async def test_cessation_stops_the_allowance_from_its_month(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    (child,) = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, [child], month=f"{YEAR}-02")
    await cease(db, child, f"{YEAR}-04", decided=dt.datetime(YEAR, 3, 20, tzinfo=dt.UTC))
    counts = {}
    for month in ("01", "02", "03", "04"):
        r = await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-{month}"}, headers=officer)
        counts[month] = next((k["count"] for k in r.json()["paid"] if k["kind"] == "living_allowance"), 0)
    assert counts == {"01": 0, "02": 1, "03": 1, "04": 0}


async def test_concurrent_runs_of_one_month_pay_each_person_once(client, auth: Auth, db, world, settings) -> None:
    import asyncio

    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    ids = await add_children(db, world, [(f"童{i}", ["orphan"], "active", KID) for i in range(12)])
    await grant(db, settings, ids)
    responses = await asyncio.gather(
        *(client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-05"}, headers=officer) for _ in range(6))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert sum(r.json()["paid_count"] for r in responses) == 12 + 3
    admin = await auth("admin")
    for r in responses:
        if r.json()["id"] is not None:
            run_id = r.json()["id"]
            await client.post(f"/api/v1/allowances/runs/{run_id}/sign-off", json={}, headers=admin)
            await client.post(f"/api/v1/allowances/runs/{run_id}/pay", headers=officer)
    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=2", headers=officer)).json()
    assert report["payments"] == 15 and report["total_fen"] == 12 * 245_400 + 3 * 50_000


async def test_standard_follows_the_date_the_category_and_the_region(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    await make_budget(client, officer, year=YEAR)
    ids = await add_children(
        db,
        world,
        [("甲", ["orphan"], "active", KID), ("乙", ["disabled"], "active", KID), ("丙", ["orphan"], "active", KID)],
    )
    await grant(db, settings, [ids[0], ids[2]])
    await grant(db, settings, [ids[1]], category="disabled")
    r = await client.post(
        "/api/v1/allowances/standards",
        json={"kind": "living_allowance", "effective_from": f"{YEAR}-07-01", "amount_fen": 260_000, "region": "futian"},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/allowances/standards",
        json={
            "kind": "living_allowance",
            "category": "disabled",
            "effective_from": f"{YEAR}-01-01",
            "amount_fen": 110_000,
        },
        headers=officer,
    )
    assert r.status_code == 201, r.text
    body = assert_problem(
        await client.post(
            "/api/v1/allowances/standards",
            json={"kind": "living_allowance", "effective_from": f"{YEAR}-07-01", "amount_fen": 1, "region": "futian"},
            headers=officer,
        ),
        409,
    )
    assert "已有标准" in body["detail"]
    # The same date for another region is another rate.
    r = await client.post(
        "/api/v1/allowances/standards",
        json={
            "kind": "living_allowance",
            "effective_from": f"{YEAR}-07-01",
            "amount_fen": 210_000,
            "region": "dongguan",
        },
        headers=officer,
    )
    assert r.status_code == 201, r.text
    for bad in ({"kind": "candy"}, {"category": "unicorn"}, {"kind": "director_subsidy", "category": "orphan"}):
        body = {"kind": "living_allowance", "effective_from": f"{YEAR}-08-01", "amount_fen": 1, **bad}
        assert_problem(await client.post("/api/v1/allowances/standards", json=body, headers=officer), 422)
    june = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-06"}, headers=officer)).json()
    july = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-07"}, headers=officer)).json()
    june_living = next(k for k in june["paid"] if k["kind"] == "living_allowance")
    assert june_living["total_fen"] == 2 * 245_400 + 110_000
    assert june_living["rates"] == [{"amount_fen": 110_000, "count": 1}, {"amount_fen": 245_400, "count": 2}]
    assert june_living["standard_fen"] == 245_400
    assert next(k for k in july["paid"] if k["kind"] == "living_allowance")["total_fen"] == 2 * 260_000 + 110_000
    listed = (await client.get("/api/v1/allowances/standards", headers=await auth("auditor"))).json()
    assert ("living_allowance", "dongguan", "", "2022-01-01", 194_900) in [
        (s["kind"], s["region"], s["category"], s["effective_from"], s["amount_fen"]) for s in listed
    ]
    # Another region's rates: the Dongguan 2023 rate applies there (the region's rate beats the generic one).
    async with db.session() as session:
        rate = await allowances.rate_for(
            session, "living_allowance", f"{YEAR}-03", category="orphan", region="dongguan"
        )
        assert rate.amount_fen == 201_700
        rate = await allowances.rate_for(session, "living_allowance", "2022-06", region="dongguan")
        assert rate.amount_fen == 194_900
        rate = await allowances.rate_for(session, "living_allowance", "2022-06", region="futian")
        assert rate.amount_fen == 0  # Futian's rate starts in 2023


async def test_run_refused_when_the_line_lacks_room_and_pays_nobody(client, auth: Auth, db, world, settings) -> None:
    officer = await auth("procurement")
    lines = [
        {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 245_400},
        {"code": "director_post_subsidy", "name": "儿童主任岗位补贴", "appropriation_fen": 1_000_000},
    ]
    budget = await make_budget(client, officer, lines, year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    body = assert_problem(
        await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=officer), 409
    )
    assert body["requested_fen"] == 490_800 and body["available_fen"] == 245_400
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
    assert all(x["paid_fen"] == 0 and x["committed_fen"] == 0 for x in view["lines"])
    report = (await client.get(f"/api/v1/reports/allowances?year={YEAR}&quarter=1", headers=officer)).json()
    assert report["payments"] == 0
    assert_problem(await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-13"}, headers=officer), 400)
    assert_problem(await client.post("/api/v1/allowances/runs", json={"month": "2031-01"}, headers=officer), 409)
    assert_problem(
        await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=await auth("admin")), 403
    )


async def test_protocol_source_and_scheduled_job(db, world, settings, monkeypatch) -> None:
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
        result = await allowances.run_month(
            session, officer, f"{YEAR}-04", sources={"living_allowance": register}, region="futian"
        )
    assert result.paid_count == 7 and result.total_fen == 7 * 245_400

    from marketplace.procurement import jobs

    monkeypatch.setattr(jobs.clock, "month_key", lambda when=None: f"{YEAR}-04")
    first = await jobs.monthly_allowances(db)
    second = await jobs.monthly_allowances(db)
    assert first["paid"] == 3 and second["paid"] == 0  # the three directors; the children were paid already above
