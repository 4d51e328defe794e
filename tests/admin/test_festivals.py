"""The festival page (/admin/allowances/festivals): the district creates a plan with amounts per category, edits it
until its run, prepares the run (the run's page for sign-off), sees the line's figures move, re-runs with nobody new
(nothing written), and changes the plan by a new version; bad input answered in place with the posted values,
nothing changed; the auditor reads without a form; other roles are refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace.procurement.models import AllowanceRun, FestivalPlan
from tests.admin.console import console_login, csrf_of
from tests.procurement.allowance_helpers import KID, YEAR, add_children, grant
from tests.procurement.helpers import line_id, make_budget

PAGE = f"/admin/allowances/festivals?year={YEAR}"
LINES = [
    {"code": "festival", "name": "节日慰问", "appropriation_fen": 1_000_000},
    {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 20_000_000},
]


async def post(client: Any, url: str, data: dict[str, str]) -> Any:
    page = await client.get(PAGE)
    return await client.post(url, data={"_csrf_token": csrf_of(page.text), **data}, follow_redirects=False)


async def _count(db: Any, model: Any) -> int:
    async with db.session(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_district_plans_runs_and_versions_a_festival(client, auth, db, world, settings) -> None:
    budget = await make_budget(client, await auth("procurement"), lines=LINES, year=YEAR, name="专项")
    ids = await add_children(
        db, world, [("甲", ["orphan", "disabled"], "active", KID), ("乙", ["orphan"], "active", KID)]
    )
    await grant(db, settings, ids)
    line = str(line_id(budget, "festival"))
    await console_login(client, "admin")
    page = await client.get(PAGE)
    assert page.status_code == 200 and "新建慰问计划" in page.text and 'href="/admin/allowances/festivals"' in page.text
    form = {"year": str(YEAR), "festival": "mid_autumn", "pay_date": f"{YEAR}-09-20", "line_id": line, "note": ""}

    # Bad input: in place, the values as typed, nothing stored.
    refused = await post(client, "/admin/allowances/festivals", {**form, "cat_orphan": "六百"})
    assert refused.status_code == 422 and "金额须为大于 0 的元数" in refused.text and 'value="六百"' in refused.text
    refused = await post(
        client, "/admin/allowances/festivals", {**form, "pay_date": f"{YEAR + 1}-01-01", "cat_orphan": "600"}
    )
    assert refused.status_code == 422 and "不在" in refused.text and 'aria-invalid="true"' in refused.text
    assert await _count(db, FestivalPlan) == 0

    made = await post(client, "/admin/allowances/festivals", {**form, "cat_orphan": "600", "cat_disabled": "800.50"})
    assert made.status_code == 303, made.text
    async with db.session(write=False) as session:
        plan = await session.scalar(select(FestivalPlan))
        assert plan is not None and plan.amounts == {"orphan": 60_000, "disabled": 80_050}
    page = await client.get(PAGE)
    assert f"{YEAR}年中秋节慰问" in page.text and "¥800.50" in page.text and "¥10,000.00" in page.text
    assert "设定人" in page.text and ">admin（" in page.text
    dup = await post(client, "/admin/allowances/festivals", {**form, "cat_orphan": "600"})
    assert dup.status_code == 409 and "已有慰问计划" in dup.text

    # Edited in place before its run.
    saved = await post(
        client,
        f"/admin/allowances/festivals/{plan.id}/edit",
        {"mode": "edit", "pay_date": f"{YEAR}-09-21", "line_id": line, "cat_orphan": "500", "cat_disabled": "700"},
    )
    assert saved.status_code == 303, saved.text

    ran = await post(client, f"/admin/allowances/festivals/{plan.id}/runs", {})
    assert ran.status_code == 303 and "/admin/allowances/runs/" in ran.headers["location"]
    run_page = await client.get(ran.headers["location"])
    assert run_page.status_code == 200 and "签批" in run_page.text
    page = await client.get(PAGE)
    assert "¥1,200.00" in page.text and "待签批" in page.text  # 700 + 500 committed, the run waiting for sign-off
    assert "另立新版本" in page.text

    # Again with nobody new: the page says so, nothing written.
    runs = await _count(db, AllowanceRun)
    again = await post(client, f"/admin/allowances/festivals/{plan.id}/runs", {})
    assert again.status_code == 303 and "done=nothing" in again.headers["location"]
    assert "没有新增的发放对象" in (await client.get(again.headers["location"])).text
    assert await _count(db, AllowanceRun) == runs

    # In place after the run: refused; a new version kept beside the old one.
    stale = await post(client, f"/admin/allowances/festivals/{plan.id}/edit", {"mode": "edit", "cat_orphan": "900"})
    assert stale.status_code == 409 and "新版本" in stale.text and 'value="900"' in stale.text
    v2 = await post(client, f"/admin/allowances/festivals/{plan.id}/edit", {"mode": "version", "cat_orphan": "900"})
    assert v2.status_code == 303, v2.text
    page = await client.get(PAGE)
    assert "第 2 版" in page.text and "历史版本：第 1 版" in page.text


async def test_roles_and_the_line_short_of_money(client, auth, db, world, settings) -> None:
    budget = await make_budget(
        client,
        await auth("procurement"),
        lines=[{"code": "festival", "name": "节日慰问", "appropriation_fen": 50_000}],
        year=YEAR,
    )
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    await console_login(client, "procurement")
    made = await post(
        client,
        "/admin/allowances/festivals",
        {
            "year": str(YEAR),
            "festival": "spring",
            "pay_date": f"{YEAR}-02-10",
            "line_id": str(line_id(budget, "festival")),
            "cat_orphan": "600",
        },
    )
    assert made.status_code == 303, made.text
    async with db.session(write=False) as session:
        plan_id = await session.scalar(select(FestivalPlan.id))
    short = await post(client, f"/admin/allowances/festivals/{plan_id}/runs", {})
    assert short.status_code == 409 and "缺口 100.00元" in short.text
    assert await _count(db, AllowanceRun) == 0

    await console_login(client, "auditor")
    page = await client.get(PAGE)
    assert page.status_code == 200 and f"{YEAR}年春节慰问" in page.text
    assert "新建慰问计划" not in page.text and "<form" not in page.text.split("<main")[1]  # no form for the auditor
    for who in ("director", "supervisor", "fund", "org"):
        await console_login(client, who)
        assert (await client.get(PAGE)).status_code == 403


async def test_the_run_list_downloads_as_the_api_and_is_audited(client, auth, db, world, settings) -> None:
    import io

    import openpyxl

    from marketplace.audit.models import AuditEntry

    budget = await make_budget(client, await auth("procurement"), lines=LINES, year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    body = {
        "year": YEAR,
        "festival": "national_day",
        "pay_date": f"{YEAR}-09-28",
        "line_id": line_id(budget, "festival"),
        "amounts": [{"category": "orphan", "amount_fen": 30_000}],
    }
    plan = (await client.post("/api/v1/allowances/festival-plans", json=body, headers=await auth("admin"))).json()
    out = await client.post(f"/api/v1/allowances/festival-plans/{plan['id']}/runs", headers=await auth("admin"))
    run_id = out.json()["run"]["run_id"]
    await console_login(client, "auditor")
    page = await client.get(PAGE)
    assert f'href="/admin/allowances/runs/{run_id}/list?format=xlsx"' in page.text
    async with db.session(write=False) as session:
        before = int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    got = await client.get(f"/admin/allowances/runs/{run_id}/list?format=xlsx")
    assert got.status_code == 200 and got.content[:2] == b"PK"
    rows = list(openpyxl.load_workbook(io.BytesIO(got.content)).active.iter_rows(values_only=True))
    assert rows[1][2] == "甲" and str(rows[1][6]) == "300"
    async with db.session(write=False) as session:
        assert int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0) > before
    await console_login(client, "director")
    assert (await client.get(f"/admin/allowances/runs/{run_id}/list")).status_code == 403
