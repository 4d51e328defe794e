"""Children, needs, visits and referrals written straight into the tables: a known picture to report on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.models import Child, Need, Visit
from marketplace.referrals.models import Referral
from tests.support.world import World

# Read when the module is imported, after tests/conftest.py has set the clock for the run (see TEST_CLOCK).
NOW = clock.now()
TODAY = clock.today()


@dataclass
class Cases:
    children: list[int] = field(default_factory=list)
    needs: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)


def _child(world: World, n: int, community: int, street: int, next_due: dt.date) -> Child:
    return Child(
        community_id=world.communities[community],
        street_id=world.streets[street],
        name=f"张小明{n}",
        gender="male",
        birth_date=dt.date(2015, 1, 1),
        id_number_enc="x",
        id_number_hmac=f"h{n}",
        categories=["left_behind"],
        guardianship="family",
        risk_level="medium",
        next_visit_due=next_due,
    )


async def build_cases(session: AsyncSession, world: World) -> Cases:
    """Street 1 (福田): 3 children, street 2 (园岭): 1 child.

    Needs: street 1 has psych_counselling open, psych_counselling in service, education_aid met, legal_aid
    withdrawn; street 2 has education_aid open. One street-1 child is overdue for a visit; one street-1 referral is
    sent and past the SLA, one was accepted after 1 day and closed after 10 days, the director's verdict: met.
    """
    out = Cases()
    kids = [
        _child(world, 1, 0, 0, TODAY - dt.timedelta(days=3)),
        _child(world, 2, 0, 0, TODAY + dt.timedelta(days=20)),
        _child(world, 3, 1, 0, TODAY + dt.timedelta(days=20)),
        _child(world, 4, 2, 1, TODAY + dt.timedelta(days=20)),
    ]
    session.add_all(kids)
    await session.flush()
    out.children = [k.id for k in kids]

    def need(child: Child, category: str, status: str, urgency: int = 2) -> Need:
        return Need(
            child_id=child.id,
            street_id=child.street_id,
            community_id=child.community_id,
            category=category,
            urgency=urgency,
            status=status,
            met_at=NOW if status == "met" else None,
        )

    needs = [
        need(kids[0], "psych_counselling", "open", urgency=3),
        need(kids[1], "psych_counselling", "in_service"),
        need(kids[2], "education_aid", "met"),
        need(kids[2], "legal_aid", "withdrawn"),
        need(kids[3], "education_aid", "open"),
    ]
    session.add_all(needs)
    await session.flush()
    out.needs = [n.id for n in needs]
    # Visits: child 1 visited twice, the second late (after the due date the first set).
    session.add_all(
        [
            Visit(
                child_id=kids[0].id,
                visited_on=TODAY - dt.timedelta(days=40),
                kind="home",
                next_visit_due=TODAY - dt.timedelta(days=30),
            ),
            Visit(
                child_id=kids[0].id,
                visited_on=TODAY - dt.timedelta(days=20),
                kind="home",
                next_visit_due=TODAY - dt.timedelta(days=3),
            ),
            Visit(
                child_id=kids[1].id,
                visited_on=TODAY - dt.timedelta(days=10),
                kind="home",
                next_visit_due=TODAY + dt.timedelta(days=20),
            ),
        ]
    )

    def referral(n: Need, status: str, sent_days_ago: float, **times: dt.datetime | str | None) -> Referral:
        return Referral(
            need_id=n.id,
            child_id=n.child_id,
            service_id=world.services[0],
            organization_id=world.orgs[0],
            street_id=n.street_id,
            community_id=n.community_id,
            status=status,
            sent_at=NOW - dt.timedelta(days=sent_days_ago),
            **times,
        )

    refs = [
        referral(needs[0], "sent", 5),
        referral(
            needs[1],
            "closed",
            12,
            accepted_at=NOW - dt.timedelta(days=11),
            started_at=NOW - dt.timedelta(days=10),
            completed_at=NOW - dt.timedelta(days=3),
            closed_at=NOW - dt.timedelta(days=2),
            outcome="got_help",
            verdict="met",
        ),
    ]
    session.add_all(refs)
    await session.flush()
    out.referrals = [r.id for r in refs]
    return out
