"""Allowance tables: rates (standards), monthly runs, the payments they made and each run's sign-off.

Money rows are immutable: a payment's amount is never updated; a correction is a new row. A run moves
prepared → signed_off (the district signs the list of payees and amounts; the bank file's digest is kept) → paid
(once: the ledger's payment is posted then).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class AllowanceStandard(IdMixin, Base):
    """A monthly amount per person in force from a date, for a category and region (empty: any).

    Futian from 2023-01-01: 2,454 yuan for orphans and de-facto unsupported children; Dongguan 2022: 1,949 yuan.
    """

    __tablename__ = "allowance_standards"
    __table_args__ = (
        UniqueConstraint("kind", "category", "region", "effective_from"),
        CheckConstraint("amount_fen >= 0", name="amount_nonneg"),
    )

    kind: Mapped[str] = mapped_column(String(40))  # living_allowance | director_subsidy
    category: Mapped[str] = mapped_column(String(40), default="")  # a child category, or "" for every category
    region: Mapped[str] = mapped_column(String(40), default="")  # e.g. futian, dongguan; "" for every region
    effective_from: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(300), default="")


class AllowanceRun(IdMixin, Base):
    """A run: the monthly allowances, or a one-off payment (a festival's 慰问金, a special 临时/专项补助) with a title,
    a payment date and the budget line it charges. A run prepared in the background is ``preparing`` (with its
    progress) until its list is written (``prepared``) or it fails (``failed``, with the reason; nothing written)."""

    __tablename__ = "allowance_runs"

    month: Mapped[str] = mapped_column(String(7), index=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(
        String(20), default="prepared", index=True
    )  # preparing | failed | prepared | signed_off | paid | withdrawn
    kind: Mapped[str] = mapped_column(String(20), default="monthly", index=True)  # monthly | festival | special
    title: Mapped[str] = mapped_column(String(120), default="")  # e.g. 2027年春节慰问 ("" for a monthly run)
    pay_date: Mapped[dt.date | None] = mapped_column(Date)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("budget_lines.id"))  # the line a one-off run charges
    # What a background preparation was asked (kept to run it and to show it) and how far it got.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(2000), default="")
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    paid_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A run withdrawn before it is paid (a mistake found at sign-off): its budget is released, its list stays.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdraw_reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AllowanceSignOff(IdMixin, Base):
    """The district's signature on a run's list of payees and amounts: who, when, and the digests of what they
    signed (the list and the bank file), so the file sent to the bank is provably the one signed."""

    __tablename__ = "allowance_signoffs"

    run_id: Mapped[int] = mapped_column(ForeignKey("allowance_runs.id"), unique=True)
    signed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payments: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    list_sha256: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_encoding: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")


class AllowancePayment(IdMixin, Base):
    """One person's allowance for one month: the unique key is what makes a run safe to repeat. ``live`` is true,
    or NULL once its run is withdrawn: NULLs never collide in a unique key, so a withdrawn list stays on record while
    the month is prepared again, and two live payments of one kind to one person in one month stay impossible.

    One-off payments (kind ``festival`` or ``special``) are not monthly dues: a person may get several in a month
    (六一 and 端午), so they are written with ``live`` NULL and are unique per run instead (run_id, person_key)."""

    __tablename__ = "allowance_payments"
    __table_args__ = (
        UniqueConstraint("kind", "person_key", "month", "live"),
        UniqueConstraint("run_id", "person_key"),
        # A festival plan's payments (migration 0036): one live payment per person and festival of a year, whatever
        # the run or the plan's version; ``festival_live`` becomes NULL when the run is withdrawn or failed.
        UniqueConstraint("festival_key", "person_key", "festival_live"),
        CheckConstraint("amount_fen > 0", name="amount_pos"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("allowance_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    person_key: Mapped[str] = mapped_column(String(40))  # "child:12" | "user:7"
    # Encrypted at rest (the child's name; marketplace.cases.crypto lists every such column).
    person_name: Mapped[str] = mapped_column(EncryptedText("allowance_payments.person_name"), default="")
    community_id: Mapped[int | None] = mapped_column(Integer, index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    # The category and rate the amount was paid at (the decision's category; "" for the director subsidy).
    category: Mapped[str] = mapped_column(String(40), default="")
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_standards.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_decisions.id"))
    # Whom it is paid to: guardian | institution (with the payee row naming the encrypted account) | director.
    payee_kind: Mapped[str] = mapped_column(String(20), default="")
    payee_name: Mapped[str] = mapped_column(EncryptedText("allowance_payments.payee_name"), default="")
    payee_id: Mapped[int | None] = mapped_column(ForeignKey("allowance_payees.id"))
    live: Mapped[bool | None] = mapped_column(Boolean, default=True)
    # Why a special (one-off) payment is made; the festival's title for a festival payment; "" for a monthly one.
    # Encrypted at rest: a special run's reason may describe the child's circumstances (migration 0023).
    reason: Mapped[str] = mapped_column(EncryptedText("allowance_payments.reason"), default="")
    # A payment of a festival plan (``festivals``): "<year>:<festival code>", e.g. "2026:mid_autumn"; NULL otherwise.
    festival_key: Mapped[str | None] = mapped_column(String(40), index=True)
    festival_live: Mapped[bool | None] = mapped_column(Boolean)
