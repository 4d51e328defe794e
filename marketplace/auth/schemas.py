from __future__ import annotations

from typing import Annotated

import msgspec


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    # The policy (marketplace.auth.policy) says what a new password must be, in words; the schema only bounds it.
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ActivateIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    # The one-time code as given (ABCD-EFGH-JKMN; case, spaces and dashes do not matter).
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


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
    # An organization's own administrator (role org_staff).
    org_admin: bool = False
    # True until the account sets its own password (POST /auth/password or /auth/activate); until then every other
    # call answers 403.
    must_change_password: bool = False
