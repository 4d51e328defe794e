from __future__ import annotations

from sqlalchemy import func, select

from marketplace.cases import demo
from marketplace.cases.models import Child, Need
from marketplace.referrals.models import Referral


async def test_demo_loads_children_with_referrals_in_every_state(db, settings) -> None:
    from marketplace.demo.loader import load_pool

    async with db.session() as session:
        ctx = await load_pool(session)
        await demo.load(session, ctx)
    async with db.session(write=False) as session:
        children = await session.scalar(select(func.count()).select_from(Child))
        needs = await session.scalar(select(func.count()).select_from(Need))
        states = set((await session.scalars(select(Referral.status).distinct())).all())
    assert children is not None and 380 <= children <= 400
    assert needs and needs > 300
    assert states == {"sent", "accepted", "declined", "in_service", "completed", "closed", "revoked"}
