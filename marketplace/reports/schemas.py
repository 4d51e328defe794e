from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec


class ExportIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    format: Annotated[str, msgspec.Meta(min_length=1, max_length=10)] = "xlsx"
    params: dict[str, Any] = {}


class ExportOut(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    format: str
    params: dict[str, Any]
    status: str
    status_label: str
    steps_done: int
    steps_total: int
    progress: int
    filename: str
    size_bytes: int
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    download_url: str | None
