"""Tables out of the system: CSV (UTF-8 with a byte-order mark, so Excel on Chinese Windows reads it) and XLSX.

In XLSX every number, percentage and date is a typed cell with a number format, so a finance office can sum and
sort it: integers as numbers (format ``0``), money as exact yuan (``#,##0.00``), percentages as fractions
(``0.0%``), months as the date of their first day (``yyyy-mm``) and dates as dates (``yyyy-mm-dd``). The CSV of
the same table shows the same values as text (``4.92%``, ``2026-01``, ``123.45``).

Text is only ever text (OWASP's CSV-injection rule): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is written with a single quote in front (``'=HYPERLINK(...)``), in CSV and XLSX alike, and an
XLSX text cell is stored as a string, never as a formula. Numbers are typed cells (ints, ``money``, ``percent``...):
a negative amount stays a number. A column listed in ``numeric_columns`` holds numbers written as text and is
converted, not quoted. Every CSV and XLSX the app sends is written here (the allowance bank file is the bank's own
format, written by ``procurement.allowances``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from litestar import Response
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from openpyxl import Workbook
from openpyxl.styles import Font

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"
INTEGER_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
MONTH_FORMAT = "yyyy-mm"


@dataclass(frozen=True)
class Typed:
    """A cell whose XLSX value is ``value`` shown with ``number_format``, and whose CSV text is ``text``."""

    value: int | float | Decimal | dt.date
    text: str
    number_format: str

    def __str__(self) -> str:  # csv.writer writes str() of each cell
        return self.text


def money(fen: int) -> Typed:
    """Yuan, exact: 12345 fen is 123.45 (a Decimal in XLSX, ``123.45`` in CSV)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return Typed(Decimal(fen).scaleb(-2), f"{sign}{whole}.{cents:02d}", MONEY_FORMAT)


def percent(ratio: float | Decimal, places: int = 1) -> Typed:
    """A share as a fraction (0.0492) shown as a percentage with ``places`` decimals (``4.9%``)."""
    fmt = "0." + "0" * places + "%" if places else "0%"
    return Typed(ratio, f"{ratio * 100:.{places}f}%", fmt)


def basis_points(bp: int) -> Typed:
    """A rate in basis points (492 is 4.92%), exact: a Decimal fraction with two decimals of percent."""
    return Typed(Decimal(bp).scaleb(-4), f"{bp // 100}.{bp % 100:02d}%", "0.00%")


def month(value: str | dt.date) -> Typed:
    """A month (``2026-01`` or any date in it) as the date of its first day, shown ``yyyy-mm``."""
    first = dt.date.fromisoformat(f"{value}-01") if isinstance(value, str) else value.replace(day=1)
    return Typed(first, first.strftime("%Y-%m"), MONTH_FORMAT)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never evaluates it: quoted when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text_cell(value: Any) -> Any:
    """A cell for CSV: text neutralised; typed values (their text is a number, a date, a percentage) as they are."""
    return neutralise(value) if isinstance(value, str) else value


def _xlsx_cell(value: Any) -> tuple[Any, str | None]:
    """The value openpyxl stores and its number format (None: the default, for text)."""
    if isinstance(value, Typed):
        return value.value, value.number_format
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        return value, INTEGER_FORMAT
    if isinstance(value, float | Decimal):
        return value, "0.00"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None), "yyyy-mm-dd hh:mm"
    if isinstance(value, dt.date):
        return value, DATE_FORMAT
    return value, None


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: Sequence[Sequence[Any]]
    # Columns holding yuan as decimal text: written to XLSX as exact Decimals with a money format.
    numeric_columns: Sequence[int] = field(default_factory=tuple)


def to_csv(sheets: Sequence[Sheet]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for n, sheet in enumerate(sheets):
        if n:
            writer.writerow([])
        if len(sheets) > 1:
            writer.writerow([f"# {sheet.title}"])  # starts with "#": never a formula
        writer.writerow([_text_cell(h) for h in sheet.headers])
        numeric = set(sheet.numeric_columns)
        writer.writerows([v if c in numeric else _text_cell(v) for c, v in enumerate(row)] for row in sheet.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_title(title: str, used: set[str]) -> str:
    # Excel limits sheet names to 31 characters, unique in the workbook, without []:*?/\ .
    clean = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    name, n = clean, 2
    while name in used:
        suffix = f"({n})"
        name, n = clean[: 31 - len(suffix)] + suffix, n + 1
    used.add(name)
    return name


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for sheet in sheets:
        ws = book.create_sheet(_sheet_title(sheet.title, used))
        ws.append([_text_cell(h) for h in sheet.headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row_no, row in enumerate(sheet.rows, start=2):
            cells = list(row)
            for col in sheet.numeric_columns:
                if col < len(cells) and cells[col] not in (None, "") and not isinstance(cells[col], Typed):
                    cells[col] = Typed(Decimal(str(cells[col])), str(cells[col]), MONEY_FORMAT)
            for c, value in enumerate(cells, start=1):
                stored, number_format = _xlsx_cell(value)
                if isinstance(stored, str):
                    cell = ws.cell(row=row_no, column=c)
                    cell.value = neutralise(stored)
                    cell.data_type = "s"  # text, whatever openpyxl would guess from its first character
                    continue
                cell = ws.cell(row=row_no, column=c, value=stored)
                if number_format:
                    cell.number_format = number_format
        for col, header in enumerate(sheet.headers, start=1):
            width = max([len(str(header))] + [len(str(r[col - 1])) for r in sheet.rows if col - 1 < len(r)])
            ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = min(60, 4 + 2 * width)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(sheets: Sequence[Sheet], fmt: str) -> bytes:
    return to_csv(sheets) if fmt == "csv" else to_xlsx(sheets)


def download(sheets: Sequence[Sheet], fmt: str, filename: str) -> Response[bytes]:
    """An attachment response; ``filename`` without extension (ASCII, or it is percent-encoded by browsers)."""
    return file_response(render(sheets, fmt), FORMATS[fmt], f"{filename}.{fmt}")


def file_response(content: bytes, content_type: str, filename: str) -> Response[bytes]:
    """An attachment of ``content_type`` (``text/csv; charset=gbk``): its charset goes as the response's encoding,
    since Litestar appends ``; charset=`` to every ``text/`` type itself (else the header would name two)."""
    media_type, encoding = media_and_encoding(content_type)
    return Response(
        content=content,
        media_type=media_type,
        encoding=encoding,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def media_and_encoding(content_type: str) -> tuple[str, str]:
    """A response's ``media_type`` and ``encoding`` for ``content_type``: ``text/csv; charset=gbk`` gives
    (``text/csv``, ``gbk``), which Litestar sends as ``text/csv; charset=gbk`` (given whole, it sends the charset
    twice: it appends ``; charset=`` to every ``text/`` type)."""
    media_type, _, parameters = content_type.partition(";")
    name, _, value = parameters.partition("=")
    encoding = value.strip() if name.strip().lower() == "charset" else "utf-8"
    return (media_type.strip() if media_type.startswith("text/") else content_type), encoding


def downloads(*media_types: str, json: bool = True) -> type[Operation]:
    """A route's ``operation_class`` saying, in the OpenAPI schema, that its success response also comes as a file of
    each of ``media_types`` (``FORMATS["csv"]``, ``"*/*"``); with ``json=False`` only as such a file."""

    class DownloadOperation(Operation):
        def __post_init__(self) -> None:
            for status, response in (self.responses or {}).items():
                if not status.startswith("2") or not isinstance(response, OpenAPIResponse):
                    continue
                content = dict(response.content or {}) if json else {}
                answer = content.get("application/json")
                if answer is not None and isinstance(answer.schema, Schema) and answer.schema.one_of:
                    # ``Report | Response[bytes]``: the file is the other media types, not an "any" beside the report
                    kept = [s for s in answer.schema.one_of if not (isinstance(s, Schema) and s == Schema())]
                    answer.schema = kept[0] if len(kept) == 1 else Schema(one_of=kept)
                for media_type in media_types:
                    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                    content[media_type.partition(";")[0]] = OpenAPIMediaType(schema=binary)
                response.content = content

    return dataclass(DownloadOperation)
