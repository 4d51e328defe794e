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
    festivals,
    fund_sources,
    funds,
    funds_donations,
    guardianship,
    inbox,
    intake,
    mandatory_reports,
    messaging,
    org,
    places,
    procurement,
    referrals,
    reports,
    safety,
    services,
    staff,
    supervisor,
    volunteers,
    workforce,
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
    places,
    intake,
    conferences,
    funds,
    funds_donations,
    fund_sources,
    procurement,
    allowances,
    festivals,
    audit,
    accounts,
    applications,
    staff,
    services,
    org,
    supervisor,
    messaging,
    workforce,
    volunteers,
]


def routes() -> list[Any]:
    return [handler for section in SECTIONS for handler in section.ROUTES]
