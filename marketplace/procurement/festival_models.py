"""Festival condolence plans (节日慰问): one plan per year and festival, in versions, and the runs made from it.

A plan says when the festival's money is paid, which budget line of the year it charges and how much each child
category gets (fen; a category absent is not eligible). It is edited in place until its first run is prepared;
after that a change is a new version (``version`` + 1, ``supersedes_id``), the old one kept with ``current`` NULL.
The runs are ordinary one-off allowance runs (``allowance_runs``, kind festival) linked here; their payments carry
the plan's ``festival_key`` so that nobody is paid twice for one festival of a year (``allowance_payments``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class FestivalPlan(IdMixin, Base):
    __tablename__ = "festival_plans"
    __table_args__ = (
        UniqueConstraint("year", "festival", "version"),
        # One version in force per festival and year: True, or NULL once superseded (NULLs never collide).
        UniqueConstraint("year", "festival", "current"),
    )

    year: Mapped[int] = mapped_column(Integer, index=True)
    festival: Mapped[str] = mapped_column(String(20))  # a code of festivals.FESTIVALS
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool | None] = mapped_column(Boolean, default=True)
    title: Mapped[str] = mapped_column(String(120))  # e.g. 2026年中秋节慰问
    pay_date: Mapped[dt.date] = mapped_column(Date)
    line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    # Amount per child category in fen, e.g. {"orphan": 60000}; a category absent is not paid.
    amounts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(300), default="")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("festival_plans.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def festival_key(self) -> str:
        return f"{self.year}:{self.festival}"


class FestivalPlanRun(IdMixin, Base):
    """A run prepared from a plan: the first (``supplementary`` false) or a 补发 of the children found since."""

    __tablename__ = "festival_plan_runs"

    plan_id: Mapped[int] = mapped_column(ForeignKey("festival_plans.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("allowance_runs.id"), unique=True)
    supplementary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
