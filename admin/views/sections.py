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
    families,
    fund_sources,
    funds,
    funds_donations,
    guardianship,
    inbox,
    intake,
    mandatory_reports,
    messaging,
    org,
    procurement,
    referrals,
    reports,
    safety,
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
    guardianship,
    safety,
    families,
    intake,
    conferences,
    funds,
    funds_donations,
    fund_sources,
    procurement,
    allowances,
    audit,
    accounts,
    applications,
    staff,
    services,
    org,
    supervisor,
    messaging,
]


def routes() -> list[Any]:
    return [handler for section in SECTIONS for handler in section.ROUTES]
