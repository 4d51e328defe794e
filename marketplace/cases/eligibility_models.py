"""Allowance eligibility as decisions about a child, and the payee each allowance is paid to.

A decision (``allowance_decisions``) grants or ends an allowance: the child's director proposes it with evidence,
the street's supervisor reviews it, the district approves it with the month it takes effect. Only approved
decisions make a child eligible (the child's category tags do not). A payee (``allowance_payees``) is never edited:
a new payee or account is a new row, so a payment names exactly the account it was paid to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class AllowanceDecision(IdMixin, Base):
    __tablename__ = "allowance_decisions"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    # The child's community and street when proposed: who may see and review it.
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    street_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(40))  # living_allowance
    action: Mapped[str] = mapped_column(String(10))  # grant | cease
    # grant: the category the allowance is granted for (its rate); cease: empty.
    category: Mapped[str] = mapped_column(String(40), default="")
    # Who pays: district_budget (the special budget's monthly run) or another source (recorded for the duplicate check).
    source: Mapped[str] = mapped_column(String(40), default="district_budget")
    # cease: turned_18 | adopted | left_district | died | other; grant: empty.
    reason: Mapped[str] = mapped_column(String(40), default="")
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(EncryptedText("allowance_decisions.note"), default="")
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    effective_month: Mapped[str | None] = mapped_column(String(7), index=True)
    proposed_by: Mapped[int | None] = mapped_column(Integer)
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str] = mapped_column(EncryptedText("allowance_decisions.review_note"), default="")
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(EncryptedText("allowance_decisions.decision_note"), default="")


class AllowancePayee(IdMixin, Base):
    """Whom a child's allowance is paid to: the guardian or the institution caring for the child."""

    __tablename__ = "allowance_payees"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # guardian | institution
    name: Mapped[str] = mapped_column(EncryptedText("allowance_payees.name"))
    bank_name: Mapped[str] = mapped_column(String(120))
    # The account number, encrypted like identity numbers (marketplace.cases.crypto, field "allowance_payees.account").
    account_enc: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
