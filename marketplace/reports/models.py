from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow

CONTENT_FIELD = "export_jobs.content"


class ExportJob(IdMixin, Base):
    """A report export run as a background task; the file is kept in the row so any API process can serve it.

    The file holds children's figures (per street and community), so it is kept encrypted with the field key ring
    (``content_sealed``: the file in base64, sealed like every ``EncryptedText``; ``marketplace rotate-field-key``
    moves it with the other columns) and deleted after ``export_retention_hours`` (``reports.expire_exports``)."""

    __tablename__ = "export_jobs"
    __table_args__ = (CheckConstraint("steps_done >= 0 AND steps_done <= steps_total", name="steps_range"),)

    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    format: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    steps_total: Mapped[int] = mapped_column(Integer, default=1)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(120), default="")
    # Deferred: listing jobs and polling progress never drags the file along.
    content_sealed: Mapped[str | None] = deferred(mapped_column(EncryptedText(CONTENT_FIELD)))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def content(self) -> bytes | None:
        """The file, or None (not made yet, expired, or unreadable under the key ring: ``无法解密``)."""
        sealed = self.content_sealed
        if not sealed:
            return None
        try:
            return base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            return None

    @content.setter
    def content(self, value: bytes | None) -> None:
        self.content_sealed = base64.b64encode(value).decode() if value is not None else None
