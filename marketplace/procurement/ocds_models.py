"""OCDS releases as they were published: one row per change of a procurement, never rewritten."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class OcdsRelease(IdMixin, Base):
    """A release frozen when its change was made; ``body`` is its JSON text (amounts as exact JSON numbers)."""

    __tablename__ = "ocds_releases"

    ocid: Mapped[str] = mapped_column(String(80), index=True)
    release_id: Mapped[str] = mapped_column(String(200), unique=True)
    procurement_id: Mapped[int] = mapped_column(ForeignKey("procurements.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(Integer, index=True)
    tag: Mapped[list[str]] = mapped_column(JSON)
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
