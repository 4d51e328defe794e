"""The console's download URLs (report files, the allowance bank file, a gift's receipt, OCDS, a finished export)
as every role, signed in through the console's form, and as nobody: the roles the API allows get the file, every
other is refused (403, or 404 where the object is not theirs to see), and nobody signed in is sent to the login."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.admin.console import console_login
from tests.authz.conftest import District
from tests.authz.policy import CASE_READERS, FUND_READERS, PROC_READERS, A, P
from tests.authz.scenario import CALLERS, PASSWORD, ROLES, Scenario
from tests.support import figures

pytestmark = pytest.mark.asyncio(loop_scope="package")

SUITE = "Authorization matrix"


def _first(kind: str, template: str) -> Callable[[Scenario, str], str | None]:
    def url(sc: Scenario, role: str) -> str | None:
        mine, _ = sc.pick(kind, role)
        return template.format(**mine.params) if mine else None

    return url


def _fixed(url: str) -> Callable[[Scenario, str], str | None]:
    return lambda sc, role: url


# url, the roles that get the file
DOWNLOADS: dict[str, tuple[Callable[[Scenario, str], str | None], frozenset[str]]] = {
    "coverage report (CSV)": (_fixed("/admin/reports/coverage/download?format=csv"), CASE_READERS),
    "quarterly report (XLSX)": (_fixed("/admin/reports/quarterly/download?format=xlsx"), CASE_READERS),
    "allowance bank file": (_first("run", "/admin/allowances/runs/{run_id}/bank-file"), frozenset({A, P})),
    "allowance payment list (XLSX)": (_first("run", "/admin/allowances/runs/{run_id}/list?format=xlsx"), PROC_READERS),
    "gift receipt": (_first("donation", "/admin/funds/donations/{donation_id}/receipt"), FUND_READERS),  # a copy
    "procurement OCDS": (_first("procurement", "/admin/procurement/{procurement_id}/ocds"), PROC_READERS),
    "someone else's export": (
        lambda sc, role: (
            f"/admin/exports/{sc.pick('export', role)[1].params['job_id']}/download"
            if sc.pick("export", role)[1]
            else None
        ),
        frozenset(),
    ),
}
# What a role the file is not for may be answered: a refusal, or (before a signature, a finished file) a 4xx about
# the object's state is no file either; what matters is that no such answer is a 2xx.
ALLOWED_OK = range(200, 300)


async def test_console_downloads(district: District) -> None:
    sc, client = district.scenario, district.client
    attempts = cross = 0
    wrong: list[str] = []
    try:
        client.cookies.clear()
        for name, (url_of, _who) in DOWNLOADS.items():
            url = url_of(sc, "district_admin") or url_of(sc, "auditor")
            if url is None:
                continue
            r = await client.get(url, follow_redirects=False)
            attempts += 1
            if r.status_code not in (302, 303, 401):
                wrong.append(f"{name} anonymous: {r.status_code}")
        for role in ROLES:
            assert CALLERS[role]
            await console_login(client, CALLERS[role], PASSWORD)
            for name, (url_of, who) in DOWNLOADS.items():
                url = url_of(sc, role)
                if url is None:
                    continue
                r = await client.get(url, follow_redirects=False)
                attempts += 1
                if role in who:
                    if r.status_code >= 500 or r.status_code in (401, 403, 404):
                        wrong.append(f"{name} as {role}: {r.status_code}, the role's file refused")
                elif r.status_code in ALLOWED_OK:
                    cross += 1
                    wrong.append(f"{name} as {role}: {r.status_code}, a file the role may not have")
                elif r.status_code not in (403, 404):
                    wrong.append(f"{name} as {role}: {r.status_code}, not a refusal")
    finally:
        client.cookies.clear()
    figures.record(SUITE, "console download attempts", attempts)
    figures.record(SUITE, "cross-scope successes", cross)
    assert not wrong, "\n".join(wrong)
