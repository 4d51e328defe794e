"""The special budget, procurements, contracts and allowances.

Money rows (commitments, payments, allowance payments, amendments) are immutable: an amount is never updated;
a change or cancellation is a new row. A budget line's committed and paid figures are sums over those rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import clock
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Budget(IdMixin, TimestampMixin, Base):
    """A fiscal year's special budget (专项资金)."""

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "name"),
        CheckConstraint("total_fen >= 0", name="total_nonneg"),
    )

    name: Mapped[str] = mapped_column(String(200))
    fiscal_year: Mapped[int] = mapped_column(Integer, index=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lines: Mapped[list[BudgetLine]] = relationship(lazy="raise", order_by="BudgetLine.id")


class BudgetLine(IdMixin, Base):
    """One line of a budget; the row every commitment and payment locks."""

    __tablename__ = "budget_lines"
    __table_args__ = (
        UniqueConstraint("budget_id", "code"),
        CheckConstraint("original_fen >= 0", name="original_nonneg"),
    )

    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    # As first appropriated; adjustments between lines are rows in budget_adjustments.
    original_fen: Mapped[int] = mapped_column(BigInteger)


class BudgetAdjustment(IdMixin, Base):
    """Appropriation moved from one line to another, on the strength of an approval document (调剂批文)."""

    __tablename__ = "budget_adjustments"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_pos"),)

    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    from_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    to_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    document_no: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Commitment(IdMixin, Base):
    """Budget set aside (positive) or released (negative) on a line."""

    __tablename__ = "budget_commitments"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="amount_nonzero"),)

    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # award | contract | amendment | procurement | allowance
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    # Set when the row belongs to a procurement: its award (before a contract exists) and the contract's difference.
    procurement_id: Mapped[int | None] = mapped_column(ForeignKey("procurements.id"), index=True)
    allowance_run_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_runs.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BudgetHold(IdMixin, Base):
    """Room on a line held for a procurement (positive) from its approval until award, cancellation or failure,
    and its release (negative). A hold is not a commitment: nothing can be paid against it."""

    __tablename__ = "budget_holds"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="amount_nonzero"),)

    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    procurement_id: Mapped[int] = mapped_column(ForeignKey("procurements.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payment(IdMixin, Base):
    """Money paid out of a line: a contract instalment or an allowance run."""

    __tablename__ = "budget_payments"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_pos"),)

    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # contract | allowance
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("contract_milestones.id"), index=True)
    allowance_run_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_runs.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Procurement(IdMixin, TimestampMixin, Base):
    """A government purchase-of-service procurement (政府购买服务项目)."""

    __tablename__ = "procurements"
    __table_args__ = (CheckConstraint("estimated_fen > 0", name="estimated_pos"),)

    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(40), index=True)
    estimated_fen: Mapped[int] = mapped_column(BigInteger)
    service_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    justification: Mapped[str] = mapped_column(Text, default="")
    single_source_ground: Mapped[str | None] = mapped_column(String(40))
    # A single-source add-on (追加采购) names the contract it adds to.
    original_contract_id: Mapped[int | None] = mapped_column(Integer)  # no FK: contracts refer back here
    status: Mapped[str] = mapped_column(String(20), default="bidding", index=True)
    # Warning findings of the rules engine, kept with the procurement so they can be shown later.
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # A procurement opened again after this one failed (重新招标 or 变更采购方式) names the failed one.
    replaces_procurement_id: Mapped[int | None] = mapped_column(Integer)
    # Single source under 政府采购法第三十一条第一项 at or above the open-tender threshold: the day its public
    # notice (单一来源采购公示) was published; the approval comes after the notice period.
    notice_published_on: Mapped[dt.date | None] = mapped_column(Date)
    awarded_bid_id: Mapped[int | None] = mapped_column(Integer)
    awarded_on: Mapped[dt.date | None] = mapped_column(Date)
    # The day the award result was announced (中标/成交结果公告); the publicity period runs from it.
    announced_on: Mapped[dt.date | None] = mapped_column(Date)
    publicity_ends_on: Mapped[dt.date | None] = mapped_column(Date)
    # Cancelled or failed: when and why.
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ProcurementApproval(IdMixin, Base):
    """The district's approval of a non-open method (采购方式变更审批)."""

    __tablename__ = "procurement_approvals"

    procurement_id: Mapped[int] = mapped_column(ForeignKey("procurements.id"), index=True)
    document_no: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500), default="")
    # The approval's business date: an award may not be dated before it.
    approved_on: Mapped[dt.date] = mapped_column(Date, default=clock.today)
    approved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Bid(IdMixin, Base):
    __tablename__ = "procurement_bids"
    __table_args__ = (
        UniqueConstraint("procurement_id", "organization_id"),
        CheckConstraint("price_fen > 0", name="price_pos"),
        CheckConstraint("technical_score >= 0 AND technical_score <= 100", name="technical_range"),
    )

    procurement_id: Mapped[int] = mapped_column(ForeignKey("procurements.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    technical_score: Mapped[int] = mapped_column(Integer)
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Contract(IdMixin, TimestampMixin, Base):
    """A purchase-of-service contract with a social organization."""

    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_pos"),
        CheckConstraint("ends_on >= starts_on", name="period_order"),
    )

    procurement_id: Mapped[int] = mapped_column(ForeignKey("procurements.id"), unique=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # The amount as signed; amendments are rows in contract_amendments.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    term_reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    evaluation_score: Mapped[int | None] = mapped_column(Integer)
    evaluation_comments: Mapped[str] = mapped_column(Text, default="")
    evaluated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An early end (解除合同): the district date it took effect, why, and who recorded it.
    terminated_on: Mapped[dt.date | None] = mapped_column(Date)
    termination_reason: Mapped[str] = mapped_column(String(500), default="")
    terminated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    milestones: Mapped[list[Milestone]] = relationship(lazy="raise", order_by="Milestone.seq")


class Milestone(IdMixin, Base):
    __tablename__ = "contract_milestones"
    __table_args__ = (
        UniqueConstraint("contract_id", "seq"),
        CheckConstraint("amount_fen >= 0", name="amount_nonneg"),
    )

    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="delivery")
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    target_metric: Mapped[str | None] = mapped_column(String(40))
    target_quantity: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    acceptance_note: Mapped[str] = mapped_column(Text, default="")
    measured_quantity: Mapped[int | None] = mapped_column(Integer)


class ContractAmendment(IdMixin, Base):
    """A change of contract amount (positive: add-on 追加; negative: reduction 核减)."""

    __tablename__ = "contract_amendments"
    __table_args__ = (CheckConstraint("delta_fen <> 0", name="delta_nonzero"),)

    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    delta_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    document_no: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


from marketplace.procurement.allowance_models import AllowancePayment as AllowancePayment  # noqa: E402
from marketplace.procurement.allowance_models import AllowanceRun as AllowanceRun  # noqa: E402
from marketplace.procurement.allowance_models import AllowanceSignOff as AllowanceSignOff  # noqa: E402
from marketplace.procurement.allowance_models import AllowanceStandard as AllowanceStandard  # noqa: E402
from marketplace.procurement.festival_models import FestivalPlan as FestivalPlan  # noqa: E402
from marketplace.procurement.festival_models import FestivalPlanRun as FestivalPlanRun  # noqa: E402
from marketplace.procurement.ocds_models import OcdsRelease as OcdsRelease  # noqa: E402
