from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class OrganizationApplication(IdMixin, TimestampMixin, Base):
    """An organization's public application to join the district's pool, and the district's review of it."""

    __tablename__ = "organization_applications"

    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    # The organization's kind (resources.taxonomy.ORGANIZATION_KINDS), carried to the organization on approval.
    kind: Mapped[str] = mapped_column(String(40), default="social_work_agency")
    legal_representative: Mapped[str] = mapped_column(String(80))
    contact_name: Mapped[str] = mapped_column(String(80))
    contact_phone: Mapped[str] = mapped_column(String(40))
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    # The streets the organization means to serve (service areas).
    street_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    qualifications: Mapped[str] = mapped_column(Text, default="")
    # submitted -> (needs_more -> submitted)* -> approved | rejected
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The applicant's proof for following and supplementing its own application (only the hash is kept).
    reference_hash: Mapped[str] = mapped_column(String(64), default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    admin_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Handover(IdMixin, Base):
    """One handover of a community's or a street's caseload from one account to another."""

    __tablename__ = "handovers"

    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    street_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    # What moved, by kind (e.g. {"notifications": 3}).
    moved: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    performed_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
