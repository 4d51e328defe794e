from __future__ import annotations

from typing import Annotated

import msgspec


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    role: str
    expires_in: int


class MeOut(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    scope: str
    street_id: int | None
    community_id: int | None
    organization_id: int | None
