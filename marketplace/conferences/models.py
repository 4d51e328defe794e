"""Case conferences (个案会商): a conference for one child, its participants (staff accounts and named outside
parties), and the decisions it made, each with an owner, a due date and its own state. Nothing of a decision is
edited in place: a change of its owner or due date is a ``DecisionRevision`` row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class Conference(IdMixin, Base):
    """planned → held → closed (every decision done or cancelled), or cancelled with a reason."""

    __tablename__ = "conferences"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    # Copied from the child when it is convened: the conference's scope (a transferred file takes it along).
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    # The topic and the minutes describe the child's situation: encrypted at rest.
    topic: Mapped[str] = mapped_column(EncryptedText("conferences.topic"))
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    place: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    minutes: Mapped[str] = mapped_column(EncryptedText("conferences.minutes"), default="")
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    cancel_reason: Mapped[str] = mapped_column(EncryptedText("conferences.cancel_reason"), default="")
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    convened_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Participant(IdMixin, Base):
    """A staff account (``user_id``) or a named outside party (school, police station, hospital...: ``kind``)."""

    __tablename__ = "conference_participants"
    __table_args__ = (Index("ix_conference_participants_user", "user_id", "conference_id"),)

    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # ``PARTY_KINDS`` for an outside party, "internal" for an account.
    kind: Mapped[str] = mapped_column(String(20))
    # An outside party's person and organisation (an account's are read from the account).
    name: Mapped[str] = mapped_column(String(60), default="")
    organisation: Mapped[str] = mapped_column(String(120), default="")
    contact: Mapped[str] = mapped_column(String(60), default="")
    # None until the conference is held.
    attended: Mapped[bool | None] = mapped_column(Boolean)


class Decision(IdMixin, Base):
    """What a held conference decided: open → done (note, when, by) or cancelled (reason)."""

    __tablename__ = "conference_decisions"

    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    text: Mapped[str] = mapped_column(EncryptedText("conference_decisions.text"))
    # The owner: an internal participant's account, or an outside party (a participant row) ...
    owner_user_id: Mapped[int | None] = mapped_column(Integer)
    owner_party_id: Mapped[int | None] = mapped_column(ForeignKey("conference_participants.id"))
    # ... and the account that answers for it (the owner itself, or the one following the outside party up).
    responsible_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    done_note: Mapped[str] = mapped_column(EncryptedText("conference_decisions.done_note"), default="")
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(Integer)
    cancel_reason: Mapped[str] = mapped_column(EncryptedText("conference_decisions.cancel_reason"), default="")
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DecisionRevision(IdMixin, Base):
    """A change of a decision's owner or due date: what it was, what it became, why, who and when."""

    __tablename__ = "conference_decision_revisions"

    decision_id: Mapped[int] = mapped_column(ForeignKey("conference_decisions.id"), index=True)
    old_responsible_id: Mapped[int] = mapped_column(Integer)
    new_responsible_id: Mapped[int] = mapped_column(Integer)
    old_owner_party_id: Mapped[int | None] = mapped_column(Integer)
    new_owner_party_id: Mapped[int | None] = mapped_column(Integer)
    old_due_on: Mapped[dt.date] = mapped_column(Date)
    new_due_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(EncryptedText("conference_decision_revisions.reason"))
    revised_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
