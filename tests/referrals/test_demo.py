from __future__ import annotations

from sqlalchemy import select

from marketplace import clock
from marketplace.cases import demo as cases_demo
from marketplace.cases.models import Need, Visit
from marketplace.demo.loader import load_pool
from marketplace.features import demo_modules
from marketplace.referrals import demo
from marketplace.referrals.models import Referral

# Where the need lifecycle leaves a need whose (only) referral is in each state.
NEED_OF = {
    "sent": {"matched"},
    "accepted": {"matched"},
    "in_service": {"in_service"},
    "completed": {"in_service"},
    "declined": {"open"},
    "revoked": {"open"},
}


async def test_demo_refers_needs_in_every_state_after_the_cases_demo(db) -> None:
    order = [m.__name__ for m in demo_modules()]
    assert order.index("marketplace.cases.demo") < order.index("marketplace.referrals.demo")
    async with db.session() as session:
        ctx = await load_pool(session)
        await cases_demo.load(session, ctx)
        await demo.load(session, ctx)
    now = clock.now()
    async with db.session(write=False) as session:
        referrals = list((await session.scalars(select(Referral))).all())
        needs = {n.id: n for n in (await session.scalars(select(Need))).all()}
        visits = {v.id: v for v in (await session.scalars(select(Visit).where(Visit.kind == "follow_up"))).all()}
    assert {r.status for r in referrals} == {
        "sent",
        "accepted",
        "declined",
        "in_service",
        "completed",
        "closed",
        "revoked",
    }
    assert len({r.need_id for r in referrals}) == len(referrals)  # one referral per need in the demo
    verdicts = set()
    for r in referrals:
        need = needs[r.need_id]
        # Every event of the referral lies in the past, in the lifecycle's order.
        times = [t for t in (r.sent_at, r.accepted_at, r.started_at, r.completed_at, r.closed_at) if t is not None]
        assert times == sorted(times) and times[-1] <= now, r.id
        if r.status != "closed":
            assert need.status in NEED_OF[r.status], (r.id, r.status, need.status)
            assert r.verdict is None and need.settled_at is None
            continue
        # A closed referral carries the director's verdict after a follow-up visit between completion and close;
        # the need took the verdict (an unmet one went back to the open list).
        assert r.completed_at is not None and r.closed_at is not None and r.verdict is not None
        visit = visits[r.follow_up_visit_id or 0]
        assert clock.local_date(r.completed_at) <= visit.visited_on <= clock.local_date(r.closed_at)
        verdicts.add(r.verdict)
        if r.verdict == "not_met":
            assert need.status == "open" and need.settled_at is None
        else:
            assert need.status == r.verdict and need.settled_at == r.closed_at
            assert need.met_at == r.closed_at
    assert verdicts == {"met", "partly_met", "not_met"}
    # Needs never referred wait open.
    referred = {r.need_id for r in referrals}
    assert {n.status for i, n in needs.items() if i not in referred} == {"open"}
