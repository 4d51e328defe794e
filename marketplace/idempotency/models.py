"""The stored idempotency keys (migration 0025)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class IdempotencyKey(IdMixin, Base):
    """One key of one caller: claimed while its request runs (``status_code`` empty), then the request's answer,
    written in the request's own transaction, until ``expires_at``."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "key"),)

    # ``user:<id>`` for a signed-in caller (API token or console session), ``anon:<client address>`` otherwise.
    owner: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    # SHA-256 of the method, path, query string and body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    # Who holds the claim now (a random token per attempt): only the holder may write the answer.
    claim: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    # The answer's headers worth replaying (content type, location, the console's htmx and security headers), JSON.
    headers: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
