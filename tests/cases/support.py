"""The test world for children, needs and referrals, built on tests/support/world.py.

Three children: A in director's community (福山, 福田街道), B in director2's (岗厦, 福田街道), C in director3's
(百花, 园岭街道). A needs psychological counselling (service 0 of org); C needs education aid (service 1 of org2);
each need has a referral in state `sent`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.service import issue_token
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, Need
from marketplace.db import Database, utcnow
from marketplace.referrals.models import Referral
from marketplace.settings import Settings
from tests.support.world import World


def id_number(birth: dt.date, seq: str = "991") -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    first = f"440304{birth:%Y%m%d}{seq}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, weights, strict=True)) % 11]


def birth_for_age(age: int) -> dt.date:
    today = clock.today()
    return (
        dt.date(today.year - age - 1, 1, 15) if (today.month, today.day) < (1, 15) else dt.date(today.year - age, 1, 15)
    )


async def add_child(
    session: AsyncSession,
    settings: Settings,
    community_id: int,
    street_id: int,
    *,
    name: str = "张小明",
    age: int = 10,
    categories: list[str] | None = None,
    risk: str = "medium",
    consent: bool = True,
    seq: str = "991",
) -> Child:
    c = field_cipher(settings)
    birth = birth_for_age(age)
    number = id_number(birth, seq)
    child = Child(
        community_id=community_id,
        street_id=street_id,
        name=name,
        gender="male",
        birth_date=birth,
        id_number_enc=c.encrypt(number, "children.id_number"),
        id_number_hmac=c.lookup_hash(number),
        categories=categories or ["left_behind"],
        guardianship="family",
        risk_level=risk,
        guardian_name="张建国",
        guardian_phone_enc=c.encrypt("13900001234", "children.guardian_phone"),
        consent_to_share=consent,
        share_note="孩子喜欢画画",
        next_visit_due=clock.today() + dt.timedelta(days=30),
    )
    session.add(child)
    await session.flush()
    return child


async def add_need(session: AsyncSession, child: Child, category: str, urgency: int = 3) -> Need:
    need = Need(
        child_id=child.id,
        street_id=child.street_id,
        community_id=child.community_id,
        category=category,
        urgency=urgency,
        note="需要帮助",
        status="open",
    )
    session.add(need)
    await session.flush()
    return need


async def add_referral(
    session: AsyncSession, need: Need, service_id: int, organization_id: int, *, status: str = "sent", **kw: object
) -> Referral:
    r = Referral(
        need_id=need.id,
        child_id=need.child_id,
        service_id=service_id,
        organization_id=organization_id,
        street_id=need.street_id,
        community_id=need.community_id,
        status=status,
        plan={},
        share_note=kw.pop("share_note", "孩子喜欢画画"),  # type: ignore[arg-type]
        sent_at=kw.pop("sent_at", utcnow()),  # type: ignore[arg-type]
        **kw,
    )
    session.add(r)
    # The need where the need lifecycle leaves it with its referral in ``status``.
    if status in ("sent", "accepted"):
        need.status = "matched"
    elif status in ("in_service", "completed"):
        need.status = "in_service"
    await session.flush()
    return r


@dataclass
class Cases:
    children: dict[str, int] = field(default_factory=dict)
    needs: dict[str, int] = field(default_factory=dict)
    referrals: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def cases(db: Database, world: World, settings: Settings) -> Cases:
    out = Cases()
    s1, s2 = world.streets
    c1, c2, c3 = world.communities
    async with db.session() as session:
        a = await add_child(session, settings, c1, s1, name="张小明", categories=["left_behind"], seq="991")
        b = await add_child(session, settings, c2, s1, name="李小红", categories=["orphan"], seq="993")
        c = await add_child(session, settings, c3, s2, name="王小华", categories=["economic_hardship"], seq="995")
        out.children = {"A": a.id, "B": b.id, "C": c.id}
        na = await add_need(session, a, "psych_counselling")
        nb = await add_need(session, b, "psych_counselling")
        nc = await add_need(session, c, "education_aid")
        out.needs = {"A": na.id, "B": nb.id, "C": nc.id}
        ra = await add_referral(session, na, world.services[0], world.orgs[0])
        rc = await add_referral(session, nc, world.services[1], world.orgs[1])
        out.referrals = {"A": ra.id, "C": rc.id}
    return out


class TokenAuth:
    """Bearer headers minted directly: the auth tests cover login; here a password hash per user per test
    would dominate the run time of the scope matrix."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._tokens: dict[str, str] = {}

    async def __call__(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            async with self.db.session(write=False) as session:
                user = await session.scalar(select(User).where(User.username == username))
                assert user is not None, username
                self._tokens[username] = issue_token(user, self.settings)
        return {"Authorization": f"Bearer {self._tokens[username]}"}


@pytest.fixture
def auth(client: object, db: Database, settings: Settings) -> TokenAuth:
    return TokenAuth(db, settings)
