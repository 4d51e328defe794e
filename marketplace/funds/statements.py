"""Bank statements: decoding, the usual Chinese layouts, saved per-bank column mappings, preview and import.

A statement arrives as bytes (a CSV in GBK, GB18030 or UTF-8, with or without a byte-order mark; or an XLSX
workbook, its first sheet, as online banking exports it) or as text. Its header
row names the columns either in English (``date, reference, amount_fen | amount, payer``) or as Chinese banks
export them (交易日期, 交易金额 or 收入/支出, 对方户名, 摘要, 流水号); a saved :class:`BankStatementMapping` names
a bank's own headers, its encoding, its date format and how many title lines precede the header. Parsing
collects every problem with its row and column, so a preview can show them all; an import refuses the file
on the first one and stores nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.funds import accounts
from marketplace.funds.donations import mark_succeeded
from marketplace.funds.models import Donation, Donor
from marketplace.funds.reconciliation import Record
from marketplace.funds.reconciliation_models import BankStatementMapping
from marketplace.funds.service import get_fund, require_reader, require_writer

MAX_LINES = 200_000
MAX_BYTES = 8_000_000
# An XLSX workbook is a zip file: this is how its bytes begin (a CSV never does).
XLSX_MAGIC = b"PK\x03\x04"
MAX_YUAN = 10_000_000_000  # no line moves ten billion yuan; keeps fen inside BIGINT
HEADER_SCAN = 20  # title lines a bank puts above the header row
ENCODINGS = ("auto", "utf-8", "gbk")
FIELDS = ("date", "amount", "amount_fen", "credit", "debit", "payer", "memo", "reference")
FIELD_LABELS = {
    "date": "交易日期",
    "amount": "交易金额",
    "amount_fen": "金额（分）",
    "credit": "收入",
    "debit": "支出",
    "payer": "对方户名",
    "memo": "摘要",
    "reference": "流水号",
}
# The headers recognised without a saved mapping, English first (as the API has always taken them).
STANDARD_HEADERS: dict[str, tuple[str, ...]] = {
    "date": ("date", "交易日期", "记账日期", "入账日期", "交易时间", "日期"),
    "amount": ("amount", "amount_yuan", "交易金额", "发生额", "金额"),
    "amount_fen": ("amount_fen",),
    "credit": ("credit", "收入", "收入金额", "贷方发生额", "贷方金额", "存入"),
    "debit": ("debit", "支出", "支出金额", "借方发生额", "借方金额", "支取"),
    "payer": ("payer", "对方户名", "对方账户名称", "对方名称", "对方单位"),
    "memo": ("memo", "摘要", "用途", "附言", "备注"),
    "reference": ("reference", "流水号", "交易流水号", "银行流水号", "凭证号"),
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


@dataclass(frozen=True)
class BankLine:
    on: dt.date
    amount_fen: int
    reference: str
    payer: str
    memo: str = ""


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Layout:
    """Which header holds which field (``columns``), the encoding, the date format and title lines to skip."""

    columns: Mapping[str, str] = field(default_factory=dict)
    encoding: str = "auto"
    date_format: str = ""
    skip_rows: int = 0


@dataclass
class Parsed:
    lines: list[BankLine]
    problems: list[Problem]
    encoding: str
    header_row: int
    columns: dict[str, str]  # field -> the header it was read from

    def raise_first(self) -> None:
        if self.problems:
            p = self.problems[0]
            where = f"file[{p.row}].{p.column}" if p.row else "file"
            raise Invalid.field(where, p.message)


# ---------------------------------------------------------------- decoding and parsing


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """The text of a statement file and the encoding it was read in; 422 if it is in none we know."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    tries = {"utf-8": ("utf-8",), "gbk": ("gb18030",)}.get(encoding, ("utf-8", "gb18030"))
    for name in tries:
        try:
            return data.decode(name), "gbk" if name == "gb18030" else name
        except UnicodeDecodeError:
            continue
    raise Invalid.field("file", "对账单文件编码无法识别，请使用 UTF-8 或 GBK (file is neither UTF-8 nor GBK)")


def _norm(header: str) -> str:
    return header.strip().strip("\ufeff").lower()


def _resolve_columns(headers: Sequence[str], layout: Layout) -> dict[str, str]:
    """field -> header actually present, from the saved mapping first, then the standard names."""
    present = {_norm(h): h.strip() for h in headers if h and h.strip()}
    found: dict[str, str] = {}
    for name in FIELDS:
        wanted = layout.columns.get(name)
        candidates = (wanted,) if wanted else STANDARD_HEADERS[name]
        for c in candidates:
            if c and _norm(c) in present:
                found[name] = present[_norm(c)]
                break
    return found


def _complete(found: Mapping[str, str]) -> bool:
    has_amount = "amount" in found or "amount_fen" in found or ("credit" in found or "debit" in found)
    return "date" in found and "reference" in found and has_amount


def _yuan_to_fen(raw: str) -> int | None:
    text = raw.strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").replace("元", "")
    if not text:
        return 0
    value = Decimal(text)
    if not value.is_finite() or abs(value) >= MAX_YUAN:
        raise InvalidOperation(text)
    fen = value * 100
    if fen != fen.to_integral_value():
        return None
    return int(fen)


def _parse_date(raw: str, fmt: str) -> dt.date | None:
    text = raw.strip()
    for f in ((fmt,) if fmt else ()) + DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, f).replace(tzinfo=clock.DISTRICT_TZ).date()
        except ValueError:
            continue
    return None


def parse(text: str, layout: Layout | None = None, *, encoding: str = "utf-8") -> Parsed:
    """Every line of a CSV statement and every problem, each naming its row (1-based, as a spreadsheet shows it)."""
    return parse_rows(list(csv.reader(io.StringIO(text.lstrip("\ufeff")))), layout, encoding=encoding)


def _xlsx_text(value: object) -> str:
    """A spreadsheet cell as the CSV reader would have seen it: dates as YYYY-MM-DD, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_rows(data: bytes) -> list[list[str]]:
    """The first sheet of an XLSX statement (as banks' online banking exports it), its cells as text."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a damaged or foreign zip: openpyxl raises many kinds
        raise Invalid.field("file", "无法读取的 XLSX 文件 (not a readable XLSX workbook)") from exc
    try:
        sheet = book.worksheets[0]
        rows: list[list[str]] = []
        for row in sheet.iter_rows(values_only=True):
            if len(rows) > MAX_LINES + HEADER_SCAN:
                raise Invalid.field("file", f"对账单行数过多（上限 {MAX_LINES:,} 行）(too many lines)")
            rows.append([_xlsx_text(v) for v in row])
        return rows
    finally:
        book.close()


def parse_rows(rows: list[list[str]], layout: Layout | None = None, *, encoding: str = "utf-8") -> Parsed:
    """Every line of a statement's rows and every problem, each naming its row (1-based)."""
    layout = layout or Layout()
    start = layout.skip_rows
    header_at: int | None = None
    columns: dict[str, str] = {}
    for i in range(start, min(len(rows), start + HEADER_SCAN)):
        found = _resolve_columns(rows[i], layout)
        if _complete(found):
            header_at, columns = i, found
            break
    if header_at is None:
        wanted = "、".join(layout.columns.get(k, FIELD_LABELS[k]) for k in ("date", "reference"))
        return Parsed(
            [],
            [
                Problem(
                    0,
                    "header",
                    f"对账单缺少表头：须有 {wanted} 以及 交易金额 或 收入/支出 列"
                    " (CSV columns missing: date, reference and amount or income/expense)",
                )
            ],
            encoding,
            0,
            {},
        )
    headers = [h.strip() for h in rows[header_at]]
    index = {h: n for n, h in enumerate(headers)}
    lines: list[BankLine] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def cell(row: list[str], name: str) -> str:
        header = columns.get(name)
        if header is None:
            return ""
        n = index[header]
        return row[n].strip() if n < len(row) else ""

    body = rows[header_at + 1 :]
    if len(body) > MAX_LINES:
        return Parsed([], [Problem(0, "file", "对账单行数过多 (statement too long)")], encoding, header_at + 1, columns)
    for offset, row in enumerate(body):
        line_no = header_at + 2 + offset
        if not any(c.strip() for c in row):
            continue
        if row[0].strip().startswith(("合计", "总计", "本页合计")):
            continue  # the totals line some banks append
        before = len(problems)
        on = _parse_date(cell(row, "date"), layout.date_format)
        if on is None:
            problems.append(
                Problem(
                    line_no,
                    columns["date"],
                    f"第 {line_no} 行「{columns['date']}」列日期无效：{cell(row, 'date')[:30]!r} (bad date)",
                )
            )
        amount = _amount(row, line_no, columns, cell, problems)
        reference = cell(row, "reference")
        if not reference:
            problems.append(
                Problem(
                    line_no,
                    columns["reference"],
                    f"第 {line_no} 行「{columns['reference']}」列缺少流水号 (missing reference)",
                )
            )
        elif reference in seen:
            problems.append(
                Problem(
                    line_no,
                    columns["reference"],
                    f"第 {line_no} 行「{columns['reference']}」列流水号 {reference} 重复 (duplicate reference)",
                )
            )
        seen.add(reference)
        if len(problems) == before and on is not None and amount is not None:
            lines.append(BankLine(on, amount, reference[:120], cell(row, "payer")[:200], cell(row, "memo")[:200]))
    return Parsed(lines, problems, encoding, header_at + 1, columns)


def _amount(row: list[str], line_no: int, columns: Mapping[str, str], cell: Any, problems: list[Problem]) -> int | None:
    def bad(column: str, why: str) -> None:
        problems.append(Problem(line_no, column, f"第 {line_no} 行「{column}」列{why}"))

    if "amount_fen" in columns and cell(row, "amount_fen"):
        try:
            whole = int(cell(row, "amount_fen"))
            if abs(whole) >= MAX_YUAN * 100:
                raise ValueError(whole)
            return whole
        except ValueError:
            bad(columns["amount_fen"], "金额无效 (bad amount)")
            return None
    parts: list[tuple[str, int]] = []
    names = ("amount",) if "amount" in columns and cell(row, "amount") else ("credit", "debit")
    for name in names:
        if name not in columns:
            continue
        try:
            fen = _yuan_to_fen(cell(row, name))
        except InvalidOperation:
            bad(columns[name], f"金额无效：{cell(row, name)[:30]!r} (bad amount)")
            return None
        if fen is None:
            bad(columns[name], "金额精度超过分 (more precise than a fen)")
            return None
        parts.append((name, fen))
    if not parts:
        bad(columns.get("amount", columns.get("credit", "amount")), "缺少金额 (missing amount)")
        return None
    if names == ("amount",):
        return parts[0][1]
    values = dict(parts)
    credit, debit = values.get("credit", 0), values.get("debit", 0)
    if credit and debit:
        bad(columns["credit"], "收入与支出不能同时有金额 (both income and expense)")
        return None
    return credit - abs(debit)


def parse_file(data: bytes, layout: Layout | None = None) -> Parsed:
    layout = layout or Layout()
    if len(data) > MAX_BYTES:
        raise Invalid.field("file", "对账单文件过大（上限 8 MB）(file too large)")
    if data.startswith(XLSX_MAGIC):
        return parse_rows(xlsx_rows(data), layout, encoding="xlsx")
    text, encoding = decode(data, layout.encoding)
    return parse(text, layout, encoding=encoding)


class BankStatement:
    """An imported bank statement as the other side of a reconciliation."""

    code = "bank"

    def __init__(self, lines: list[BankLine]) -> None:
        self.lines = lines

    async def settlement_records(self, since: dt.date, until: dt.date) -> list[Record]:
        return [
            Record(line.reference, line.amount_fen, "refunded" if line.amount_fen < 0 else "succeeded")
            for line in self.lines
            if since <= line.on <= until
        ]


# ---------------------------------------------------------------- saved mappings


def _check_mapping(columns: Mapping[str, str], encoding: str) -> dict[str, str]:
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise Invalid.field("columns", f"未知字段 {sorted(unknown)}，可用 {', '.join(FIELDS)} (unknown fields)")
    cleaned = {k: v.strip() for k, v in columns.items() if v and v.strip()}
    if not _complete(cleaned):
        raise Invalid.field(
            "columns", "映射须包含 date、reference 以及 amount 或 credit/debit (date, reference and amount needed)"
        )
    if encoding not in ENCODINGS:
        raise Invalid.field("encoding", "编码应为 auto、utf-8 或 gbk (encoding must be auto, utf-8 or gbk)")
    return cleaned


async def list_mappings(session: AsyncSession, principal: Principal) -> list[BankStatementMapping]:
    require_reader(principal)
    return list((await session.scalars(select(BankStatementMapping).order_by(BankStatementMapping.bank_code))).all())


async def get_mapping(session: AsyncSession, mapping_id: int) -> BankStatementMapping:
    row = await session.get(BankStatementMapping, mapping_id)
    if row is None:
        raise NotFound(f"对账单格式 {mapping_id} 不存在 (statement mapping not found)")
    return row


async def save_mapping(
    session: AsyncSession,
    principal: Principal,
    *,
    mapping_id: int | None,
    bank_code: str,
    name: str,
    columns: Mapping[str, str],
    encoding: str,
    date_format: str,
    skip_rows: int,
) -> BankStatementMapping:
    require_writer(principal)
    cleaned = _check_mapping(columns, encoding)
    clash = await session.scalar(select(BankStatementMapping).where(BankStatementMapping.bank_code == bank_code))
    if clash is not None and clash.id != mapping_id:
        raise Conflict(f"银行代码 {bank_code} 已有对账单格式 #{clash.id} (bank code already mapped)")
    if mapping_id is None:
        row = BankStatementMapping(bank_code=bank_code, created_by=principal.user_id)
        session.add(row)
    else:
        row = await get_mapping(session, mapping_id)
        row.bank_code = bank_code
    row.name, row.columns, row.encoding = name, cleaned, encoding
    row.date_format, row.skip_rows = date_format, skip_rows
    await session.flush()
    await audit.record(
        session, principal, "create" if mapping_id is None else "update", "bank_statement_mapping", row.id
    )
    return row


async def layout_for(
    session: AsyncSession, mapping_id: int | None, columns: Mapping[str, str] | None = None, encoding: str = "auto"
) -> Layout:
    if mapping_id is not None:
        m = await get_mapping(session, mapping_id)
        return Layout(dict(m.columns), m.encoding, m.date_format, m.skip_rows)
    return Layout(dict(columns or {}), encoding)


# ---------------------------------------------------------------- import


@dataclass
class ImportResult:
    created: list[Donation]
    already_recorded: list[str]
    not_gifts: list[str]  # outgoing lines (refunds, fees): reconciled, never imported as gifts


async def known_references(session: AsyncSession, refs: Sequence[str]) -> set[str]:
    rows = await session.scalars(
        select(Donation.external_id).where(Donation.channel == "bank_transfer", Donation.external_id.in_(refs))
    )
    return {r for r in rows.all() if r is not None}


def check_dates(lines: Sequence[BankLine]) -> None:
    today = clock.today()
    future = [line.reference for line in lines if line.on > today]
    if future:
        raise Invalid.field("file", f"对账单含未来日期的流水 {future[:5]} (lines dated in the future)")


async def import_bank_statement(
    session: AsyncSession, principal: Principal, *, fund_id: int, lines: Sequence[BankLine]
) -> ImportResult:
    """Record each incoming line of a bank statement not yet on the books as an unrestricted bank-transfer
    gift from its payer. Lines already recorded (by reference) are skipped, so importing twice adds nothing;
    restricted gifts are re-designated afterwards with the donor's consent."""

    require_writer(principal)
    fund = await get_fund(session, fund_id)
    check_dates(lines)
    known = await known_references(session, [line.reference for line in lines])
    result = ImportResult([], [], [])
    for line in lines:
        if line.amount_fen <= 0:
            result.not_gifts.append(line.reference)
            continue
        if line.reference in known:
            result.already_recorded.append(line.reference)
            continue
        payer = line.payer or "未具名汇款人"
        donor = await session.scalar(select(Donor).where(Donor.name == payer).order_by(Donor.id).limit(1))
        if donor is None:
            kind = "enterprise" if any(w in payer for w in ("公司", "有限", "集团", "企业")) else "individual"
            donor = Donor(name=payer, kind=kind, consent_to_name=False)
            session.add(donor)
            await session.flush()
        donation = Donation(
            fund_id=fund.id,
            donor_id=donor.id,
            amount_fen=line.amount_fen,
            channel="bank_transfer",
            status="pending",
            purpose=accounts.UNRESTRICTED,
            external_id=line.reference,
            note="银行对账单导入",
            recorded_by=principal.user_id,
        )
        session.add(donation)
        await session.flush()
        await mark_succeeded(
            session,
            donation,
            amount_fen=line.amount_fen,
            event_key=f"offline:bank_transfer:{line.reference}",
            received_on=line.on,
        )
        result.created.append(donation)
        known.add(line.reference)
    return result
