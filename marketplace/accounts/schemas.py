"""The accounts feature's request and response shapes (the API's and the console's)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from marketplace.ids import BodyId

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,79}$")]
RealName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
# Mainland mobile numbers (11 digits starting with 1).
Mobile = Annotated[str, msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$")]
Role = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
CreditCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")]


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    display_name: RealName
    phone: Mobile
    role: Role
    street_id: BodyId | None = None
    community_id: BodyId | None = None
    organization_id: BodyId | None = None
    is_org_admin: bool = False


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    display_name: RealName | msgspec.UnsetType = msgspec.UNSET
    phone: Mobile | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    street_id: BodyId | msgspec.UnsetType | None = msgspec.UNSET
    community_id: BodyId | msgspec.UnsetType | None = msgspec.UNSET
    organization_id: BodyId | msgspec.UnsetType | None = msgspec.UNSET
    is_org_admin: bool | msgspec.UnsetType = msgspec.UNSET


class UserOut(msgspec.Struct):
    id: int
    username: str
    display_name: str
    phone: str
    role: str
    role_label: str
    scope: str
    street_id: int | None
    community_id: int | None
    organization_id: int | None
    is_org_admin: bool
    is_active: bool
    must_change_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    # Failed logins in the last 24 hours (what an admin looks at first when someone cannot log in).
    recent_failures: int = 0


class OneTimeCodeOut(msgspec.Struct):
    """A one-time code, shown once to the admin who asked for it; only its hash is stored."""

    user_id: int
    username: str
    purpose: str  # "activate" | "reset"
    code: str
    expires_at: dt.datetime


class CreatedUserOut(msgspec.Struct):
    user: UserOut
    activation: OneTimeCodeOut


class LoginFailureOut(msgspec.Struct):
    username: str
    address: str
    reason: str
    at: dt.datetime


class HandoverIn(msgspec.Struct, forbid_unknown_fields=True):
    from_user_id: BodyId
    to_user_id: BodyId


class HandoverOut(msgspec.Struct):
    id: int
    from_user_id: int
    to_user_id: int
    role: str
    street_id: int | None
    community_id: int | None
    moved: dict[str, int]
    performed_by: int | None
    created_at: dt.datetime


class ApplicationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    credit_code: CreditCode
    legal_representative: RealName
    contact_name: RealName
    contact_phone: Mobile
    street_ids: Annotated[list[BodyId], msgspec.Meta(min_length=1, max_length=20)]
    qualifications: Annotated[str, msgspec.Meta(min_length=10, max_length=5000)]
    contact_email: Annotated[str, msgspec.Meta(max_length=200)] = ""
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "social_work_agency"


class ApplicationReceipt(msgspec.Struct):
    """What the applicant gets back once: the application's id and the reference that lets it follow it."""

    id: int
    status: str
    reference: str


class ApplicationOut(msgspec.Struct):
    id: int
    name: str
    credit_code: str
    kind: str
    legal_representative: str
    contact_name: str
    contact_phone: str
    contact_email: str
    address: str
    street_ids: list[int]
    qualifications: str
    status: str
    status_label: str
    review_note: str
    reviewed_by: int | None
    reviewed_at: dt.datetime | None
    organization_id: int | None
    admin_user_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class ApprovalOut(msgspec.Struct):
    application: ApplicationOut
    organization_id: int
    admin: OneTimeCodeOut


class UserList(msgspec.Struct):
    items: list[UserOut]
    total: int


class LoginFailureList(msgspec.Struct):
    items: list[LoginFailureOut]


class ApplicationList(msgspec.Struct):
    items: list[ApplicationOut]
    total: int


# The applicant's proof, as printed on its receipt (sent in the body, never in a URL that logs would keep).
Reference = Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ApplicantIn(msgspec.Struct, forbid_unknown_fields=True):
    """The applicant reads its application's status with the reference it was given."""

    reference: Reference


class SupplementIn(msgspec.Struct, forbid_unknown_fields=True):
    """The applicant answers a request for more: the whole application again, with its reference."""

    reference: Reference
    application: ApplicationIn
