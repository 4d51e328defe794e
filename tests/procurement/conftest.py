from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.procurement import metrics
from tests.procurement.referral_metrics import provide_missing


@pytest.fixture(autouse=True)
def referral_metrics() -> Iterator[None]:
    added = provide_missing()
    yield
    for code in added:
        metrics.withdraw(code)
