"""The console's sections beyond the dashboard and the pool: one per feature, each a plain import."""

from __future__ import annotations

from typing import Any

from admin.views import audit, cases, funds, procurement, referrals, reports

SECTIONS = [reports, cases, referrals, funds, procurement, audit]


def routes() -> list[Any]:
    return [handler for section in SECTIONS for handler in section.ROUTES]
