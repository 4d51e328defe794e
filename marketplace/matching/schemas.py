from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from marketplace.ids import BodyId


class MatchIn(msgspec.Struct, forbid_unknown_fields=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10


class CandidateOut(msgspec.Struct):
    service_id: int
    organization_id: int
    service_title: str
    organization_name: str
    score: float
    components: dict[str, float]
    reasons: list[str]
    plan: dict[str, Any]


class MatchOut(msgspec.Struct):
    need_id: int
    eligible: int
    weights: dict[str, float]
    candidates: list[CandidateOut]


class RunIn(msgspec.Struct, forbid_unknown_fields=True):
    street_id: BodyId | None = None


class AssignmentOut(msgspec.Struct):
    need_id: int
    service_id: int
    score: float
    weighted_score: float
    # Set once the proposal was turned into a referral.
    referral_id: int | None = None


class UnassignedOut(msgspec.Struct):
    need_id: int
    urgency: int
    reason: str
    reason_label: str


class RunOut(msgspec.Struct):
    id: int
    street_id: int | None
    month: str
    created_at: dt.datetime
    needs_count: int
    services_count: int
    total_score: float
    optimal: bool
    duration_ms: int
    assignments: list[AssignmentOut]
    unassigned: list[UnassignedOut]


class RunList(msgspec.Struct):
    items: list[RunOut]
    total: int
