"""Request and response bodies of file transfers (one person, one file) and of revealing a file's contact details."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

IdNumberIn = Annotated[str, msgspec.Meta(min_length=18, max_length=18)]
Note = Annotated[str, msgspec.Meta(max_length=1000)]


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    """A child director asks for the file of the child with this identity number to move to their community."""

    id_number: IdNumberIn
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class TransferDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class CommunityRef(msgspec.Struct):
    id: int
    name: str


class TransferOut(msgspec.Struct):
    """A transfer as the caller may see it: the requesting side reads the communities and the status only, and
    the child's file id once the file is theirs (approved)."""

    id: int
    status: str
    status_label: str
    from_community: CommunityRef
    to_community: CommunityRef
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str
    allowed_actions: list[str]
    child_id: int | None = None
    child_name: str | None = None


class TransferList(msgspec.Struct):
    items: list[TransferOut]
    total: int


class ContactRevealIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the guardian's phone and address are needed now (field work); kept in the audit log."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ContactRevealOut(msgspec.Struct):
    child_id: int
    guardian_name: str
    guardian_relation: str
    guardian_phone: str
    address: str
