from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin


class Street(IdMixin, Base):
    """A street (街道): the level where a child supervisor works and a minor-protection station sits."""

    __tablename__ = "streets"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Community(IdMixin, Base):
    """A community (社区/村): the level where one child director keeps the children's files."""

    __tablename__ = "communities"

    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
