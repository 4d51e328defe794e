from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import Auth, assert_problem
from tests.reports.data import TODAY, Cases, build_cases


@pytest.fixture
async def cases(db, world) -> Cases:
    async with db.session() as session:
        return await build_cases(session, world)


def _cat(report: dict, code: str) -> dict:
    return next(c for c in report["by_category"] if c["category"] == code)


async def test_coverage_district(client, auth: Auth, cases: Cases) -> None:
    r = await client.get("/api/v1/reports/coverage", headers=await auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["children"] == 4 and body["open_needs"] == 3 and body["met_needs"] == 1
    # covered = in service + met = 2 of 4 live needs (the withdrawn one counts nowhere)
    assert body["coverage_rate"] == 0.5
    psych = _cat(body, "psych_counselling")
    assert psych["open_needs"] == 2 and psych["supply_per_month"] == 10 and psych["gap"] == 0
    edu = _cat(body, "education_aid")
    assert edu["open_needs"] == 1 and edu["met_needs"] == 1 and edu["supply_per_month"] == 5
    # The draft legal-aid service offers no supply; its withdrawn need is no demand.
    legal = _cat(body, "legal_aid")
    assert legal["open_needs"] == 0 and legal["supply_per_month"] == 0


async def test_coverage_of_a_street_counts_only_services_serving_it(client, auth: Auth, world, cases: Cases) -> None:
    r = await client.get(f"/api/v1/reports/coverage?street_id={world.streets[1]}", headers=await auth("admin"))
    body = r.json()
    assert body["street_name"] == "园岭街道" and body["children"] == 1 and body["open_needs"] == 1
    # The counselling service serves 福田 only; the education aid is district-wide.
    assert _cat(body, "education_aid")["supply_per_month"] == 5
    assert all(c["category"] != "psych_counselling" for c in body["by_category"])


async def test_supervisor_sees_own_street_and_is_refused_others(client, auth: Auth, world, cases: Cases) -> None:
    h = await auth("supervisor")
    body = (await client.get("/api/v1/reports/coverage", headers=h)).json()
    assert body["street_id"] == world.streets[0] and body["children"] == 3
    assert_problem(await client.get(f"/api/v1/reports/coverage?street_id={world.streets[1]}", headers=h), 403)
    director = (await client.get("/api/v1/reports/coverage", headers=await auth("director"))).json()
    assert director["community_id"] == world.communities[0] and director["children"] == 2


@pytest.mark.parametrize("user", ["org", "fund", "procurement"])
async def test_child_reports_refused_to_other_roles(client, auth: Auth, user: str, cases: Cases) -> None:
    h = await auth(user)
    for url in (
        "/api/v1/reports/coverage",
        "/api/v1/reports/referrals",
        "/api/v1/reports/overdue",
        f"/api/v1/reports/quarterly?year={TODAY.year}&quarter=1",
        f"/api/v1/reports/street-ranking?year={TODAY.year}",
    ):
        assert_problem(await client.get(url, headers=h), 403)


async def test_reports_need_login_and_valid_input(client, auth: Auth, cases: Cases) -> None:
    assert_problem(await client.get("/api/v1/reports/coverage"), 401)
    h = await auth("admin")
    assert_problem(await client.get("/api/v1/reports/coverage?street_id=999", headers=h), 422)
    assert_problem(await client.get("/api/v1/reports/coverage?street_id=abc", headers=h), 400)
    assert_problem(await client.get("/api/v1/reports/coverage?format=pdf", headers=h), 422)
    assert_problem(await client.get("/api/v1/reports/quarterly?year=2026&quarter=5", headers=h), 400)
    assert_problem(await client.get("/api/v1/reports/quarterly?quarter=1", headers=h), 400)


async def test_referrals_report(client, auth: Auth, cases: Cases) -> None:
    body = (await client.get("/api/v1/reports/referrals", headers=await auth("admin"))).json()
    assert body["total"] == 2
    assert {s["status"]: s["count"] for s in body["by_status"]} == {"closed": 1, "sent": 1}
    assert body["median_days_to_accept"] == 1.0 and body["median_days_to_close"] == 10.0
    assert body["overdue"] == 1
    assert [s["count"] for s in body["funnel"]] == [2, 1, 1, 1, 1]
    # The closed one carries the director's verdict; none waits for one.
    assert {v["verdict"]: v["count"] for v in body["by_verdict"]}["met"] == 1 and body["awaiting_verdict"] == 0


async def test_overdue_report(client, auth: Auth, world, cases: Cases) -> None:
    body = (await client.get("/api/v1/reports/overdue", headers=await auth("admin"))).json()
    assert body["visits_overdue"] == 1 and body["referrals_overdue"] == 1
    by_street = {s["street_id"]: s for s in body["streets"]}
    assert by_street[world.streets[0]]["visits_overdue"] == 1 and by_street[world.streets[1]]["visits_overdue"] == 0


async def test_quarterly_dispatch(client, auth: Auth, world, cases: Cases) -> None:
    quarter = (TODAY.month - 1) // 3 + 1
    h = await auth("admin")
    r = await client.get(
        f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={quarter}&street_id={world.streets[0]}", headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    p = body["progress"]
    assert p["children_total"] == 3 and p["needs_opened"] == 4 and p["needs_met"] == 1
    kinds = {x["kind"]: x["count"] for x in body["open_problems"]}
    assert kinds["overdue_referrals"] == 1 and kinds["overdue_visits"] == 1 and kinds["urgent_needs_waiting"] == 1
    closed_this_quarter = (TODAY - dt.timedelta(days=2)).month in range(3 * quarter - 2, 3 * quarter + 1)
    if closed_this_quarter:
        assert body["typical_cases"][0]["outcome"] == "got_help"
        assert (
            body["typical_cases"][0]["verdict"] == "met" and body["typical_cases"][0]["verdict_label"] == "需求已满足"
        )
        assert body["typical_cases"][0]["community"] == "福山社区"
        assert "张小明" not in str(body["typical_cases"])  # no child's name leaves in a report
    # A past quarter with nothing in it reports zeros, not errors.
    empty = (await client.get("/api/v1/reports/quarterly?year=2020&quarter=1", headers=h)).json()
    assert empty["progress"]["referrals_sent"] == 0 and empty["typical_cases"] == []


async def test_street_ranking(client, auth: Auth, world, cases: Cases) -> None:
    body = (await client.get(f"/api/v1/reports/street-ranking?year={TODAY.year}", headers=await auth("admin"))).json()
    assert sum(body["weights"].values()) == pytest.approx(1.0)
    items = {i["street_id"]: i for i in body["items"]}
    futian, yuanling = items[world.streets[0]], items[world.streets[1]]
    assert futian["indicators"]["coverage_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert yuanling["indicators"]["coverage_rate"] == 0.0
    # One of two referrals (none withdrawn) closed; accepted in a median 1 day against a 2-day SLA.
    assert futian["indicators"]["referral_closure_rate"] == 0.5
    assert futian["indicators"]["accept_speed"] == 0.75
    assert [i["rank"] for i in body["items"]] == [1, 2] and body["items"][0]["street_id"] == world.streets[0]
    expected = 100 * sum(body["weights"][k] * (v or 0) for k, v in futian["indicators"].items())
    assert futian["score"] == pytest.approx(expected, abs=0.05)


async def test_csv_and_xlsx(client, auth: Auth, cases: Cases) -> None:
    h = await auth("admin")
    r = await client.get("/api/v1/reports/coverage?format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert "心理疏导" in text and "attachment" in r.headers["content-disposition"]
    r = await client.get(f"/api/v1/reports/street-ranking?year={TODAY.year}&format=xlsx", headers=h)
    book = load_workbook(io.BytesIO(r.content))
    sheet = book.worksheets[0]
    assert sheet.cell(row=1, column=2).value == "街道" and sheet.cell(row=2, column=2).value == "福田街道"


def _typed(cell: Any, number_format: str) -> None:
    assert cell.data_type == "n" and cell.number_format == number_format, (
        cell.coordinate,
        cell.value,
        cell.number_format,
    )


async def test_xlsx_stores_numbers_and_percentages_as_typed_cells(client, auth: Auth, cases: Cases) -> None:
    h = await auth("admin")
    book = load_workbook(io.BytesIO((await client.get("/api/v1/reports/coverage?format=xlsx", headers=h)).content))
    summary = {row[0].value: row[1] for row in book["概况"].iter_rows(min_row=2)}
    _typed(summary["在册儿童"], "0")
    assert isinstance(summary["在册儿童"].value, int)
    _typed(summary["需求覆盖率"], "0.0%")
    assert 0 <= summary["需求覆盖率"].value <= 1
    text = (await client.get("/api/v1/reports/coverage?format=csv", headers=h)).content.decode("utf-8-sig")
    assert f"需求覆盖率,{summary['需求覆盖率'].value * 100:.1f}%" in text
    for row in book["分类供需"].iter_rows(min_row=2):
        for cell in row[2:]:
            _typed(cell, "0")

    r = await client.get(f"/api/v1/reports/street-ranking?year={TODAY.year}&format=xlsx", headers=h)
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    headers = [c.value for c in sheet[1]]
    first = next(iter(sheet.iter_rows(min_row=2, max_row=2)))
    _typed(first[0], "0")
    assert first[2].data_type == "n"
    rates = [i for i, name in enumerate(headers) if "权重" in str(name)]
    assert rates
    for i in rates:
        if first[i].value is not None:
            _typed(first[i], "0.0%")
            assert 0 <= first[i].value <= 1

    r = await client.get(
        f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={(TODAY.month - 1) // 3 + 1}&format=xlsx", headers=h
    )
    progress = {row[0].value: row[1] for row in load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(min_row=2)}
    _typed(progress["在册儿童"], "0")
    if progress["按时走访率"].value is not None:
        _typed(progress["按时走访率"], "0.0%")


async def test_export_job_runs_and_only_its_owner_fetches_it(client, auth: Auth, cases: Cases) -> None:
    h = await auth("admin")
    r = await client.post(
        "/api/v1/reports/exports",
        json={"kind": "quarterly_all", "format": "xlsx", "params": {"year": 2026, "quarter": 4}},
        headers=h,
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    # Embedded mode runs the task right after commit; with a broker the same handler runs in the worker.
    status = (await client.get(f"/api/v1/reports/exports/{job_id}", headers=h)).json()
    assert status["status"] == "done" and status["progress"] == 100 and status["steps_total"] == 2
    file = await client.get(status["download_url"], headers=h)
    book = load_workbook(io.BytesIO(file.content))
    assert any(name.startswith("福田街道") for name in book.sheetnames)
    assert any(name.startswith("园岭街道") for name in book.sheetnames)
    assert_problem(await client.get(f"/api/v1/reports/exports/{job_id}", headers=await auth("auditor")), 404)
    # A supervisor's export covers their street only.
    hs = await auth("supervisor")
    r = await client.post("/api/v1/reports/exports", json={"kind": "coverage_all", "format": "csv"}, headers=hs)
    status = (await client.get(f"/api/v1/reports/exports/{r.json()['id']}", headers=hs)).json()
    assert status["steps_total"] == 1
    text = (await client.get(status["download_url"], headers=hs)).content.decode("utf-8-sig")
    assert "福田街道" in text and "园岭街道" not in text


async def test_export_validation(client, auth: Auth) -> None:
    h = await auth("admin")
    assert_problem(await client.post("/api/v1/reports/exports", json={"kind": "everything"}, headers=h), 422)
    assert_problem(
        await client.post("/api/v1/reports/exports", json={"kind": "ranking", "params": {"year": "x"}}, headers=h), 422
    )
    assert_problem(await client.post("/api/v1/reports/exports", json={"kind": "ranking", "bogus": 1}, headers=h), 400)
    assert_problem(
        await client.post(
            "/api/v1/reports/exports", json={"kind": "ranking", "params": {"year": 2026}}, headers=await auth("fund")
        ),
        403,
    )
