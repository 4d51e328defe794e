"""Request and response bodies of reconciliations, their corrections, and bank-statement import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.funds.schemas import PostingOut
from marketplace.ids import BodyId as PositiveId

StatementText = Annotated[str, msgspec.Meta(max_length=8_000_000)]
# Bytes travel base64-encoded, so a GBK file arrives intact (an 8 MB file is about 10.7 MB of base64).
StatementBytes = Annotated[bytes, msgspec.Meta(max_length=8_000_000, description="对账单文件（base64），GBK 或 UTF-8")]
Encoding = Literal["auto", "utf-8", "gbk"]
ColumnName = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
ResolutionKind = Literal["bank_fee", "amount_error", "missing_gift", "refund", "timing"]


class Columns(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which header holds each field; a field left out is looked for under its usual names."""

    date: ColumnName | None = None
    amount: ColumnName | None = None
    amount_fen: ColumnName | None = None
    credit: ColumnName | None = None
    debit: ColumnName | None = None
    payer: ColumnName | None = None
    memo: ColumnName | None = None
    reference: ColumnName | None = None


class StatementFileIn(msgspec.Struct, forbid_unknown_fields=True):
    """A statement as text (``file``, UTF-8 CSV as before) or as the file's bytes (``file_base64``)."""

    fund_id: PositiveId
    file: StatementText | None = None
    file_base64: StatementBytes | None = None
    mapping_id: PositiveId | None = None
    columns: Columns | None = None
    encoding: Encoding = "auto"


class StatementImportIn(StatementFileIn, forbid_unknown_fields=True):
    pass


class StatementImportOut(msgspec.Struct):
    created: list[int]
    created_fen: int
    already_recorded: list[str]
    not_gifts: list[str]


class StatementLineOut(msgspec.Struct):
    row: int
    date: dt.date
    amount_fen: int
    reference: str
    payer: str
    memo: str
    already_recorded: bool


class StatementProblemOut(msgspec.Struct):
    row: int
    column: str
    message: str


class StatementPreviewOut(msgspec.Struct):
    encoding: str
    header_row: int
    columns: dict[str, str]
    lines: list[StatementLineOut]
    problems: list[StatementProblemOut]
    income_fen: int
    expense_fen: int


class MappingIn(msgspec.Struct, forbid_unknown_fields=True):
    bank_code: Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    columns: Columns
    encoding: Encoding = "auto"
    date_format: Annotated[str, msgspec.Meta(max_length=20)] = ""
    skip_rows: Annotated[int, msgspec.Meta(ge=0, le=50)] = 0


class MappingOut(msgspec.Struct):
    id: int
    bank_code: str
    name: str
    columns: dict[str, str]
    encoding: str
    date_format: str
    skip_rows: int


class MappingList(msgspec.Struct):
    items: list[MappingOut]
    total: int


class ReconciliationIn(msgspec.Struct, forbid_unknown_fields=True):
    fund_id: PositiveId
    since: dt.date
    until: dt.date
    source: Literal["stripe", "bank"]
    file: StatementText | None = None
    file_base64: StatementBytes | None = None
    mapping_id: PositiveId | None = None
    columns: Columns | None = None
    encoding: Encoding = "auto"


class CorrectionOut(msgspec.Struct):
    kind: str
    kind_label: str
    amount_fen: int
    occurred_on: dt.date
    entry_id: int | None
    donation_id: int | None


class DifferenceOut(msgspec.Struct):
    n: int
    kind: str
    kind_label: str
    donation_id: int | None
    external_id: str | None
    expected_fen: int | None
    actual_fen: int | None
    expected_status: str | None
    actual_status: str | None
    resolved: bool
    resolution_note: str
    resolved_at: dt.datetime | None
    correction: CorrectionOut | None = None


class ReconciliationOut(msgspec.Struct):
    id: int
    fund_id: int
    source: str
    since: dt.date
    until: dt.date
    matched: int
    ours_count: int
    theirs_count: int
    open_differences: int
    differences: list[DifferenceOut]
    created_at: dt.datetime


class ReconciliationList(msgspec.Struct):
    items: list[ReconciliationOut]
    total: int


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    """How a difference is resolved: its kind decides the balancing entry (``timing`` posts nothing)."""

    kind: ResolutionKind
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    occurred_on: dt.date | None = None
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None
    donor: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    donation_id: PositiveId | None = None


class ResolutionPlanOut(msgspec.Struct):
    kind: str
    kind_label: str
    amount_fen: int
    postings: list[PostingOut]
    description: str
