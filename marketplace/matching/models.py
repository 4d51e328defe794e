from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class MatchingRun(IdMixin, Base):
    """A stored batch allocation, so a street or the district can read back what was proposed and why."""

    __tablename__ = "matching_runs"

    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    month: Mapped[str] = mapped_column(String(7))
    needs_count: Mapped[int] = mapped_column(Integer)
    services_count: Mapped[int] = mapped_column(Integer)
    total_score: Mapped[float] = mapped_column()
    optimal: Mapped[bool] = mapped_column(Boolean)
    duration_ms: Mapped[int] = mapped_column(Integer)
    assignments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    unassigned: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
