"""Tables out of the system: CSV (UTF-8 with a byte-order mark, so Excel on Chinese Windows reads it) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from litestar import Response
from openpyxl import Workbook
from openpyxl.styles import Font

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


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
            writer.writerow([f"# {sheet.title}"])
        writer.writerow(sheet.headers)
        writer.writerows(sheet.rows)
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
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            cells = list(row)
            for col in sheet.numeric_columns:
                if col < len(cells) and cells[col] not in (None, ""):
                    cells[col] = Decimal(str(cells[col]))
            ws.append(cells)
        for col in sheet.numeric_columns:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col + 1, max_col=col + 1):
                cell.number_format = "#,##0.00"
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
    return Response(
        content=render(sheets, fmt),
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )
