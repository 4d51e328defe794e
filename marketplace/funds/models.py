"""The public-welfare fund: funds, a double-entry ledger, donors, donations, receipts, disbursements,
the Stripe inbox and reconciliations.

Ledger rows (journal entries and postings) are append-only: the migration installs triggers that refuse
UPDATE and DELETE on them, so a correction can only be a reversing entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.audit import chain
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Fund(IdMixin, TimestampMixin, Base):
    """A pot of money the district accounts for: the public-welfare fund (公益基金), a street's foundation
    (街道基金会) and a street's micro-project fund of one year (民生微实事); ``funds.taxonomy.FUND_KINDS``."""

    __tablename__ = "funds"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="public_welfare", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # The street a street foundation or a micro-project fund belongs to (None: district-wide).
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    # The year a micro-project fund's allocation is for.
    year: Mapped[int | None] = mapped_column(Integer)


class FundProject(IdMixin, TimestampMixin, Base):
    """A micro-project (民生微实事项目) of a micro-project fund: 申报 → 立项 (its amount held on the fund) → 实施 →
    验收 (paid as a disbursement, what was not spent going back to the fund). ``funds.sources`` keeps the rules."""

    __tablename__ = "fund_projects"
    __table_args__ = (
        CheckConstraint("requested_fen > 0", name="requested_positive"),
        CheckConstraint("approved_fen IS NULL OR approved_fen > 0", name="approved_positive"),
        CheckConstraint("paid_fen IS NULL OR (paid_fen >= 0 AND paid_fen <= approved_fen)", name="paid_bounds"),
    )

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))  # the service category it buys (resources.taxonomy)
    requested_fen: Mapped[int] = mapped_column(BigInteger)
    approved_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="declared", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    approved_on: Mapped[dt.date | None] = mapped_column(Date)
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    disbursement_id: Mapped[int | None] = mapped_column(ForeignKey("fund_disbursements.id"))
    created_by: Mapped[int | None] = mapped_column(Integer)


class LedgerAccount(IdMixin, Base):
    """An account in the general ledger, identified by a code such as ``fund:1:cash``; created on first use."""

    __tablename__ = "ledger_accounts"

    code: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JournalEntry(IdMixin, Base):
    """A balanced, immutable journal entry. ``reverses_id`` is unique, so an entry is reversed at most once."""

    __tablename__ = "journal_entries"

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    memo: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(80), default="", index=True)
    occurred_on: Mapped[dt.date] = mapped_column(Date, index=True)
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    # The hash chain (marketplace.audit.chain): assigned by ledger.post_entry, checked by `marketplace verify`.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    postings: Mapped[list[Posting]] = relationship(lazy="raise", order_by="Posting.id")


class Posting(IdMixin, Base):
    """One leg of an entry: debits positive, credits negative, integer fen."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount_nonzero"),
        Index("ix_ledger_postings_account_entry", "account_id", "entry_id"),
    )

    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[LedgerAccount] = relationship(lazy="raise")


# Each ledger table is its own hash chain (the columns its hashes cover, in this order: never reorder).
JOURNAL_CHAIN = chain.register(
    JournalEntry.__table__,  # type: ignore[arg-type]
    ("idempotency_key", "memo", "source", "occurred_on", "posted_at", "fingerprint", "reverses_id"),
)
POSTING_CHAIN = chain.register(
    Posting.__table__,  # type: ignore[arg-type]
    ("entry_id", "account_id", "amount_fen"),
)


class Donor(IdMixin, TimestampMixin, Base):
    """A giver (爱心人士/企业). Named publicly only with ``consent_to_name``."""

    __tablename__ = "donors"

    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="individual")
    email: Mapped[str | None] = mapped_column(String(200), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    consent_to_name: Mapped[bool] = mapped_column(Boolean, default=False)


class Donation(IdMixin, TimestampMixin, Base):
    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_bounds"),
        CheckConstraint("fee_fen >= 0", name="fee_nonneg"),
        UniqueConstraint("channel", "external_id"),
    )

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    channel: Mapped[str] = mapped_column(String(20), index=True)  # stripe | bank_transfer | cash | in_kind | ...
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    purpose: Mapped[str] = mapped_column(String(80), default="unrestricted", index=True)
    external_id: Mapped[str | None] = mapped_column(String(120))  # PaymentIntent id, bank reference, ...
    charge_id: Mapped[str | None] = mapped_column(String(120), index=True)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    received_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    receipt_no: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    donor: Mapped[Donor] = relationship(lazy="raise")


class DonationRefund(IdMixin, Base):
    """A refund, keyed on the provider's own refund id: two equal partial refunds are two rows."""

    __tablename__ = "donation_refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(120), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_on: Mapped[dt.date] = mapped_column(Date, index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReceiptSequence(Base):
    """The last receipt number issued in a year: locked while issuing, so numbers have no gaps."""

    __tablename__ = "receipt_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Receipt(IdMixin, Base):
    """A donation receipt (公益事业捐赠票据); voided, never deleted, when the gift is refunded."""

    __tablename__ = "donation_receipts"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    number: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(300), default="")


class PurposeChange(IdMixin, Base):
    """Moving restricted money to another purpose, allowed only with the donor's recorded consent."""

    __tablename__ = "donation_purpose_changes"

    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    from_purpose: Mapped[str] = mapped_column(String(80))
    to_purpose: Mapped[str] = mapped_column(String(80))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    consent_note: Mapped[str] = mapped_column(String(500))
    consent_reference: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Disbursement(IdMixin, Base):
    """Money paid out of the fund for a referral or a service project (the plan's charity resource)."""

    __tablename__ = "fund_disbursements"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(80), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(Integer, index=True)
    memo: Mapped[str] = mapped_column(String(500), default="")
    paid_on: Mapped[dt.date] = mapped_column(Date, index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    status: Mapped[str] = mapped_column(String(20), default="paid")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FundDisclosure(IdMixin, Base):
    """A publication of the fund's accounts for one period (信息公开): what was published, where, when, by whom.
    The duties and their due dates are ``funds.disclosures.DUTIES``; one row per fund, duty and period."""

    __tablename__ = "fund_disclosures"
    __table_args__ = (UniqueConstraint("fund_id", "kind", "period"),)

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # fundraising | projects | annual_report
    period: Mapped[str] = mapped_column(String(7))  # "2026-Q1" for a quarter, "2025" for a year
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    published_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(100))  # 慈善中国, the fund's own site, ...
    url: Mapped[str] = mapped_column(String(500), default="")
    title: Mapped[str] = mapped_column(String(200))
    published_by: Mapped[int | None] = mapped_column(Integer)
    publisher_name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StripeEvent(IdMixin, Base):
    """The webhook inbox: one row per Stripe event id, however often Stripe delivers it."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    type: Mapped[str] = mapped_column(String(80), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(300), default="")


class Reconciliation(IdMixin, Base):
    __tablename__ = "reconciliations"

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # stripe | bank
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date] = mapped_column(Date)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    ours_count: Mapped[int] = mapped_column(Integer, default=0)
    theirs_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    differences: Mapped[list[ReconciliationDifference]] = relationship(
        lazy="raise", order_by="ReconciliationDifference.n", cascade="all, delete-orphan"
    )


class ReconciliationDifference(IdMixin, Base):
    __tablename__ = "reconciliation_differences"
    __table_args__ = (UniqueConstraint("reconciliation_id", "n"),)

    reconciliation_id: Mapped[int] = mapped_column(ForeignKey("reconciliations.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # missing_here | missing_there | amount_differs | status_differs
    donation_id: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(120))
    expected_fen: Mapped[int | None] = mapped_column(BigInteger)
    actual_fen: Mapped[int | None] = mapped_column(BigInteger)
    expected_status: Mapped[str | None] = mapped_column(String(20))
    actual_status: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(500), default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(Integer)
    resolution_note: Mapped[str] = mapped_column(String(1000), default="")


from marketplace.funds.reconciliation_models import (  # noqa: E402, F401
    BankStatementMapping,
    ReceiptPrint,
    ReconciliationCorrection,
    StatementImport,
)
