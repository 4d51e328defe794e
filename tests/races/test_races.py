"""Every money and capacity path raced for real: N requests at once, each on its own connection, to the app served
by granian over the suite's database (SQLite file or PostgreSQL, ``TEST_DATABASE``). The inventory of the paths
and their protections is in tests/races/scenarios.py.

Each race asserts that the invariant holds afterwards (through the API and the database), that exactly the
expected number of requests won and every loser got a 409/422 problem (never a 500, never "database is locked"),
and that the server really handled the requests at the same time: its own start/end stamps of the requests
(``x-race-window``) show at least half of them in flight at one instant. A volley the machine's load happened to
serialise proves nothing about the protection: the race is run again on fresh data (at most ``ATTEMPTS`` times),
and every attempt's answers are checked all the same.
"""

from __future__ import annotations

import pytest

from marketplace.db import Database
from tests.races.conftest import Site, new_tag
from tests.races.scenarios import RACES, Auth, Ctx, Race, run_race
from tests.support import figures
from tests.support.racing import Served, Volley

pytestmark = pytest.mark.races
SUITE = "Races (served app, parallel requests)"
ATTEMPTS = 3


def check_answers(race: Race, volley: Volley, violations: list[str], served: Served) -> None:
    errors = volley.server_errors()
    figures.record(SUITE, "parallel requests sent", len(volley.outcomes))
    figures.record(SUITE, "invariant violations", len(violations))
    figures.record(SUITE, "server errors", len(errors))
    figures.record(SUITE, '"database is locked" answers', len(volley.locked()))
    assert not errors, [(o.status, o.text[:500]) for o in errors] + [served.tail()]
    assert not volley.locked()
    assert violations == [], violations
    if race.winners is not None:
        assert volley.count(200, 201) == race.winners, volley.codes
    for o in volley.outcomes:
        if not 200 <= o.status < 300:
            assert o.status in (409, 422), (o.status, o.text)
            assert o.body["status"] == o.status and o.body["detail"], o.body
    assert all(o.window is not None for o in volley.outcomes)


@pytest.mark.parametrize("name", list(RACES))
async def test_race(name: str, site: Site, served: Served) -> None:
    race = RACES[name]
    peaks = []
    db = Database(site.settings)
    try:
        for _ in range(ATTEMPTS):
            ctx = Ctx(served.url, db, site.settings, site.world, Auth(served.url), new_tag())
            volley, violations = await run_race(race, ctx)
            check_answers(race, volley, violations, served)
            peaks.append(volley.peak_overlap())
            if peaks[-1] >= race.n // 2:
                break
    finally:
        await db.dispose()
    figures.record(SUITE, "paths tested", 1)
    figures.record(SUITE, "requests in flight at once, at the peak (sum over paths)", peaks[-1])
    # The requests overlapped on the server: at least half of them were being handled at one instant.
    assert peaks[-1] >= race.n // 2, f"the server never had {race.n // 2} of {race.n} requests in flight: {peaks}"
