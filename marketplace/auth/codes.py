"""One-time codes: activation of an account someone else created, and an admin's password reset.

A code is shown once to whoever asked for it and stored only as a hash; it expires, is used once, and while one is
pending the account must choose its own password before anything else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password, verify_password
from marketplace.db import utcnow

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PURPOSES: Final = {"activate": dt.timedelta(hours=72), "reset": dt.timedelta(hours=24)}


def new_code() -> str:
    """12 random characters (about 59 bits) in three groups: ABCD-EFGH-JKMN."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def normalize(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def issue_code(user: User, purpose: str) -> tuple[str, dt.datetime]:
    """A new code for ``user`` (replacing any pending one); the account must set its own password."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown one-time code purpose {purpose!r}")
    code = new_code()
    expires_at = utcnow() + PURPOSES[purpose]
    user.one_time_code_hash = hash_password(normalize(code))
    user.one_time_code_purpose = purpose
    user.one_time_code_expires_at = expires_at
    user.must_change_password = True
    return code, expires_at


def check_code(user: User, code: str) -> bool:
    """Whether ``code`` is the account's pending, unexpired code (it is not consumed here)."""
    if user.one_time_code_hash is None or user.one_time_code_expires_at is None:
        return False
    if user.one_time_code_expires_at <= utcnow():
        return False
    return verify_password(user.one_time_code_hash, normalize(code))


def clear_code(user: User) -> None:
    user.one_time_code_hash = None
    user.one_time_code_purpose = None
    user.one_time_code_expires_at = None
