"""Bodies and answers of the closed loop's endpoints: a matching run's proposals turned into referrals, and a
child's timeline told in the six stages of the Yuzhong loop."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from marketplace.ids import BodyId


class DispatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """The reviewed proposals to send: the run's needs by id (default every assignment of the run)."""

    need_ids: Annotated[list[BodyId], msgspec.Meta(min_length=1, max_length=5000)] | None = None
    # Said to every provider of this dispatch; by default each child's own share note.
    share_note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class DispatchedOut(msgspec.Struct):
    need_id: int
    service_id: int
    referral_id: int


class SkippedOut(msgspec.Struct):
    need_id: int
    # not_in_run | already_referred | need_not_open | file_closed | consent_missing | out_of_scope |
    # service_unavailable
    reason: str
    message: str


class DispatchOut(msgspec.Struct):
    run_id: int
    created: list[DispatchedOut]
    skipped: list[SkippedOut]


class TimelineChild(msgspec.Struct):
    id: int
    name: str


class StageOut(msgspec.Struct):
    code: str
    label: str
    reached: bool
    first_at: dt.datetime | None


class EventOut(msgspec.Struct):
    at: dt.datetime
    stage: str
    stage_label: str
    kind: str
    title: str
    detail: str
    entity: str
    entity_id: int


class TimelineOut(msgspec.Struct):
    child: TimelineChild
    stages: list[StageOut]
    events: list[EventOut]
