"""No illegal transition is possible: random sequences of (action, actor) against the service layer, checked
against an independent model of the lifecycle, its actors, the capacity it books and the need it carries."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.models import Need, Visit
from marketplace.db import Database
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.referrals import service as referrals
from marketplace.referrals.models import Referral
from marketplace.referrals.schemas import OutcomeIn, VerdictIn
from marketplace.resources.models import ServiceCapacity
from tests.cases.support import add_child, add_need, add_referral
from tests.support.world import build_world

LEGAL = {
    ("sent", "accept"): "accepted",
    ("sent", "decline"): "declined",
    ("accepted", "start"): "in_service",
    ("in_service", "complete"): "completed",
    ("completed", "close"): "closed",
    ("sent", "revoke"): "revoked",
    ("accepted", "revoke"): "revoked",
    ("in_service", "revoke"): "revoked",
}
ACTORS = {
    "accept": {"org"},
    "decline": {"org"},
    "start": {"org"},
    "complete": {"org", "director", "supervisor"},
    "close": {"director", "supervisor"},
    "revoke": {"director", "supervisor"},
}
# The need's status while its (only) referral is in each state: the close settles it with the verdict (met here).
NEED_OF = {
    "sent": "matched",
    "accepted": "matched",
    "in_service": "in_service",
    "completed": "in_service",
    "closed": "met",
    "declined": "open",
    "revoked": "open",
}
STEPS = st.lists(
    st.tuples(
        st.sampled_from([*ACTORS, "visit"]),
        st.sampled_from(["org", "org2", "director", "director3", "supervisor", "auditor"]),
    ),
    max_size=12,
)


async def _run(settings_, steps: list[tuple[str, str]]) -> None:
    db = Database(settings_)
    try:
        async with db.session() as s:
            world = await build_world(s)
            child = await add_child(s, settings_, world.communities[0], world.streets[0])
            need = await add_need(s, child, "psych_counselling")
            ref = await add_referral(s, need, world.services[0], world.orgs[0])
            rid, cid, nid = ref.id, child.id, need.id
        people = {
            "org": Principal(world.users["org"], "org", "org_staff", organization_id=world.orgs[0]),
            "org2": Principal(world.users["org2"], "org2", "org_staff", organization_id=world.orgs[1]),
            "director": Principal(
                world.users["director"],
                "director",
                "child_director",
                street_id=world.streets[0],
                community_id=world.communities[0],
            ),
            "director3": Principal(
                world.users["director3"],
                "director3",
                "child_director",
                street_id=world.streets[1],
                community_id=world.communities[2],
            ),
            "supervisor": Principal(
                world.users["supervisor"], "supervisor", "child_supervisor", street_id=world.streets[0]
            ),
            "auditor": Principal(world.users["auditor"], "auditor", "auditor"),
        }
        # The follow-up rule is by day (a visit dated on or after the completion's day), and every step here happens
        # on the same day: any visit recorded before the close satisfies it.
        state, visited, booked = "sent", False, 0
        for action, actor in steps:
            if action == "visit":
                async with db.session() as s:
                    s.add(Visit(child_id=cid, visited_on=clock.today(), kind="follow_up", next_visit_due=clock.today()))
                visited = True
                continue
            target = LEGAL.get((state, action))
            allowed = actor in ACTORS[action]
            ok = target is not None and allowed and (action != "close" or visited)
            try:
                async with db.session() as s:
                    await referrals.transition(
                        s,
                        people[actor],
                        rid,
                        action,
                        reason="理由",
                        outcome=OutcomeIn(outcome="got_help"),
                        verdict=VerdictIn(verdict="met"),
                    )
            except (Conflict, Forbidden, NotFound):
                assert not ok, (state, action, actor)
            else:
                assert ok, (state, action, actor)
                if action == "accept":
                    booked += 1
                if action == "revoke" and state == "accepted":
                    booked -= 1
                state = target
            async with db.session(write=False) as s:
                assert (await s.get(Referral, rid)).status == state  # type: ignore[union-attr]
                assert (await s.get(Need, nid)).status == NEED_OF[state]  # type: ignore[union-attr]
                total = await s.scalar(
                    select(ServiceCapacity.booked).where(ServiceCapacity.service_id == world.services[0])
                )
                assert (total or 0) == booked
    finally:
        await db.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_random_transition_sequences(db_template, tmp_path_factory, steps) -> None:
    from tests.support.databases import test_settings

    tmp = tmp_path_factory.mktemp("lifecycle")
    url = db_template.new_database(tmp)
    try:
        asyncio.run(_run(test_settings(url, tmp), steps))
    finally:
        if hasattr(db_template, "drop"):
            db_template.drop(url)
