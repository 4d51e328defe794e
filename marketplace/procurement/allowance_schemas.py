"""Allowance request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from marketplace.ids import BodyId as PositiveId
from marketplace.procurement.schemas import Fen, Month, Reason


class AllowanceRunIn(msgspec.Struct, forbid_unknown_fields=True):
    month: Month
    budget_id: PositiveId | None = None


class KindTotal(msgspec.Struct):
    kind: str
    label: str
    count: int
    total_fen: int
    standard_fen: int


class AllowanceRunOut(msgspec.Struct):
    id: int | None
    month: str
    budget_id: int
    paid: list[KindTotal]
    already_paid: int
    paid_count: int
    total_fen: int


class StandardIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    effective_from: dt.date
    amount_fen: Fen
    note: Reason = ""


class StandardOut(msgspec.Struct):
    id: int
    kind: str
    effective_from: dt.date
    amount_fen: int
    note: str
