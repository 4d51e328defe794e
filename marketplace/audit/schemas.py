from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class AuditOut(msgspec.Struct):
    id: int
    at: dt.datetime
    user_id: int | None
    username: str
    role: str
    action: str
    entity: str
    entity_id: int | None
    fields: list[str]
    detail: dict[str, Any]


class AuditList(msgspec.Struct):
    items: list[AuditOut]
    total: int
