from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, UTCDateTime, utcnow


class IndexState(Base):
    """Which documents the search index must (re)index: written with the change, cleared once indexed."""

    __tablename__ = "index_state"

    index_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    doc_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    indexed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
