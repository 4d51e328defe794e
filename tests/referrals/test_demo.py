from __future__ import annotations

from sqlalchemy import func, select

from marketplace.cases import demo as cases_demo
from marketplace.cases.models import Need
from marketplace.demo.loader import load_pool
from marketplace.features import demo_modules
from marketplace.referrals import demo
from marketplace.referrals.models import Referral


async def test_demo_refers_needs_in_every_state_after_the_cases_demo(db) -> None:
    order = [m.__name__ for m in demo_modules()]
    assert order.index("marketplace.cases.demo") < order.index("marketplace.referrals.demo")
    async with db.session() as session:
        ctx = await load_pool(session)
        await cases_demo.load(session, ctx)
        await demo.load(session, ctx)
    async with db.session(write=False) as session:
        states = set((await session.scalars(select(Referral.status).distinct())).all())
        referred = await session.scalar(
            select(func.count()).select_from(Need).where(Need.status.in_(("referred", "matched", "in_service")))
        )
        active = await session.scalar(
            select(func.count()).select_from(Referral).where(Referral.status.in_(("sent", "accepted", "in_service")))
        )
    assert states == {"sent", "accepted", "declined", "in_service", "completed", "closed", "revoked"}
    # Each need waiting on or in a referral says so.
    assert referred == active and active
