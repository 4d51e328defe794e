"""The request id of the work in hand and the role of this process, for log lines, problems and outbox events.

A request's id comes from its ``X-Request-ID`` header when that is sane (1-128 characters of ``[A-Za-z0-9._-]``),
else it is made here (uuid4 hex). The outbox stores it with each event the request emits and the worker sets it
again while it handles the event, so one id follows a change from the request to its side effects.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

HEADER: Final = "X-Request-ID"
MAX_LENGTH: Final = 128
_SANE: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
ROLES: Final = ("serve", "worker", "beat", "cli")

request_id_var: ContextVar[str | None] = ContextVar("marketplace_request_id", default=None)
_role = ["cli"]


def current_request_id() -> str | None:
    return request_id_var.get()


def sane(value: str | bytes | None) -> str | None:
    """``value`` as a request id if it may be taken as one, else None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if _SANE.fullmatch(value) else None


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """The request id ``request_id`` (when sane) for the work inside the block."""
    token = request_id_var.set(sane(request_id))
    try:
        yield
    finally:
        request_id_var.reset(token)


def role() -> str:
    return _role[0]


def set_role(name: str) -> None:
    if name not in ROLES:
        raise ValueError(f"process role must be one of {', '.join(ROLES)}, not {name!r}")
    _role[0] = name
