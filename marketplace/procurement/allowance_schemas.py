"""Allowance request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import BodyId as PositiveId
from marketplace.procurement.schemas import Fen, Month, PositiveFen, Reason

RunKind = Literal["monthly", "festival", "special"]


class CategoryAmountIn(msgspec.Struct, forbid_unknown_fields=True):
    """A festival's amount for one child category (e.g. orphan)."""

    category: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    amount_fen: PositiveFen


class SpecialPayeeIn(msgspec.Struct, forbid_unknown_fields=True):
    """One child of a special run (chosen among the children with a grant in force), its amount and reason."""

    child_id: PositiveId
    amount_fen: PositiveFen
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class AllowanceRunIn(msgspec.Struct, forbid_unknown_fields=True):
    """A monthly run (``month``, the default kind) or a one-off run: ``festival`` (``title``, ``pay_date``,
    ``line_id`` and ``amount_fen`` for every child and/or ``category_amounts``) or ``special`` (``title``,
    ``pay_date``, ``line_id`` and ``payees``)."""

    month: Month | None = None
    budget_id: PositiveId | None = None
    kind: RunKind = "monthly"
    title: Annotated[str, msgspec.Meta(max_length=120)] = ""
    pay_date: dt.date | None = None
    line_id: PositiveId | None = None
    amount_fen: PositiveFen | None = None
    category_amounts: Annotated[list[CategoryAmountIn], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )
    payees: Annotated[list[SpecialPayeeIn], msgspec.Meta(max_length=5000)] = msgspec.field(default_factory=list)


class RateCount(msgspec.Struct):
    amount_fen: int
    count: int


class KindTotal(msgspec.Struct):
    kind: str
    label: str
    count: int
    total_fen: int
    standard_fen: int
    rates: list[RateCount]


class AllowanceWithheldOut(msgspec.Struct):
    """A director eligible for the post subsidy but not paid by their assessment's factor (不合格), with why."""

    kind: str
    person_key: str
    name: str
    reason: str


class AllowanceRunOut(msgspec.Struct):
    id: int | None
    month: str
    budget_id: int
    paid: list[KindTotal]
    already_paid: int
    paid_count: int
    total_fen: int
    # Eligible children left out because no payee (bank account) is recorded: re-run the month once it is.
    missing_payee: int
    status: str
    kind: str = "monthly"
    title: str = ""
    pay_date: dt.date | None = None
    withheld: list[AllowanceWithheldOut] = []


class RunProgressOut(msgspec.Struct):
    """A run being prepared in the background (poll ``GET /api/v1/allowances/runs/{id}/progress``)."""

    id: int
    kind: str
    kind_label: str
    title: str
    month: str
    pay_date: dt.date | None
    status: str
    status_label: str
    steps_done: int
    steps_total: int
    progress: int  # percent
    error: str


class StandardIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    effective_from: dt.date
    amount_fen: Fen
    note: Reason = ""
    # A child category the rate is for ("" = every category) and a region ("" = every region), e.g. dongguan.
    category: Annotated[str, msgspec.Meta(max_length=40)] = ""
    region: Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[a-z0-9_]*$")] = ""


class StandardOut(msgspec.Struct):
    id: int
    kind: str
    category: str
    region: str
    effective_from: dt.date
    amount_fen: int
    note: str


class SignOffIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Reason = ""


class SignOffOut(msgspec.Struct):
    run_id: int
    signed_by: int
    signed_at: dt.datetime
    payments: int
    total_fen: int
    list_sha256: str
    file_sha256: str
    file_encoding: str
    note: str


class RunPaymentOut(msgspec.Struct):
    id: int
    kind: str
    person_key: str
    person_name: str
    community_id: int | None
    category: str
    amount_fen: int
    payee_kind: str
    payee_name: str
    payee_id: int | None
    reason: str


class RunDetailOut(msgspec.Struct):
    id: int
    month: str
    budget_id: int
    status: str
    status_label: str
    kind: str
    kind_label: str
    title: str
    pay_date: dt.date | None
    line_id: int | None
    error: str
    paid_count: int
    total_fen: int
    created_at: dt.datetime
    paid_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    withdraw_reason: str
    sign_off: SignOffOut | None
    payments: list[RunPaymentOut]
