"""The console's sections beyond the dashboard and the pool: one per feature, each a plain import."""

from __future__ import annotations

from typing import Any

from admin.views import (
    accounts,
    allowances,
    applications,
    audit,
    cases,
    children,
    conferences,
    director,
    funds,
    funds_donations,
    inbox,
    mandatory_reports,
    org,
    procurement,
    referrals,
    reports,
    services,
    staff,
    supervisor,
)

SECTIONS = [
    reports,
    cases,
    children,
    director,
    inbox,
    referrals,
    mandatory_reports,
    conferences,
    funds,
    funds_donations,
    procurement,
    allowances,
    audit,
    accounts,
    applications,
    staff,
    services,
    org,
    supervisor,
]


def routes() -> list[Any]:
    return [handler for section in SECTIONS for handler in section.ROUTES]
