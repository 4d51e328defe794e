"""Festival plan request and response bodies (节日慰问计划)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import BodyId as PositiveId
from marketplace.procurement.schemas import PositiveFen

FestivalCode = Literal[
    "spring", "lantern", "childrens_day", "dragon_boat", "mid_autumn", "national_day", "double_ninth"
]
Year = Annotated[int, msgspec.Meta(ge=2000, le=2100)]
Note = Annotated[str, msgspec.Meta(max_length=300)]


class FestivalAmountIn(msgspec.Struct, forbid_unknown_fields=True):
    """The amount a child of one category gets (a category not listed is not paid)."""

    category: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    amount_fen: PositiveFen


Amounts = Annotated[list[FestivalAmountIn], msgspec.Meta(min_length=1, max_length=20)]


class FestivalPlanIn(msgspec.Struct, forbid_unknown_fields=True):
    """A festival's plan for a year: when it is paid, the year's budget line it charges, the amount per category."""

    year: Year
    festival: FestivalCode
    pay_date: dt.date
    line_id: PositiveId
    amounts: Amounts
    note: Note = ""


class FestivalPlanPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A change of a plan not yet run (PATCH), or what a new version changes (POST .../versions); fields left out
    stay as they are."""

    pay_date: dt.date | msgspec.UnsetType = msgspec.UNSET
    line_id: PositiveId | msgspec.UnsetType = msgspec.UNSET
    amounts: Amounts | msgspec.UnsetType = msgspec.UNSET
    note: Note | msgspec.UnsetType = msgspec.UNSET


class FestivalAmountOut(msgspec.Struct):
    category: str
    label: str
    amount_fen: int


class FestivalLineOut(msgspec.Struct):
    """The budget line the plan charges and its figures now."""

    id: int
    code: str
    name: str
    budget_id: int
    appropriation_fen: int
    committed_fen: int
    paid_fen: int
    available_fen: int


class FestivalRunOut(msgspec.Struct):
    """A run made from a plan (one of its versions): the first, or a 补发 of the children found since."""

    run_id: int
    plan_id: int
    plan_version: int
    supplementary: bool
    title: str
    status: str
    status_label: str
    month: str
    pay_date: dt.date | None
    paid_count: int
    total_fen: int
    created_at: dt.datetime


class FestivalPlanOut(msgspec.Struct):
    id: int
    year: int
    festival: str
    festival_label: str
    version: int
    current: bool
    supersedes_id: int | None
    title: str
    pay_date: dt.date
    line: FestivalLineOut
    amounts: list[FestivalAmountOut]
    note: str
    editable: bool
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class FestivalPlanRunsOut(msgspec.Struct):
    """The answer of running a plan: ``created`` with the new run, or nothing new (``run`` null) and the runs that
    already pay the festival; who was left out and why."""

    plan_id: int
    created: bool
    run: FestivalRunOut | None
    runs: list[FestivalRunOut]
    already_paid: int
    missing_payee: int
    not_covered: int
