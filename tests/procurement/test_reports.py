"""Budget execution: JSON, CSV and XLSX, and agreement with the ledger to the fen."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import accept, line_id, make_budget, open_procurement, signed_contract


async def _spend(client, auth: Auth, world) -> dict:
    officer = await auth("procurement")
    budget = await make_budget(client, officer)
    line = line_id(budget, "purchase_services")
    c = await signed_contract(client, auth, line, world.orgs[0], 12_345_678)
    await accept(client, auth, c, 0)
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 4_938_271},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    await client.post(
        f"/api/v1/contracts/{c['id']}/amendments", json={"delta_fen": -1_000_001, "reason": "核减"}, headers=officer
    )
    await client.post(
        f"/api/v1/budgets/{budget['id']}/adjustments",
        json={
            "from_line_id": line_id(budget, "training"),
            "to_line_id": line,
            "amount_fen": 333_333,
            "document_no": "调1",
        },
        headers=officer,
    )
    return budget


async def test_budget_execution_report(client, auth: Auth, world) -> None:
    budget = await _spend(client, auth, world)
    url = f"/api/v1/reports/budget-execution?budget_id={budget['id']}"
    r = await client.get(url, headers=await auth("fund"))
    assert r.status_code == 200, r.text
    body = r.json()
    services = next(x for x in body["lines"] if x["code"] == "purchase_services")
    assert services["appropriation_fen"] == 100_333_333
    assert services["committed_fen"] == 11_345_677 and services["paid_fen"] == 4_938_271
    assert services["available_fen"] == 100_333_333 - 11_345_677
    assert services["execution_rate_bp"] == 4_938_271 * 10_000 // 100_333_333 == 492
    assert services["execution_rate"] == "4.92%"
    assert body["total"]["appropriation_fen"] == 140_000_000 and body["total"]["paid_fen"] == 4_938_271
    assert_problem(await client.get(url, headers=await auth("director")), 403)
    trail = await client.get(
        f"/api/v1/budgets/{budget['id']}/lines/{services['id']}/movements", headers=await auth("auditor")
    )
    assert trail.status_code == 200, trail.text
    kinds = sorted(m["kind"] for m in trail.json()["items"])
    # The open tender held its estimate, the award released the hold and committed the price, the signing at the
    # price committed nothing more, the amendment released.
    assert kinds == ["adjustment_in", "commitment", "hold", "hold_release", "payment", "release"]
    steps = {m["kind"]: m["amount_fen"] for m in trail.json()["items"]}
    assert steps["commitment"] + steps["release"] == services["committed_fen"]
    assert steps["hold"] + steps["hold_release"] == services["held_fen"] == 0
    assert steps["adjustment_in"] == 333_333 and steps["payment"] == services["paid_fen"]
    assert_problem(
        await client.get(
            f"/api/v1/budgets/{budget['id'] + 1}/lines/{services['id']}/movements", headers=await auth("auditor")
        ),
        404,
    )
    assert_problem(await client.get("/api/v1/reports/budget-execution?budget_id=999", headers=await auth("fund")), 404)
    assert_problem(await client.get("/api/v1/reports/budget-execution", headers=await auth("fund")), 400)
    assert_problem(await client.get(url + "&format=pdf", headers=await auth("fund")), 400)

    r = await client.get(url + "&format=csv", headers=await auth("auditor"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "科目代码"
    by_code = {row[0]: row for row in rows[1:]}
    assert rows[0][5] == "采购占用(元)"
    assert by_code["purchase_services"][2:] == ["1003333.33", "113456.77", "49382.71", "0.00", "889876.56", "4.92%"]
    assert by_code["total"][2] == "1400000.00"

    r = await client.get(url + "&format=xlsx", headers=await auth("admin"))
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    from decimal import Decimal

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(r.content)).active
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(values["purchase_services"][4])) == Decimal("49382.71")
    # Typed cells a finance office can sum: money as numbers (#,##0.00), the execution rate as a fraction (0.00%).
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "purchase_services")
    for cell in row[2:7]:
        assert cell.data_type == "n" and cell.number_format == "#,##0.00", cell
    assert row[7].data_type == "n" and row[7].number_format == "0.00%"
    assert row[7].value == pytest.approx(0.0492)


async def test_budget_execution_agrees_with_the_ledger(client, auth: Auth, world, db) -> None:
    ledger = pytest.importorskip("marketplace.funds.ledger")
    from marketplace.procurement.budget import account

    budget = await _spend(client, auth, world)
    # An approved procurement not yet awarded holds its room: the report shows it held, the ledger too.
    await open_procurement(
        client, auth, line_id(budget, "activities"), estimated_fen=2_000_000, method="competitive_consultation"
    )
    # An allowance run posts to the ledger too.
    r = await client.post(
        "/api/v1/allowances/runs", json={"month": f"{budget['fiscal_year']}-01"}, headers=await auth("procurement")
    )
    assert r.status_code == 201, r.text
    report = (
        await client.get(f"/api/v1/reports/budget-execution?budget_id={budget['id']}", headers=await auth("fund"))
    ).json()
    async with db.session(write=False) as session:
        for line in report["lines"]:
            available = await ledger.balance(session, account(line["id"], "available"))
            outstanding = await ledger.balance(session, account(line["id"], "committed"))
            paid = await ledger.balance(session, account(line["id"], "paid"))
            held = await ledger.balance(session, account(line["id"], "held"))
            assert available == line["available_fen"], line
            assert paid == line["paid_fen"], line
            assert held == line["held_fen"], line
            assert outstanding + paid == line["committed_fen"], line
            assert available + held + outstanding + paid == line["appropriation_fen"], line
        assert await ledger.balance(session, f"budget:{budget['id']}:appropriation") == -140_000_000
    activities = next(x for x in report["lines"] if x["code"] == "activities")
    assert activities["held_fen"] == 2_000_000 == report["total"]["held_fen"]
    assert activities["available_fen"] == activities["appropriation_fen"] - activities["committed_fen"] - 2_000_000
    r = await client.get(
        f"/api/v1/reports/budget-execution?budget_id={budget['id']}&format=csv", headers=await auth("auditor")
    )
    rows = {row[0]: row for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))}
    assert rows["activities"][5] == rows["total"][5] == "20000.00"


async def test_allowance_report_xlsx_has_typed_cells(client, auth: Auth, world) -> None:
    """Months are dates shown yyyy-mm, counts integers, money exact yuan; the CSV shows the same as text."""
    import datetime as dt
    from decimal import Decimal

    from openpyxl import load_workbook

    officer = await auth("procurement")
    budget = await make_budget(client, officer)
    year = budget["fiscal_year"]
    r = await client.post("/api/v1/allowances/runs", json={"month": f"{year}-01"}, headers=officer)
    assert r.status_code == 201, r.text
    assert r.json()["paid_count"] > 0
    # The report counts paid runs: the district signs the run off, the clerk pays it.
    run = f"/api/v1/allowances/runs/{r.json()['id']}"
    assert (await client.post(f"{run}/sign-off", json={}, headers=await auth("admin"))).status_code == 201
    assert (await client.post(f"{run}/pay", headers=officer)).status_code == 200
    url = f"/api/v1/reports/allowances?year={year}&quarter=1"
    rows = list(
        csv.reader(io.StringIO((await client.get(url + "&format=csv", headers=officer)).content.decode("utf-8-sig")))
    )
    r = await client.get(url + "&format=xlsx", headers=officer)
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    cells = list(sheet.iter_rows(min_row=2))
    assert len(cells) == len(rows) - 1 >= 2
    monthly = [c for c in cells if c[1].is_date]
    assert monthly, [c[1].value for c in cells]
    for (_kind, when, count, persons, amount), text in zip(monthly, rows[1:], strict=False):
        assert when.value.date() == dt.date(year, 1, 1) and when.number_format == "yyyy-mm" and text[1] == f"{year}-01"
        assert isinstance(count.value, int) and count.number_format == "0" and str(count.value) == text[2]
        assert isinstance(persons.value, int) and str(persons.value) == text[3]
        assert amount.data_type == "n" and amount.number_format == "#,##0.00"
        assert Decimal(str(amount.value)) == Decimal(text[4])
