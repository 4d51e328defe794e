"""The sections that depend on features built alongside the console: each joins when its feature has landed."""

from __future__ import annotations

import importlib
from typing import Any

from admin import web

# (console module, the feature module it needs)
SECTIONS = [
    ("admin.views.reports", "marketplace.reports.service"),
    ("admin.views.cases", "marketplace.cases.service"),
    ("admin.views.referrals", "marketplace.referrals.service"),
    ("admin.views.funds", "marketplace.funds.service"),
    ("admin.views.procurement", "marketplace.procurement.service"),
    ("admin.views.audit", "marketplace.audit.service"),
]


def routes() -> list[Any]:
    found: list[Any] = []
    for module, feature in SECTIONS:
        if web.has_module(feature) and web.has_module(module):
            found.extend(importlib.import_module(module).ROUTES)
    return found
