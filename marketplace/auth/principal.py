"""Who is asking: a user's role and scope, checked by every service on every object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from marketplace.errors import Forbidden

ROLES: Final[dict[str, str]] = {
    "child_director": "儿童主任",
    "child_supervisor": "儿童督导员",
    "org_staff": "社会组织工作人员",
    "fund_manager": "基金管理员",
    "procurement_officer": "采购经办人",
    "district_admin": "区民政局儿童福利科",
    "auditor": "审计/纪检",
}

DISTRICT_ROLES: Final = frozenset({"district_admin", "fund_manager", "procurement_officer", "auditor"})
STAFF_ROLES: Final = frozenset(ROLES)
# Each role's scope: what part of the district its records come from.
ROLE_SCOPES: Final[dict[str, str]] = {
    "child_director": "community",
    "child_supervisor": "street",
    "org_staff": "organization",
}


def scope_of(role: str) -> str:
    """``community``, ``street``, ``organization`` or ``district``."""
    return ROLE_SCOPES.get(role, "district")


# A route handler's ``opt`` key: the route stays open to an account that must still choose its own password
# (reading who it is, setting the password, logging out); every other route refuses it with 403 until then.
OPEN_BEFORE_PASSWORD_CHANGE: Final = "open_before_password_change"  # noqa: S105 - a route option
FIRST_LOGIN_GATE: Final = (
    "请先设置您自己的密码，然后才能继续使用 (you must set your own password before doing anything else: "
    "POST /api/v1/auth/password or /api/v1/auth/activate)"
)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: str
    display_name: str = ""
    street_id: int | None = None
    community_id: int | None = None
    organization_id: int | None = None
    # An organization's own administrator (role org_staff): manages its organization's staff accounts.
    org_admin: bool = False
    # Someone else chose (or reset) the password: only the routes marked OPEN_BEFORE_PASSWORD_CHANGE answer.
    must_change_password: bool = False

    @property
    def scope(self) -> str:
        return scope_of(self.role)

    @property
    def account_id(self) -> int | None:
        """The account acting, or None for the system acting without one (the command line: user_id 0)."""
        return self.user_id or None

    @property
    def is_district(self) -> bool:
        return self.role in DISTRICT_ROLES

    @property
    def read_only(self) -> bool:
        return self.role == "auditor"

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            labels = "、".join(ROLES.get(r, r) for r in roles)
            raise Forbidden(f"此操作仅限{labels} (role {self.role} may not do this)")
