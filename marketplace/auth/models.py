from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, false
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
    # Revocation: every token and console session carries the version it was issued under; logout, disabling,
    # a password change, a role or scope change and a handover bump it, and the next request with an older one fails.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when someone else chose (or reset) the password: the account must choose its own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An organization's own administrator (role org_staff): invites and disables the organization's staff.
    is_org_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # One pending one-time code (activation or reset): only its hash is kept, and it expires.
    one_time_code_hash: Mapped[str | None] = mapped_column(String(200))
    one_time_code_purpose: Mapped[str | None] = mapped_column(String(20))
    one_time_code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(Integer)


class LoginFailure(IdMixin, Base):
    """One failed login (wrong password, unknown or disabled account, throttled): what admins see per account."""

    __tablename__ = "login_failures"

    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


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
