"""Bank statements as Chinese banks export them: GBK or UTF-8, Chinese headers, saved layouts, preview first."""

from __future__ import annotations

import base64
import codecs
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from marketplace import clock
from marketplace.errors import Invalid
from marketplace.funds import statements
from marketplace.funds.models import Donation
from tests.conftest import Auth, assert_problem

IMPORT = "/api/v1/donations/offline/import"
PREVIEW = "/api/v1/donations/offline/import/preview"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _gbk_statement(day: dt.date) -> bytes:
    # Title lines above the header, slashed dates, thousands separators, a totals line: as a bank exports it.
    text = (
        "福田农商银行 账户交易明细\n"
        "账号：4000 1234 5678,户名：福田区未成年人保护公益基金\n"
        "交易日期,交易金额,对方户名,摘要,流水号\n"
        f'{day:%Y/%m/%d},"1,000.00",深圳市爱心科技有限公司,捐赠,GBK-1\n'
        f"{day:%Y/%m/%d},50.5,李四,捐赠,GBK-2\n"
        f"{day:%Y/%m/%d},-12.00,,手续费,GBK-3\n"
        "合计,1038.50,,,\n"
    )
    return text.encode("gbk")


async def _donations(db) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(Donation)) or 0)


async def test_a_gbk_statement_with_chinese_headers_is_previewed_then_imported(
    client, auth: Auth, fund_id: int, db
) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=2)
    body = {"fund_id": fund_id, "file_base64": _b64(_gbk_statement(day))}
    r = await client.post(PREVIEW, json=body, headers=fm)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["encoding"] == "gbk" and preview["problems"] == [] and preview["header_row"] == 3
    assert preview["columns"]["date"] == "交易日期" and preview["columns"]["reference"] == "流水号"
    assert [(x["reference"], x["amount_fen"], x["payer"]) for x in preview["lines"]] == [
        ("GBK-1", 100_000, "深圳市爱心科技有限公司"),
        ("GBK-2", 5_050, "李四"),
        ("GBK-3", -1_200, ""),
    ]
    assert preview["income_fen"] == 105_050 and preview["expense_fen"] == 1_200
    assert await _donations(db) == 0  # a preview stores nothing

    r = await client.post(IMPORT, json=body, headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["created_fen"] == 105_050 and r.json()["not_gifts"] == ["GBK-3"]
    assert await _donations(db) == 2
    again = (await client.post(PREVIEW, json=body, headers=fm)).json()
    assert [x["already_recorded"] for x in again["lines"]] == [True, True, False]
    r = await client.post(IMPORT, json=body, headers=fm)
    assert r.json()["created"] == [] and r.json()["already_recorded"] == ["GBK-1", "GBK-2"]


async def test_utf8_with_bom_and_income_expense_columns(client, auth: Auth, fund_id: int) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=1)
    text = f"交易日期,收入,支出,对方户名,摘要,流水号\n{day},200.00,,王五,捐赠,U-1\n{day},,3.00,,短信费,U-2\n"
    for data in (codecs.BOM_UTF8 + text.encode(), text.encode()):
        r = await client.post(PREVIEW, json={"fund_id": fund_id, "file_base64": _b64(data)}, headers=fm)
        assert r.status_code == 200, r.text
        assert [(x["reference"], x["amount_fen"]) for x in r.json()["lines"]] == [("U-1", 20_000), ("U-2", -300)]
    # Text as before still works, with the Chinese headers too.
    r = await client.post(IMPORT, json={"fund_id": fund_id, "file": text}, headers=fm)
    assert r.status_code == 201 and r.json()["created_fen"] == 20_000


async def test_a_bad_file_is_422_naming_row_and_column_and_stores_nothing(client, auth: Auth, fund_id: int, db) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=1)
    text = f"交易日期,交易金额,对方户名,摘要,流水号\n{day},100,甲,捐赠,A-1\n{day},一百元,乙,捐赠,A-2\n"
    body = {"fund_id": fund_id, "file_base64": _b64(text.encode("gbk"))}
    problem = assert_problem(await client.post(IMPORT, json=body, headers=fm), 422)
    assert "第 3 行" in str(problem) and "交易金额" in str(problem)
    assert await _donations(db) == 0
    r = await client.post(PREVIEW, json=body, headers=fm)
    assert r.status_code == 200
    assert [(p["row"], p["column"]) for p in r.json()["problems"]] == [(3, "交易金额")]
    assert [x["reference"] for x in r.json()["lines"]] == ["A-1"]
    bad = [
        b"\xff\xfe\xff\xfe not a text file",
        "日期说明\n随便写写\n".encode("gbk"),  # no header
        "交易日期,交易金额,流水号\n2026-13-45,1,Z-1\n".encode(),
        f"交易日期,交易金额,流水号\n{day},1,Z-1\n{day},2,Z-1\n".encode(),
        f"交易日期,收入,支出,流水号\n{day},1,2,Z-1\n".encode(),
        f"交易日期,交易金额,流水号\n{day},Infinity,Z-1\n".encode(),
        f"交易日期,交易金额,流水号\n{day},1e30,Z-1\n".encode(),
        f"date,amount_fen,reference\n{day},99999999999999999999,Z-1\n".encode(),
    ]
    for data in bad:
        assert_problem(await client.post(IMPORT, json={"fund_id": fund_id, "file_base64": _b64(data)}, headers=fm), 422)
    assert_problem(
        await client.post(
            IMPORT, json={"fund_id": fund_id, "file": text, "file_base64": body["file_base64"]}, headers=fm
        ),
        422,
    )
    assert_problem(await client.post(IMPORT, json={"fund_id": fund_id}, headers=fm), 422)
    assert await _donations(db) == 0


async def test_a_saved_bank_layout_reads_that_banks_headers(client, auth: Auth, fund_id: int) -> None:
    fm = await auth("fund")
    mapping = {
        "bank_code": "pab",
        "name": "平安银行",
        "columns": {
            "date": "记账时间",
            "amount": "发生额",
            "payer": "对方账户名",
            "memo": "用途",
            "reference": "业务编号",
        },
        "encoding": "gbk",
        "date_format": "%Y%m%d",
        "skip_rows": 1,
    }
    r = await client.post("/api/v1/statement-mappings", json=mapping, headers=fm)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["columns"]["date"] == "记账时间"
    assert_problem(await client.post("/api/v1/statement-mappings", json=mapping, headers=fm), 409)
    assert_problem(
        await client.post(
            "/api/v1/statement-mappings", json={**mapping, "bank_code": "x"}, headers=await auth("auditor")
        ),
        403,
    )
    assert_problem(
        await client.post(
            "/api/v1/statement-mappings", json={**mapping, "bank_code": "y", "columns": {"date": "日期"}}, headers=fm
        ),
        422,
    )
    listed = (await client.get("/api/v1/statement-mappings", headers=await auth("auditor"))).json()
    assert [m["bank_code"] for m in listed["items"]] == ["pab"]
    day = clock.today() - dt.timedelta(days=1)
    text = f"平安银行对账单\n记账时间,发生额,对方账户名,用途,业务编号\n{day:%Y%m%d},66.00,赵六,捐赠,P-1\n"
    body = {"fund_id": fund_id, "file_base64": _b64(text.encode("gbk")), "mapping_id": saved["id"]}
    r = await client.post(PREVIEW, json=body, headers=fm)
    assert r.status_code == 200 and r.json()["problems"] == [], r.text
    assert [(x["reference"], x["amount_fen"], x["date"]) for x in r.json()["lines"]] == [
        ("P-1", 6_600, day.isoformat())
    ]
    r = await client.patch(
        f"/api/v1/statement-mappings/{saved['id']}", json={**mapping, "name": "平安银行（企业网银）"}, headers=fm
    )
    assert r.status_code == 200 and r.json()["name"] == "平安银行（企业网银）"
    assert (await client.get(f"/api/v1/statement-mappings/{saved['id']}", headers=fm)).json()["skip_rows"] == 1
    assert_problem(await client.get("/api/v1/statement-mappings/999", headers=fm), 404)
    r = await client.post(IMPORT, json=body, headers=fm)
    assert r.status_code == 201 and r.json()["created_fen"] == 6_600


def test_decode_prefers_utf8_and_falls_back_to_gbk() -> None:
    assert statements.decode("交易日期".encode()) == ("交易日期", "utf-8")
    assert statements.decode("交易日期".encode("gbk")) == ("交易日期", "gbk")
    assert statements.decode(codecs.BOM_UTF8 + "摘要".encode()) == ("摘要", "utf-8-sig")
    with pytest.raises(Invalid):
        statements.decode("交易日期".encode("gbk"), "utf-8")


LINES = st.lists(
    st.tuples(
        st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
        st.integers(min_value=-(10**11), max_value=10**11).filter(bool),
        st.text(alphabet="甲乙丙丁公司有限 ", min_size=0, max_size=8).map(str.strip),
    ),
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(LINES, st.sampled_from(["gbk", "utf-8", "utf-8-sig"]), st.booleans())
def test_both_layouts_read_back_exactly_what_was_written(lines, encoding, split) -> None:
    def yuan(fen: int) -> str:
        return f"{Decimal(fen) / 100:,.2f}"  # exact, with thousands separators as banks print them

    if split:
        rows = ["交易日期,收入,支出,对方户名,流水号"] + [
            f'{d:%Y/%m/%d},"{yuan(f) if f > 0 else ""}","{yuan(-f) if f < 0 else ""}",{p},R{i}'
            for i, (d, f, p) in enumerate(lines)
        ]
    else:
        rows = ["交易日期,交易金额,对方户名,流水号"] + [
            f'{d:%Y-%m-%d},"{yuan(f)}",{p},R{i}' for i, (d, f, p) in enumerate(lines)
        ]
    parsed = statements.parse_file("\n".join(rows).encode(encoding))
    assert parsed.problems == []
    assert [(x.on, x.amount_fen, x.payer, x.reference) for x in parsed.lines] == [
        (d, f, p, f"R{i}") for i, (d, f, p) in enumerate(lines)
    ]


def _xlsx_statement(day: dt.date) -> bytes:
    """As online banking exports it: a title row, typed date and number cells, a totals row."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["招商银行 账户交易明细"])
    sheet.append(["交易日期", "收入", "支出", "对方户名", "摘要", "流水号"])
    sheet.append([dt.datetime.combine(day, dt.time(9, 30)), 300.5, None, "赵六", "捐赠", "X-1"])
    sheet.append([day, None, 8, None, "手续费", "X-2"])
    sheet.append(["合计", 300.5, 8, None, None, None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_an_xlsx_statement_is_previewed_then_imported(client, auth: Auth, fund_id: int, db) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=3)
    body = {"fund_id": fund_id, "file_base64": _b64(_xlsx_statement(day))}
    preview = (await client.post(PREVIEW, json=body, headers=fm)).json()
    assert preview["encoding"] == "xlsx" and preview["problems"] == [] and preview["header_row"] == 2
    assert [(x["reference"], x["amount_fen"], x["payer"], x["date"]) for x in preview["lines"]] == [
        ("X-1", 30_050, "赵六", day.isoformat()),
        ("X-2", -800, "", day.isoformat()),
    ]
    r = await client.post(IMPORT, json=body, headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["created_fen"] == 30_050 and await _donations(db) == 1
    # A damaged workbook is refused with a Chinese message, nothing stored.
    broken = {"fund_id": fund_id, "file_base64": _b64(b"PK\x03\x04" + b"\x00" * 64)}
    problem = assert_problem(await client.post(IMPORT, json=broken, headers=fm), 422)
    assert "XLSX" in str(problem) and await _donations(db) == 1
