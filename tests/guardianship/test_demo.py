"""The demo holds realistic guardianship examples: assessments in every band, an entrusted guardianship nearing its
review and one lapsed (both in the demo director's community), temporary placements open, long-term decisions;
each on a child whose file names that arrangement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases import demo as cases_demo
from marketplace.cases.models import Child
from marketplace.demo.loader import load_pool
from marketplace.guardianship import demo
from marketplace.guardianship.models import (
    EntrustedGuardianship,
    GuardianshipAssessment,
    LongTermGuardianship,
    TemporaryGuardianship,
)


async def test_demo_guardianship(db, settings) -> None:
    async with db.session() as session:
        ctx = await load_pool(session)
        await cases_demo.load(session, ctx)
        await demo.load(session, ctx)
    today = clock.today()
    async with db.session(write=False) as s:
        director = await s.get(User, ctx["users"]["director"])
        assert director is not None
        files = {c.id: c for c in (await s.scalars(select(Child))).all()}
        results = set((await s.scalars(select(GuardianshipAssessment.result))).all())
        entrusted = list((await s.scalars(select(EntrustedGuardianship))).all())
        temporary = list((await s.scalars(select(TemporaryGuardianship))).all())
        long_term = list((await s.scalars(select(LongTermGuardianship))).all())
    assert results == {"good", "adequate", "inadequate"}
    near = [e for e in entrusted if e.status == "active" and today <= e.review_on <= today + dt.timedelta(days=30)]
    lapsed = [e for e in entrusted if e.status == "lapsed"]
    assert near and lapsed
    assert files[near[0].child_id].community_id == director.community_id
    assert all(files[e.child_id].guardianship == "entrusted" for e in entrusted)
    assert temporary and all(t.status == "open" for t in temporary)
    assert all(files[t.child_id].guardianship == "temporary_state" for t in temporary)
    assert long_term and all(files[lt.child_id].guardianship == "long_term_state" for lt in long_term)
