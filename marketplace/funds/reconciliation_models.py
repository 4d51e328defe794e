"""Tables of reconciliation corrections, saved bank-statement layouts, the statement imports kept, and receipt prints.

Imports only ``marketplace.db``; foreign keys are strings, so ``funds/models.py`` can import this module
with one line at its end and the import stays one-way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class ReconciliationCorrection(IdMixin, Base):
    """How one reconciliation difference was resolved, and the ledger entry that put the books right.

    ``amount_fen`` is signed as the other party shows it (a bank fee is negative); a correction with an
    entry counts on our side of later reconciliations under ``external_id``. A ``timing`` resolution posts
    nothing and has no entry.
    """

    __tablename__ = "reconciliation_corrections"
    __table_args__ = (UniqueConstraint("reconciliation_id", "n"),)

    reconciliation_id: Mapped[int] = mapped_column(ForeignKey("reconciliations.id"))
    n: Mapped[int] = mapped_column(Integer)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # stripe | bank
    kind: Mapped[str] = mapped_column(String(20))  # bank_fee | amount_error | missing_gift | refund | timing
    external_id: Mapped[str | None] = mapped_column(String(120), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    donation_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BankStatementMapping(IdMixin, TimestampMixin, Base):
    """A bank's statement layout: which column holds what, the encoding and the date format."""

    __tablename__ = "bank_statement_mappings"

    bank_code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    encoding: Mapped[str] = mapped_column(String(10), default="auto")  # auto | utf-8 | gbk
    # {"date": "交易日期", "amount": "交易金额", "credit": "收入", "debit": "支出", "payer": "对方户名",
    #  "memo": "摘要", "reference": "流水号"}
    columns: Mapped[dict[str, Any]] = mapped_column(JSON)
    date_format: Mapped[str] = mapped_column(String(20), default="%Y-%m-%d")
    skip_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(Integer)


class ReceiptPrint(IdMixin, Base):
    """One opening of a donation receipt's printable page: the first is the original, every later one a copy
    (副本). Kept per receipt number, so a receipt reissued after a partial refund starts again as an original."""

    __tablename__ = "donation_receipt_prints"
    __table_args__ = (UniqueConstraint("receipt_id", "n"),)

    receipt_id: Mapped[int] = mapped_column(ForeignKey("donation_receipts.id"), index=True)
    donation_id: Mapped[int] = mapped_column(Integer, index=True)
    n: Mapped[int] = mapped_column(Integer)  # 1 = the original
    printed_by: Mapped[int | None] = mapped_column(Integer)
    printed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StatementImport(IdMixin, Base):
    """A bank statement imported as gifts, kept so the fund manager can come back to what it did."""

    __tablename__ = "bank_statement_imports"

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    lines: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    created_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # {"created": [[reference, donation id, fen], ...], "already_recorded": [...], "not_gifts": [...]}
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)
    mapping_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
