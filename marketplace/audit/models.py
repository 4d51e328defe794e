from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.audit import chain
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class AuditEntry(IdMixin, Base):
    """One read or change of protected data. Append-only: database triggers refuse UPDATE and DELETE, and each row
    is hash-chained to the one before it (``marketplace.audit.chain``), so rows deleted or edited with the triggers
    switched off are found by ``marketplace verify``."""

    __tablename__ = "audit_log"

    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(80), default="")
    role: Mapped[str] = mapped_column(String(40), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    entity: Mapped[str] = mapped_column(String(40), index=True)
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


AUDIT_CHAIN = chain.register(
    AuditEntry.__table__,  # type: ignore[arg-type]
    ("at", "user_id", "username", "role", "action", "entity", "entity_id", "fields", "detail"),
)


class ChainVerification(IdMixin, Base):
    """One run of ``marketplace verify`` (command line, nightly job or the console): what it checked and found.

    ``chains`` holds per table the rows checked and the last row's id and hash: the next run's anchor (that row must
    still be there, unchanged)."""

    __tablename__ = "chain_verifications"

    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    rows_checked: Mapped[int] = mapped_column(Integer, default=0)
    chains: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    broken: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(20), default="cli")  # cli | job | console
    user_id: Mapped[int | None] = mapped_column(Integer)
