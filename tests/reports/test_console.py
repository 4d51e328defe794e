"""The reports console: each report of the district on screen with the API's numbers, filters that keep their
values, CSV and XLSX downloads equal to the API's for the same query, and the exports list (status in Chinese,
progress, who started it, when it finished, why it failed)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from marketplace import clock
from marketplace.auth.models import User
from marketplace.reports.models import ExportJob
from tests.admin.console import console_login, htmx
from tests.conftest import Auth
from tests.procurement.helpers import make_budget
from tests.reports.data import TODAY, Cases, build_cases

QUARTER = (TODAY.month - 1) // 3 + 1


@pytest.fixture
async def cases(db, world) -> Cases:
    async with db.session() as session:
        return await build_cases(session, world)


def cells(content: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(content))
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


async def test_each_report_shows_the_api_numbers_and_downloads_what_the_api_gives(
    client, auth: Auth, world, cases: Cases
) -> None:
    h = await auth("admin")
    budget = await make_budget(client, await auth("procurement"))
    street = world.streets[1]
    await console_login(client, "admin")
    query = f"year={TODAY.year}&quarter={QUARTER}&street_id={street}&budget_id={budget['id']}"
    page = await client.get(f"/admin/reports?{query}")
    assert page.status_code == 200, page.text
    html = page.text
    # The filters keep their values.
    assert f'<option value="{street}" selected>园岭街道</option>' in html
    assert f'<option value="{QUARTER}" selected>' in html and f'value="{TODAY.year}"' in html
    assert f'<option value="{budget["id"]}" selected>' in html
    coverage = (await client.get(f"/api/v1/reports/coverage?street_id={street}", headers=h)).json()
    assert "供需覆盖（园岭街道）" in html
    assert f'data-figure="children">{coverage["children"]}<' in html
    assert f'data-figure="open_needs">{coverage["open_needs"]}<' in html
    overdue = (await client.get(f"/api/v1/reports/overdue?street_id={street}", headers=h)).json()
    assert f'data-figure="visits_overdue">{overdue["visits_overdue"]}<' in html
    dispatch = (
        await client.get(f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={QUARTER}&street_id={street}", headers=h)
    ).json()
    assert f"{TODAY.year}年第{QUARTER}季度工作调度（园岭街道）" in html
    assert f'data-figure="children_total">{dispatch["progress"]["children_total"]}<' in html
    assert "预算执行情况（专项资金" in html and 'data-figure="budget_rate">0.00%<' in html

    api_paths = {
        "coverage": f"/api/v1/reports/coverage?street_id={street}",
        "overdue": f"/api/v1/reports/overdue?street_id={street}",
        "quarterly": f"/api/v1/reports/quarterly?year={TODAY.year}&quarter={QUARTER}&street_id={street}",
        "ranking": f"/api/v1/reports/street-ranking?year={TODAY.year}",
        "budget": f"/api/v1/reports/budget-execution?budget_id={budget['id']}",
    }
    for report, api_path in api_paths.items():
        for fmt in ("csv", "xlsx"):
            link = f"/admin/reports/{report}/download?format={fmt}&amp;{query.replace('&', '&amp;')}"
            assert link in html, (report, fmt)
            mine = await client.get(link.replace("&amp;", "&"))
            theirs = await client.get(f"{api_path}&format={fmt}", headers=h)
            assert mine.status_code == theirs.status_code == 200, (report, fmt, mine.text[:200], theirs.text[:200])
            assert mine.headers["content-disposition"] == theirs.headers["content-disposition"], report
            assert mine.headers["content-type"] == theirs.headers["content-type"]
            if fmt == "csv":
                assert mine.content == theirs.content, report
                assert mine.content.startswith(b"\xef\xbb\xbf")
            else:
                assert cells(mine.content) == cells(theirs.content), report
    overdue_csv = (await client.get(f"/admin/reports/overdue/download?format=csv&street_id={street}")).text
    assert "园岭街道" in overdue_csv and "福田街道" not in overdue_csv and "合计" in overdue_csv


async def test_bad_filters_answer_in_place_and_scoped_roles_keep_their_street(
    client, auth: Auth, world, cases: Cases
) -> None:
    await console_login(client, "admin")
    r = await client.get("/admin/reports?street_id=99999&quarter=2")
    assert r.status_code == 422 and "请从列表中选择街道" in r.text
    assert '<option value="2" selected>' in r.text and "供需覆盖（全区）" in r.text
    r = await client.get("/admin/reports?street_id=abc")
    assert r.status_code == 422 and "请从列表中选择街道" in r.text
    r = await client.get("/admin/reports?budget_id=123456")
    assert r.status_code == 422 and "请从列表中选择" in r.text
    assert (await client.get("/admin/reports?year=1800")).status_code == 400
    assert (await client.get("/admin/reports/coverage/download?format=pdf")).status_code == 400
    assert (await client.get("/admin/reports/everything/download?format=csv")).status_code in (400, 404)
    assert (await client.get("/admin/reports/budget/download?format=csv")).status_code == 422
    assert (await client.get("/admin/reports/budget/download?format=csv&budget_id=999999")).status_code == 404

    # A supervisor sees their street only, whatever the address asks for; no budgets (not a budget reader).
    await console_login(client, "supervisor")
    r = await client.get(f"/admin/reports?street_id={world.streets[1]}")
    assert r.status_code == 200 and "供需覆盖（福田街道）" in r.text and "园岭街道</option>" not in r.text
    assert 'id="report-budget"' not in r.text
    text = (await client.get(f"/admin/reports/coverage/download?format=csv&street_id={world.streets[1]}")).text
    assert "福田街道" in text and "园岭街道" not in text
    # Roles without child reports get no page.
    await console_login(client, "fund")
    assert (await client.get("/admin/reports")).status_code == 403
    assert (await client.get("/admin/reports/coverage/download?format=csv")).status_code == 403


async def test_exports_list_status_progress_who_finished_and_failure(client, auth: Auth, db, cases: Cases) -> None:
    csrf = await console_login(client, "admin")
    r = await client.post(
        "/admin/exports",
        data={"kind": "quarterly_all", "format": "csv", "year": str(TODAY.year), "quarter": str(QUARTER)},
        headers=htmx(csrf),
    )
    assert r.status_code == 202, r.text
    async with db.session() as s:
        admin = await s.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        job = await s.scalar(select(ExportJob).order_by(ExportJob.id.desc()))
        assert job is not None
        s.add(
            ExportJob(
                kind="ranking",
                format="xlsx",
                params={"year": TODAY.year},
                status="failed",
                error="导出任务的发起人已停用",
                created_by=admin.id,
                finished_at=clock.now(),
            )
        )
        await s.commit()
    before = job.id
    for bad, word in (({"kind": "everything"}, "未知的导出类型"), ({"kind": "ranking", "year": "x"}, "请输入整数")):
        r = await client.post("/admin/exports", data={"format": "csv", **bad}, headers=htmx(csrf))
        assert r.status_code == 422 and r.headers["hx-retarget"] == "#export-errors" and word in r.text
    async with db.session() as s:
        assert await s.scalar(select(ExportJob.id).order_by(ExportJob.id.desc())) == before + 1

    # Back on the page later: the list shows both, in Chinese, with who and when.
    page = (await client.get("/admin/reports")).text
    row = page.split(f'id="export-{before}"')[1].split("</div>\n</div>")[0]
    assert "已完成" in row and "100%" in row and admin.display_name in row and "完成" in row
    assert f'href="/admin/exports/{before}/download"' in row
    failed = page.split(f'id="export-{before + 1}"')[1]
    assert "失败" in failed and "失败原因：导出任务的发起人已停用" in failed
    file = await client.get(f"/admin/exports/{before}/download")
    api = await client.get(f"/api/v1/reports/exports/{before}/download", headers=await auth("admin"))
    assert file.status_code == 200 and file.content == api.content
    # Another user's export is not theirs to see.
    await console_login(client, "auditor")
    assert (await client.get(f"/admin/exports/{before}")).status_code == 404
    assert f'id="export-{before}"' not in (await client.get("/admin/reports")).text
