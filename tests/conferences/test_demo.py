from __future__ import annotations

from sqlalchemy import select

from marketplace import clock
from marketplace.cases import demo as cases_demo
from marketplace.conferences import demo
from marketplace.conferences.models import Conference, Decision, Participant
from marketplace.demo.loader import load_pool
from marketplace.features import demo_modules
from marketplace.referrals import demo as referrals_demo


async def test_demo_holds_a_conference_with_open_and_overdue_decisions_and_plans_one(db) -> None:
    order = [m.__name__ for m in demo_modules()]
    assert order.index("marketplace.referrals.demo") < order.index("marketplace.conferences.demo")
    async with db.session() as session:
        ctx = await load_pool(session)
        await cases_demo.load(session, ctx)
        await referrals_demo.load(session, ctx)
        await demo.load(session, ctx)
    today = clock.today()
    async with db.session(write=False) as session:
        confs = list((await session.scalars(select(Conference).order_by(Conference.id))).all())
        decisions = list((await session.scalars(select(Decision))).all())
        parties = {p.kind for p in (await session.scalars(select(Participant))).all()}
    assert [c.status for c in confs] == ["held", "planned"]
    assert confs[0].minutes and confs[0].held_at is not None and confs[1].scheduled_at > clock.now()
    assert {"school", "police", "residents_committee", "internal"} <= parties
    open_ = [d for d in decisions if d.status == "open"]
    assert any(d.due_on < today for d in open_) and any(d.due_on >= today for d in open_)
    assert any(d.status == "done" and d.done_at is not None for d in decisions)
