"""Request and response bodies of the escalations a supervisor (or the district) acts on (``cases.escalation``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

# What happens next, in the supervisor's words: required for an acknowledgement and a reassignment.
Note = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The supervisor has seen it and says what happens next."""

    note: Note


class RemindIn(msgspec.Struct, forbid_unknown_fields=True):
    """Remind the one responsible (the child's director for a visit, the provider for a referral)."""

    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ReassignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Give an overdue visit to another child director of the child's street: one of the child's own community is
    assigned the visit; one of another community receives the file (a transfer, approved at once)."""

    director_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    note: Note


class EscalationActionOut(msgspec.Struct):
    action: str
    action_label: str
    note: str
    actor_id: int | None
    actor_name: str
    target_id: int | None
    target_name: str | None
    created_at: dt.datetime


class EscalationOut(msgspec.Struct):
    """One step of the escalation ladder and what was done about it. ``open`` is false once its cause is gone (the
    visit recorded, the referral answered or started, the report acknowledged or closed): it leaves the board."""

    id: int
    entity: str
    entity_id: int
    kind: str
    kind_label: str
    level: int
    level_label: str
    due_at: dt.datetime
    created_at: dt.datetime
    child_id: int | None
    child_name: str | None
    open: bool
    allowed_actions: list[str]
    actions: list[EscalationActionOut]


class EscalationList(msgspec.Struct):
    items: list[EscalationOut]
    total: int


class DirectorOption(msgspec.Struct):
    id: int
    name: str
    community_id: int
    community_name: str
