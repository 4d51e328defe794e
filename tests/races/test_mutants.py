"""The mutation check: each protection the races rely on, taken away in a copy of the package, must let its race
break the invariant. Proves the race tests in test_races.py would catch a missing row lock.

For each mutation (tests/races/scenarios.py ``MUTATIONS``: exact text replacements, each matching exactly once, so
moved code fails here loudly) the package is copied to a temporary directory, mutated, and served by granian from
there (the factory reports which ``marketplace`` it imported: the copy's), over this module's database; then the
races that rely on the protection are run against it.

On PostgreSQL every mutant must be caught: the invariant violated. On SQLite the row locks are no-ops: every
write transaction begins IMMEDIATE (marketplace/db.py), so writers run one at a time whatever the code locks; there
one copy with every mutation applied at once is served and every race must still hold: the single writer is what
protects on SQLite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.db import Database
from tests.conftest import BACKEND
from tests.races.conftest import Site, new_tag
from tests.races.scenarios import MUTATIONS, RACES, Auth, Ctx, run_race
from tests.races.test_races import ATTEMPTS
from tests.support import figures
from tests.support.racing import Mutation, mutant_source, served_app

pytestmark = pytest.mark.races
SUITE = "Mutation check"
MUTANT_N = 12  # requests per volley against a mutant: without its protection, a few at once already break it


async def race_mutant(mutation: Mutation, races: tuple[str, ...], site: Site, tmp: Path) -> dict[str, list[str]]:
    """Serve ``mutation`` over the module's database and run ``races`` against it: each race's violations."""
    source = mutant_source(mutation, tmp / "src")
    found: dict[str, list[str]] = {}
    with served_app(site.settings.database_url, tmp / "app", source=source) as app:
        assert app.source == source, f"the checkout's package was served, not the mutant's: {app.source}"
        db = Database(site.settings)
        try:
            for name in races:
                for _ in range(ATTEMPTS):
                    ctx = Ctx(app.url, db, site.settings, site.world, Auth(app.url), new_tag(), n=MUTANT_N)
                    volley, violations = await run_race(RACES[name], ctx)
                    found[name] = violations
                    # A volley the machine's load serialised proves nothing either way: run it again.
                    if violations or volley.peak_overlap() >= ctx.n // 2:
                        break
        finally:
            await db.dispose()
    return found


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks are no-ops on SQLite: see the single-writer test")
@pytest.mark.parametrize("mutation", list(MUTATIONS), ids=lambda m: m.name)
async def test_mutant_is_caught(mutation: Mutation, site: Site, tmp_path: Path) -> None:
    found = await race_mutant(mutation, MUTATIONS[mutation], site, tmp_path)
    figures.record(SUITE, "mutants served", 1)
    missed = [name for name, violations in found.items() if not violations]
    figures.record(SUITE, "mutants caught", int(not missed))
    assert not missed, f"{mutation.name} ({mutation.protection}) went unnoticed by {missed}"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's single writer")
async def test_sqlite_single_writer_holds_without_any_lock(site: Site, tmp_path: Path) -> None:
    """On SQLite what protects is the single writer (``BEGIN IMMEDIATE``): one copy with every mutation applied at
    once is served, and every race that catches a mutant on PostgreSQL still holds."""
    replacements = tuple(dict.fromkeys(r for m in MUTATIONS for r in m.replacements))
    everything = Mutation("all_locks_removed", "every mutation at once", replacements)
    races = tuple(dict.fromkeys(name for names in MUTATIONS.values() for name in names))
    found = await race_mutant(everything, races, site, tmp_path)
    figures.record(SUITE, "mutants served", 1)
    figures.record(
        SUITE, "races held by SQLite's single writer without any row lock", sum(not v for v in found.values())
    )
    assert not any(found.values()), found
