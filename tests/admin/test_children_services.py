"""What the director's pages asked of the services: the identity number checked before filing
(``cases.check_id_number``), the open needs per child (``cases.open_need_counts``) and the open referrals and
those awaiting a verdict per child (``referrals.counts_by_child``), each in the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.service import principal_of
from marketplace.cases import service as cases_service
from marketplace.cases.models import Need
from marketplace.errors import Forbidden
from marketplace.referrals import service as referrals
from marketplace.referrals.models import Referral
from tests.cases.support import Cases, birth_for_age, cases, id_number

__all__ = ["cases"]


async def principal(session: Any, world: Any, username: str) -> Any:
    user = await session.get(User, world.users[username])
    return principal_of(user)


async def test_check_id_number(db, world, settings, cases: Cases) -> None:
    birth = birth_for_age(9)
    good = id_number(birth, "971")
    async with db.session(write=False) as s:
        director = await principal(s, world, "director")
        ok = await cases_service.check_id_number(s, director, settings, good.lower(), birth_date=birth, gender="male")
        assert ok.ok and ok.problems == [] and ok.warnings == []
        assert ok.birth_date == birth and ok.gender == "male"
        female = await cases_service.check_id_number(s, director, settings, good, gender="female")
        assert female.ok and [w["field"] for w in female.warnings] == ["gender"]
        wrong_birth = await cases_service.check_id_number(
            s, director, settings, good, birth_date=birth + dt.timedelta(days=1)
        )
        assert not wrong_birth.ok and wrong_birth.problems[0]["field"] == "birth_date"
        bad = await cases_service.check_id_number(s, director, settings, good[:17] + "Z")
        assert not bad.ok and "身份证号无效" in bad.problems[0]["message"] and bad.birth_date is None
        # 张小明's number is filed in 福山社区; a director of another street learns only the community.
        director3 = await principal(s, world, "director3")
        held = await cases_service.check_id_number(s, director3, settings, id_number(birth_for_age(10), "991"))
        assert not held.ok and "已在福山社区建档" in held.problems[0]["message"]
        adult = id_number(dt.date(clock.today().year - 20, 3, 1))
        assert (
            "已满18周岁" in (await cases_service.check_id_number(s, director, settings, adult)).problems[0]["message"]
        )
        with pytest.raises(Forbidden):
            await cases_service.check_id_number(s, await principal(s, world, "supervisor"), settings, good)


async def test_open_need_and_referral_counts_per_child_in_scope(db, world, settings, cases: Cases) -> None:
    a, b = cases.children["A"], cases.children["B"]
    async with db.session() as s:
        need_a = await s.get(Need, cases.needs["A"])
        assert need_a is not None
        # A second need of A's, met: not counted; its referral completed, awaiting the verdict.
        met = Need(
            child_id=a,
            street_id=need_a.street_id,
            community_id=need_a.community_id,
            category="education_aid",
            urgency=1,
            status="in_service",
        )
        s.add(met)
        await s.flush()
        s.add(
            Referral(
                need_id=met.id,
                child_id=a,
                service_id=world.services[1],
                organization_id=world.orgs[1],
                street_id=need_a.street_id,
                community_id=need_a.community_id,
                status="completed",
                plan={},
                sent_at=clock.now(),
            )
        )
    async with db.session(write=False) as s:
        director = await principal(s, world, "director")
        assert await cases_service.open_need_counts(s, director, [a, b]) == {a: 2}
        counts = await referrals.counts_by_child(s, director, [a, b])
        assert counts == {a: {"open": 1, "escalated": 0, "awaiting_verdict": 1}}
        supervisor = await principal(s, world, "supervisor")
        assert await cases_service.open_need_counts(s, supervisor, [a, b]) == {a: 2, b: 1}
        assert (await referrals.counts_by_child(s, supervisor, [a, b]))[a] == {
            "open": 1,
            "escalated": 0,
            "awaiting_verdict": 1,
        }
        assert await cases_service.open_need_counts(s, director, []) == {}
        org2 = await principal(s, world, "org2")
        assert await referrals.counts_by_child(s, org2, [a, b]) == {
            a: {"open": 0, "escalated": 0, "awaiting_verdict": 1}
        }
    # The ladder took up A's unanswered referral: counted as escalated (still open).
    async with db.session() as s:
        sent = await s.get(Referral, cases.referrals["A"])
        assert sent is not None
        sent.escalated_at, sent.escalation_level = clock.now(), 1
    async with db.session(write=False) as s:
        director = await principal(s, world, "director")
        counts = await referrals.counts_by_child(s, director, [a])
        assert counts == {a: {"open": 1, "escalated": 1, "awaiting_verdict": 1}}
