from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, ForeignKey, Index, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    # The organization FK is added by the resources migration (organizations live there).
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# The staff console's server-side sessions (admin/sessions.py's store when no Redis is configured): a random id,
# the session's serialized data and its absolute expiry. Deleting a row ends that login at once.
console_sessions = Table(
    "console_sessions",
    Base.metadata,
    Column("key", String(128), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Index("ix_console_sessions_expires_at", "expires_at"),
)
