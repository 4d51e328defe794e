"""The suites whose results depend on the district's date (visits, SLAs, reports, the console's boards, allowances,
publicity periods, contract terms, the fund's monthly accounts, the casework deadlines): the root conftest marks their
tests ``clock_sensitive``, and `make test-clock` runs exactly these paths again with the app's clock at 16:05 and
23:55 UTC (``python -m tests.support.clock_suites`` prints them, so the run collects nothing else)."""

from __future__ import annotations

from typing import Final

CLOCK_SENSITIVE: Final = (
    "tests/cases/",
    "tests/referrals/",
    "tests/reports/",
    "tests/admin/",
    "tests/workforce/",
    "tests/procurement/",
    "tests/matching/test_funding.py",
    "tests/funds/test_service.py",
    "tests/test_clock.py",
)

if __name__ == "__main__":
    print(" ".join(CLOCK_SENSITIVE))
