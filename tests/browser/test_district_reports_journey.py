"""The district admin's reports in a real browser, on a laptop (1366×900) and on a phone (360×740): log in, open
the reports, read each report of the district (coverage, overdue, quarterly dispatch, street ranking, budget
execution) with the API's numbers, change year, quarter and street (the filters keep their values), download CSV
and XLSX (equal to the API's download for the same query), start a background export, leave the page, come back to
find it listed as done with who started it, and download it. Nothing scrolls sideways; screenshots are saved."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from marketplace.funds import service as funds
from tests.browser.test_accessibility import check
from tests.browser.test_console import login
from tests.browser.test_director_journey import LAPTOP, PHONE, api, go, no_sideways_scroll, token
from tests.funds.support import offline_gift
from tests.procurement.helpers import line_id, make_budget, open_procurement, signed_contract
from tests.reports.data import TODAY, build_cases

pytestmark = pytest.mark.browser

QUARTER = (TODAY.month - 1) // 3 + 1
OTHER_QUARTER = 1 if QUARTER != 1 else 2


@pytest.fixture
async def district(client: Any, auth: Any, db: Any, world: Any) -> dict[str, Any]:
    async with db.session() as session:
        await build_cases(session, world)
    budget = await make_budget(client, await auth("procurement"))
    return {"budget_id": budget["id"], "street": world.streets[1]}


def api_file(base: str, username: str, path: str) -> tuple[bytes, str]:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token(base, username)}"})
    with urllib.request.urlopen(req) as r:
        return r.read(), r.headers["Content-Disposition"]


def cells(content: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(content))
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def figure(page: Any, name: str) -> str:
    return str(page.locator(f"[data-figure={name}]").first.inner_text()).strip()


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_district_admin_reads_filters_downloads_and_exports_the_reports(
    live_server: str, district: dict[str, Any], shots: Path, browser: Any, device: str
) -> None:
    base, phone = live_server, device == "phone"
    context = browser.new_context(**(PHONE if phone else LAPTOP), accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        no_sideways_scroll(page, page.url)
        page.screenshot(path=str(shots / f"{device}-district-reports-{name}.png"), full_page=True)

    login(page, base, "admin")
    go(page, phone, "报表与导出")
    page.wait_for_url(f"{base}/admin/reports")
    # The district as a whole: each report with the API's numbers.
    coverage = api(base, "admin", "/api/v1/reports/coverage")
    assert "供需覆盖（全区）" in page.inner_text("main")
    assert figure(page, "children") == str(coverage["children"])
    assert figure(page, "open_needs") == str(coverage["open_needs"])
    overdue = api(base, "admin", "/api/v1/reports/overdue")
    assert figure(page, "visits_overdue") == str(overdue["visits_overdue"])
    assert figure(page, "referrals_overdue") == str(overdue["referrals_overdue"])
    dispatch = api(base, "admin", f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={QUARTER}")
    assert figure(page, "children_total") == str(dispatch["progress"]["children_total"])
    ranking = api(base, "admin", f"/api/v1/reports/street-ranking?year={TODAY.year}")
    table = page.locator("#report-ranking table").inner_text()
    assert all(i["street_name"] in table for i in ranking["items"])
    execution = api(base, "admin", f"/api/v1/reports/budget-execution?budget_id={district['budget_id']}")
    assert "预算执行情况（专项资金" in page.inner_text("#report-budget")
    assert figure(page, "budget_rate") == f"{execution['total']['execution_rate_bp'] / 100:.2f}%"
    shot("district")

    # One street, another quarter: the filters keep their values and every report follows.
    filters = page.locator("#report-filters")
    filters.locator("select[name=street_id]").select_option(str(district["street"]))
    filters.locator("select[name=quarter]").select_option(str(OTHER_QUARTER))
    filters.locator("button[type=submit]").click()
    page.wait_for_url(f"**/admin/reports?*street_id={district['street']}*")
    assert filters.locator("select[name=street_id]").input_value() == str(district["street"])
    assert filters.locator("select[name=quarter]").input_value() == str(OTHER_QUARTER)
    assert filters.locator("input[name=year]").input_value() == str(TODAY.year)
    street = api(base, "admin", f"/api/v1/reports/coverage?street_id={district['street']}")
    assert "供需覆盖（园岭街道）" in page.inner_text("main")
    assert figure(page, "children") == str(street["children"])
    assert f"{TODAY.year}年第{OTHER_QUARTER}季度工作调度（园岭街道）" in page.inner_text("main")
    shot("street")

    # Each report downloads as CSV and XLSX, exactly what the API gives for the same query.
    s = district["street"]
    api_paths = {
        "coverage": f"/api/v1/reports/coverage?street_id={s}",
        "overdue": f"/api/v1/reports/overdue?street_id={s}",
        "quarterly": f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={OTHER_QUARTER}&street_id={s}",
        "ranking": f"/api/v1/reports/street-ranking?year={TODAY.year}",
        "budget": f"/api/v1/reports/budget-execution?budget_id={district['budget_id']}",
    }
    for report, path in api_paths.items():
        for fmt in ("csv", "xlsx"):
            with page.expect_download() as info:
                page.click(f"[data-download={report}-{fmt}]")
            download = info.value
            mine = Path(download.path()).read_bytes()
            theirs, disposition = api_file(base, "admin", f"{path}&format={fmt}")
            assert download.suggested_filename in disposition, (report, fmt, download.suggested_filename)
            if fmt == "csv":
                assert mine == theirs, report
            else:
                assert cells(mine) == cells(theirs), report

    # A background export: started, the page left, and found done on coming back.
    exporter = page.locator("#export-form")
    exporter.locator("select[name=kind]").select_option("quarterly_all")
    exporter.locator("select[name=format]").select_option("xlsx")
    exporter.locator("button[type=submit]").click()
    page.locator("#export-list .export-job").first.wait_for()
    page.goto(f"{base}/admin/")
    go(page, phone, "报表与导出")
    page.wait_for_url(f"{base}/admin/reports")
    job = page.locator("#export-list .export-job").first
    job.locator("a", has_text="下载").wait_for(timeout=20000)
    text = job.inner_text()
    assert "已完成" in text and "100%" in text and "季度工作调度（逐街道）" in text and "发起" in text
    shot("exports")
    job_id = int(str(job.get_attribute("id")).removeprefix("export-"))
    with page.expect_download() as info:
        job.locator("a", has_text="下载").click()
    mine = Path(info.value.path()).read_bytes()
    theirs, _ = api_file(base, "admin", f"/api/v1/reports/exports/{job_id}/download")
    assert mine == theirs
    exports = api(base, "admin", "/api/v1/reports/exports")["items"]
    assert exports[0]["id"] == job_id and exports[0]["status"] == "done"
    # The export took the page's filters.
    assert exports[0]["params"] == {"year": TODAY.year, "quarter": OTHER_QUARTER}
    assert not errors, errors
    context.close()


@pytest.fixture
async def new_forms(client: Any, auth: Any, db: Any, world: Any) -> dict[str, Any]:
    """A reports picture, a signed contract, a non-open procurement awaiting the district's approval, and a gift."""
    async with db.session() as session:
        await build_cases(session, world)
        fund = await funds.ensure_fund(session, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
        fund_id = fund.id
    budget = await make_budget(client, await auth("procurement"))
    line = line_id(budget, "purchase_services")
    contract = await signed_contract(client, auth, line, world.orgs[0], 1_000_000)
    waiting = await open_procurement(
        client, auth, line, estimated_fen=2_000_000, method="competitive_consultation", approved_on=None
    )
    gift = await offline_gift(client, await auth("fund"), fund_id, "AXE-1", 10_000, TODAY)
    return {"contract": contract["id"], "procurement": waiting["id"], "gift": gift}


def test_the_new_forms_pass_axe_and_fit_a_phone(live_server: str, new_forms: dict[str, Any], browser: Any) -> None:
    base = live_server
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    found: list[str] = []
    for role, path in (
        ("admin", "/admin/reports"),
        ("admin", f"/admin/procurement/{new_forms['procurement']}"),
        ("procurement", f"/admin/procurement/contracts/{new_forms['contract']}"),
        ("fund", "/admin/funds/donations/new"),
        ("fund", f"/admin/funds/donations/{new_forms['gift']}"),
    ):
        login(page, base, role)
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (role, path)
        check(page, f"{role} {path}", found)
        page.context.clear_cookies()
    context.close()
    assert not found, f"{len(found)} accessibility violations:\n" + "\n".join(found)
