from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from marketplace.ids import BodyId as PositiveId

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
Reason = Annotated[str, msgspec.Meta(max_length=500)]
DocumentNo = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
# 100亿元: far beyond any district budget, and sums of such amounts still fit a 64-bit column.
Fen = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000_000)]
PositiveFen = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000_000)]
SignedFen = Annotated[int, msgspec.Meta(ge=-1_000_000_000_000, le=1_000_000_000_000)]
Month = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Finding(msgspec.Struct):
    code: str
    severity: str
    message: str


# ---------------------------------------------------------------- budgets


class BudgetLineIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: ShortName
    appropriation_fen: Fen


class BudgetIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    fiscal_year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    total_fen: Fen
    lines: Annotated[list[BudgetLineIn], msgspec.Meta(min_length=1, max_length=50)]


class BudgetLineOut(msgspec.Struct):
    id: int
    code: str
    name: str
    original_fen: int
    appropriation_fen: int
    committed_fen: int
    paid_fen: int
    available_fen: int
    execution_rate_bp: int
    execution_rate: str
    # Room held for approved procurements not yet awarded (not committed, but not available either).
    held_fen: int = 0


class BudgetOut(msgspec.Struct):
    id: int
    name: str
    fiscal_year: int
    total_fen: int
    appropriation_fen: int
    committed_fen: int
    paid_fen: int
    available_fen: int
    execution_rate_bp: int
    execution_rate: str
    lines: list[BudgetLineOut]
    created_at: dt.datetime
    held_fen: int = 0


class BudgetList(msgspec.Struct):
    items: list[BudgetOut]
    total: int


class AdjustmentIn(msgspec.Struct, forbid_unknown_fields=True):
    from_line_id: PositiveId
    to_line_id: PositiveId
    amount_fen: PositiveFen
    document_no: DocumentNo
    reason: Reason = ""


class AdjustmentOut(msgspec.Struct):
    id: int
    budget_id: int
    from_line_id: int
    to_line_id: int
    amount_fen: int
    document_no: str
    reason: str
    created_at: dt.datetime


class MovementOut(msgspec.Struct):
    kind: str
    amount_fen: int
    memo: str
    on: dt.date
    at: dt.datetime | None
    contract_id: int | None
    allowance_run_id: int | None
    document_no: str


class LineMovements(msgspec.Struct):
    line: BudgetLineOut
    items: list[MovementOut]
    total: int


# ---------------------------------------------------------------- procurements


class ProcurementIn(msgspec.Struct, forbid_unknown_fields=True):
    budget_line_id: PositiveId
    title: Name
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    estimated_fen: PositiveFen
    service_categories: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=20)]
    justification: Text = ""
    single_source_ground: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    original_contract_id: PositiveId | None = None
    # The failed procurement this one opens again (重新招标 or 变更采购方式).
    replaces_procurement_id: PositiveId | None = None
    # Single source under 第三十一条第一项 at or above the open-tender threshold: the day its notice was published.
    notice_published_on: dt.date | None = None


class ApprovalIn(msgspec.Struct, forbid_unknown_fields=True):
    document_no: DocumentNo
    note: Reason = ""
    # The approval's date (defaults to today); the award may not be dated before it.
    approved_on: dt.date | None = None


class ApprovalOut(msgspec.Struct):
    id: int
    document_no: str
    note: str
    approved_by: int
    created_at: dt.datetime
    approved_on: dt.date | None = None


class Document(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    url: Annotated[str, msgspec.Meta(max_length=500)] = ""


class BidIn(msgspec.Struct, forbid_unknown_fields=True):
    organization_id: PositiveId
    price_fen: PositiveFen
    technical_score: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    documents: Annotated[list[Document], msgspec.Meta(max_length=20)] = []


class BidOut(msgspec.Struct):
    id: int
    organization_id: int
    organization_name: str
    price_fen: int
    technical_score: int
    price_score: str
    technical_weighted_score: str
    total_score: str
    rank: int
    documents: list[dict[str, Any]]


class AwardIn(msgspec.Struct, forbid_unknown_fields=True):
    bid_id: PositiveId | None = None
    # The award day (defaults to today); not before the method's approval.
    awarded_on: dt.date | None = None
    # The day the result was announced (defaults to the award day; at most 2 working days after it); the publicity
    # period is counted from it.
    announced_on: dt.date | None = None


class ProcurementOut(msgspec.Struct):
    id: int
    budget_line_id: int
    fiscal_year: int
    title: str
    method: str
    method_label: str
    evaluation: str
    estimated_fen: int
    service_categories: list[str]
    justification: str
    single_source_ground: str | None
    original_contract_id: int | None
    status: str
    findings: list[Finding]
    approvals: list[ApprovalOut]
    bids: list[BidOut]
    awarded_bid_id: int | None
    awarded_on: dt.date | None
    publicity_ends_on: dt.date | None
    created_at: dt.datetime
    announced_on: dt.date | None = None
    replaces_procurement_id: int | None = None
    notice_published_on: dt.date | None = None
    ended_on: dt.date | None = None
    end_reason: str = ""
    # What the procurement holds on its line now (approved, not yet awarded) and has committed (award, contract).
    held_fen: int = 0
    committed_fen: int = 0
    # The fewest suppliers the method accepts at the award for this procurement (its exception applied).
    minimum_suppliers: int = 0


class ProcurementList(msgspec.Struct):
    items: list[ProcurementOut]
    total: int


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class TerminationIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    # The district date the termination takes effect (defaults to today); not before signing, not in the future.
    terminated_on: dt.date | None = None


# ---------------------------------------------------------------- contracts


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    metric: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class MilestoneIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    due_on: dt.date
    amount_fen: Fen = 0
    kind: Annotated[str, msgspec.Meta(max_length=20)] = "delivery"
    target: TargetIn | None = None


class ContractIn(msgspec.Struct, forbid_unknown_fields=True):
    procurement_id: PositiveId
    organization_id: PositiveId
    amount_fen: PositiveFen
    starts_on: dt.date
    ends_on: dt.date
    milestones: Annotated[list[MilestoneIn], msgspec.Meta(min_length=1, max_length=60)]
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""
    term_reason: Reason = ""
    # The signing day (defaults to today); it must fall after the award's publicity period.
    signed_on: dt.date | None = None


class Progress(msgspec.Struct):
    metric: str
    label: str
    target: int
    measured: int | None
    measurable: bool
    note: str


class MilestoneOut(msgspec.Struct):
    id: int
    seq: int
    name: str
    kind: str
    due_on: dt.date
    amount_fen: int
    paid_fen: int
    status: str
    accepted_on: dt.date | None
    evidence: list[dict[str, Any]]
    acceptance_note: str
    progress: Progress | None


class AmendmentOut(msgspec.Struct):
    id: int
    delta_fen: int
    reason: str
    document_no: str
    created_at: dt.datetime


class PaymentOut(msgspec.Struct):
    id: int
    contract_id: int | None
    milestone_id: int | None
    amount_fen: int
    paid_on: dt.date
    memo: str
    created_at: dt.datetime


class ContractOut(msgspec.Struct):
    id: int
    procurement_id: int
    budget_line_id: int
    organization_id: int
    organization_name: str
    title: str
    original_amount_fen: int
    amount_fen: int
    paid_fen: int
    remaining_fen: int
    accepted_fen: int
    starts_on: dt.date
    ends_on: dt.date
    signed_on: dt.date
    term_reason: str
    status: str
    milestones: list[MilestoneOut]
    amendments: list[AmendmentOut]
    payments: list[PaymentOut]
    evaluation_score: int | None
    evaluation_comments: str
    findings: list[Finding]
    created_at: dt.datetime
    terminated_on: dt.date | None = None
    termination_reason: str = ""


class ContractList(msgspec.Struct):
    items: list[ContractOut]
    total: int


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    evidence: Annotated[list[Document], msgspec.Meta(min_length=1, max_length=20)]
    note: Text = ""
    accepted_on: dt.date | None = None
    # Needed only when the measured result falls short of the target and the district accepts anyway.
    shortfall_reason: Reason = ""


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    milestone_id: PositiveId
    amount_fen: PositiveFen
    paid_on: dt.date | None = None
    memo: Reason = ""


class AmendmentIn(msgspec.Struct, forbid_unknown_fields=True):
    delta_fen: SignedFen
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    document_no: Annotated[str, msgspec.Meta(max_length=100)] = ""


class EvaluationIn(msgspec.Struct, forbid_unknown_fields=True):
    score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    comments: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    as_of: dt.date | None = None
