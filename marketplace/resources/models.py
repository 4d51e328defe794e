from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import signals
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime


class Organization(IdMixin, TimestampMixin, Base):
    """A social organization (or mass organization, enterprise, public institution) in the pool."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    contact_name: Mapped[str] = mapped_column(String(80))
    contact_phone: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[int | None] = mapped_column(Integer)
    streets: Mapped[list[OrganizationStreet]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrganizationStreet.street_id"
    )

    @property
    def street_ids(self) -> list[int]:
        return [s.street_id for s in self.streets]


class OrganizationStreet(Base):
    __tablename__ = "organization_streets"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True, index=True)


class Service(IdMixin, TimestampMixin, Base):
    """A service project (服务项目) listed in the district's resource pool."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("age_min >= 0 AND age_max <= 18 AND age_min <= age_max", name="age_range"),
        CheckConstraint("capacity_per_month >= 0", name="capacity_nonneg"),
        CheckConstraint("cost_per_case_fen >= 0", name="cost_nonneg"),
    )

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    eligibility: Mapped[str] = mapped_column(Text, default="")
    age_min: Mapped[int] = mapped_column(Integer, default=0)
    age_max: Mapped[int] = mapped_column(Integer, default=18)
    district_wide: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    capacity_per_month: Mapped[int] = mapped_column(Integer)
    cost_per_case_fen: Mapped[int] = mapped_column(Integer, default=0)
    delivery_mode: Mapped[str] = mapped_column(String(20), default="in_person")
    funding_source: Mapped[str] = mapped_column(String(40), default="free")
    schedule: Mapped[str] = mapped_column(String(300), default="")
    wait_time_days: Mapped[int] = mapped_column(Integer, default=0)
    fees_text: Mapped[str] = mapped_column(String(300), default="")
    five_societies: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    assured_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    status_note: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    categories: Mapped[list[ServiceCategory]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ServiceCategory.code"
    )
    child_categories: Mapped[list[ServiceChildCategory]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ServiceChildCategory.code"
    )
    streets: Mapped[list[ServiceStreet]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ServiceStreet.street_id"
    )
    organization: Mapped[Organization] = relationship(lazy="raise")

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]

    @property
    def child_category_codes(self) -> list[str]:
        return [c.code for c in self.child_categories]

    @property
    def street_ids(self) -> list[int]:
        return [s.street_id for s in self.streets]


class ServiceCategory(Base):
    __tablename__ = "service_categories"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ServiceChildCategory(Base):
    __tablename__ = "service_child_categories"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ServiceStreet(Base):
    __tablename__ = "service_streets"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True, index=True)


class ServiceCapacity(Base):
    """Places booked on a service in one month; the row that accepts lock so capacity is never overbooked."""

    __tablename__ = "service_capacity"
    __table_args__ = (CheckConstraint("booked >= 0", name="booked_nonneg"),)

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, district time
    booked: Mapped[int] = mapped_column(Integer, default=0)


# A revision is open (the service's one proposal in the works) while in one of these states.
OPEN_REVISION_STATUSES = ("draft", "pending_review", "returned")
_OPEN_REVISION = text("status IN ('draft', 'pending_review', 'returned')")


class ServiceRevision(IdMixin, TimestampMixin, Base):
    """Proposed changes to a published (or paused) service, reviewed by the district before they go live.

    ``changes`` holds the proposed values of the listing fields that change; ``previous`` the live values they
    replace (kept when the revision closes, so history shows "was -> proposed"). A service has at most one open
    revision; closed ones (approved, withdrawn) are never deleted."""

    __tablename__ = "service_revisions"
    __table_args__ = (
        Index(
            "ux_service_revisions_open",
            "service_id",
            unique=True,
            sqlite_where=_OPEN_REVISION,
            postgresql_where=_OPEN_REVISION,
        ),
    )

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(Integer)

    service: Mapped[Service] = relationship(lazy="raise")


class SocialWorker(IdMixin, TimestampMixin, Base):
    """A social worker (社会工作者) of a provider: the named person in a five-society plan."""

    __tablename__ = "social_workers"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    qualification: Mapped[str] = mapped_column(String(40), default="")
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    street_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    phone: Mapped[str] = mapped_column(String(40), default="")
    max_caseload: Mapped[int] = mapped_column(Integer, default=20)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VolunteerTeam(IdMixin, TimestampMixin, Base):
    """A community volunteer team (社区志愿者) of a street."""

    __tablename__ = "volunteer_teams"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact_name: Mapped[str] = mapped_column(String(80), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# Every committed change to what the pool's listings are made of (services, their codes and bookings, the
# organizations' names and states) changes the pool signal, which empties the serving processes' listing caches.
POOL_SIGNAL = "pool"
signals.watch(
    POOL_SIGNAL, (Organization, Service, ServiceCategory, ServiceChildCategory, ServiceStreet, ServiceCapacity)
)
