"""Request and response bodies of allowance decisions and payees."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Month = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
DocumentName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A director's proposal: grant an allowance (``category`` says for what) or end it (``reason`` says why)."""

    action: Literal["grant", "cease"]
    evidence: Annotated[list[DocumentName], msgspec.Meta(min_length=1, max_length=20)]
    kind: Literal["living_allowance"] = "living_allowance"
    category: Annotated[str, msgspec.Meta(max_length=40)] = ""
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")] = "district_budget"
    reason: Literal["", "turned_18", "adopted", "left_district", "died", "other"] = ""
    note: Note = ""


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    approve: bool
    note: Note = ""


class ApprovalIn(msgspec.Struct, forbid_unknown_fields=True):
    approve: bool
    # The month the decision takes effect; default: the first month the start rule allows.
    effective_month: Month | None = None
    note: Note = ""


class DecisionOut(msgspec.Struct):
    id: int
    child_id: int
    child_name: str
    community_id: int
    street_id: int
    kind: str
    action: str
    action_label: str
    category: str
    source: str
    reason: str
    evidence: list[str]
    note: str
    status: str
    status_label: str
    effective_month: str | None
    proposed_by: int | None
    proposed_at: dt.datetime
    reviewed_by: int | None
    reviewed_at: dt.datetime | None
    review_note: str
    decided_by: int | None
    decided_at: dt.datetime | None
    decision_note: str


class DecisionList(msgspec.Struct):
    items: list[DecisionOut]
    total: int


class PayeeIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["guardian", "institution"]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    bank_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    # Digits only (spaces allowed); stored encrypted, shown masked.
    account: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class PayeeOut(msgspec.Struct):
    id: int
    child_id: int
    kind: str
    name: str
    bank_name: str
    account_masked: str
    created_by: int | None
    created_at: dt.datetime
