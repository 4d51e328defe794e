"""Allowance tables: rates (standards), monthly runs and the payments they made.

Money rows are immutable: a payment's amount is never updated; a correction is a new row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class AllowanceStandard(IdMixin, Base):
    """A monthly amount per person in force from a date (e.g. 2,454 yuan living allowance from 2023-01-01)."""

    __tablename__ = "allowance_standards"
    __table_args__ = (
        UniqueConstraint("kind", "effective_from"),
        CheckConstraint("amount_fen >= 0", name="amount_nonneg"),
    )

    kind: Mapped[str] = mapped_column(String(40))  # living_allowance | director_subsidy
    effective_from: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(300), default="")


class AllowanceRun(IdMixin, Base):
    __tablename__ = "allowance_runs"

    month: Mapped[str] = mapped_column(String(7), index=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AllowancePayment(IdMixin, Base):
    """One person's allowance for one month: the unique key is what makes a run safe to repeat."""

    __tablename__ = "allowance_payments"
    __table_args__ = (
        UniqueConstraint("kind", "person_key", "month"),
        CheckConstraint("amount_fen > 0", name="amount_pos"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("allowance_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    person_key: Mapped[str] = mapped_column(String(40))  # "child:12" | "user:7"
    person_name: Mapped[str] = mapped_column(String(80), default="")
    community_id: Mapped[int | None] = mapped_column(Integer, index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
