"""The fund report on the console's reports page (issue #16): the API's figures on screen for the fund's readers
(the district, the auditor), a fund chosen from a list that keeps its value, and CSV and XLSX downloads equal to
``GET /api/v1/reports/fund?format=`` for the same fund; a role that does not read the fund sees no fund section and
cannot download it."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from tests.admin.console import console_login
from tests.admin.money import fund_with_gifts
from tests.conftest import Auth


def _cells(content: bytes) -> list[list[Any]]:
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows()]


async def test_the_fund_report_is_on_the_reports_page_with_the_apis_downloads(client, auth: Auth, db, world) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    for user in ("admin", "auditor"):
        h = await auth(user)
        api = (await client.get(f"/api/v1/reports/fund?fund_id={fund_id}", headers=h)).json()
        await console_login(client, user)
        page = await client.get(f"/admin/reports?fund_id={fund_id}")
        assert page.status_code == 200, page.text
        html = page.text
        assert f'<option value="{fund_id}" selected>福田区关爱儿童公益基金</option>' in html
        assert "基金报表（福田区关爱儿童公益基金）" in html
        balance = f"¥{api['balance_fen'] // 100:,}.{api['balance_fen'] % 100:02d}"
        assert f'data-figure="fund_balance">{balance}<' in html
        assert api["income_by_month"] and api["income_by_month"][0]["month"] in html
        for p in api["spending_by_purpose"]:
            assert p["label"] in html
        for fmt in ("csv", "xlsx"):
            link = f"/admin/reports/fund/download?format={fmt}&amp;"
            assert link in html and f"fund_id={fund_id}" in html
            mine = await client.get(f"/admin/reports/fund/download?format={fmt}&fund_id={fund_id}")
            theirs = await client.get(f"/api/v1/reports/fund?fund_id={fund_id}&format={fmt}", headers=h)
            assert mine.status_code == theirs.status_code == 200, (fmt, mine.text[:200], theirs.text[:200])
            assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
            assert mine.headers["content-type"] == theirs.headers["content-type"]
            if fmt == "csv":
                assert mine.content == theirs.content and mine.content.startswith(b"\xef\xbb\xbf")
            else:
                assert _cells(mine.content) == _cells(theirs.content)
                assert any(row[0] == "total" and row[1] == "balance" for row in _cells(mine.content))


async def test_a_bad_fund_choice_answers_in_place_and_other_roles_see_no_fund(client, auth: Auth, db, world) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    await console_login(client, "admin")
    bad = await client.get("/admin/reports?fund_id=999999")
    assert bad.status_code == 422 and "请从列表中选择基金" in bad.text and 'id="report-fund"' in bad.text
    for raw in ("x", "99999999999"):
        r = await client.get(f"/admin/reports/fund/download?format=csv&fund_id={raw}")
        assert r.status_code == 422 and "请选择基金" in r.text
    assert (await client.get("/admin/reports/fund/download?format=csv&fund_id=999999")).status_code == 404
    await console_login(client, "supervisor")
    page = await client.get("/admin/reports")
    assert page.status_code == 200 and 'id="report-fund"' not in page.text
    assert (await client.get(f"/admin/reports/fund/download?format=csv&fund_id={fund_id}")).status_code == 403
