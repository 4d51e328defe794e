from __future__ import annotations

from sqlalchemy import func, select

from marketplace.cases import demo
from marketplace.cases.models import Child, Need
from marketplace.demo.loader import load_pool


async def test_demo_loads_children_with_their_needs(db, settings) -> None:
    async with db.session() as session:
        ctx = await load_pool(session)
        await demo.load(session, ctx)
    async with db.session(write=False) as session:
        children = await session.scalar(select(func.count()).select_from(Child))
        needs = await session.scalar(select(func.count()).select_from(Need))
        statuses = set((await session.scalars(select(Need.status).distinct())).all())
    assert children is not None and 380 <= children <= 400
    assert needs and needs > 300
    assert statuses == {"open"}
    # The referrals demo refers them from here.
    assert [d.need_id for d in ctx["demo_needs"]] == sorted(d.need_id for d in ctx["demo_needs"])
    assert len(ctx["demo_needs"]) == needs
