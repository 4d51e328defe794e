"""Demo data of guardianship on the demo director's community (and the rest of the district): assessments in each
result band, entrusted confirmations (one nearing its review within 30 days of the demo's date, one lapsed, the
others a year or more ahead), a temporary placement with the rescue centre open, a long-term guardianship, all on
children whose file already names that arrangement (the demo's children are drawn with one)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases.models import Child
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.models import (
    EntrustedGuardianship,
    GuardianshipAssessment,
    LongTermGuardianship,
    TemporaryGuardianship,
)
from marketplace.guardianship.service import add_months

ORDER = 36

RESCUE_CENTRE = "深圳市福田区未成年人救助保护中心"
PEOPLE = (("陈秀英", "外祖母"), ("李建国", "祖父"), ("王丽华", "姑母"), ("张桂兰", "祖母"), ("刘志强", "舅舅"))
# Answers for a family in each band: (every item at this value, then these items changed).
PROFILES: dict[str, tuple[int, dict[str, int]]] = {
    "good": (3, {"presence": 2, "income": 2}),
    "adequate": (2, {"income": 1, "presence": 1, "emotional": 1}),
    "inadequate": (1, {"alone": 0, "care_skill": 1, "presence": 0}),
}


def _answers(band: str) -> dict[str, int]:
    base, changed = PROFILES[band]
    return {**{i.code: base for i in inst.CURRENT.items()}, **changed}


def _assessment(child: Child, band: str, on: dt.date, assessor: int | None, note: str) -> GuardianshipAssessment:
    answers = _answers(band)
    scored = inst.score(inst.CURRENT, answers)
    return GuardianshipAssessment(
        child_id=child.id,
        instrument_code=inst.CURRENT.code,
        instrument_version=inst.CURRENT.version,
        answers=answers,
        domain_scores=scored.domains,
        score=scored.score,
        result=scored.result,
        recommended=inst.CURRENT.band(scored.result).recommended,
        assessed_on=on,
        note=note,
        assessor_id=assessor,
    )


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    users: dict[str, int] = ctx.get("users", {})
    director_id = users.get("director")
    today = clock.today()
    rng = random.Random(2039)
    director = await session.get(User, director_id) if director_id else None
    community_id = director.community_id if director else None

    async def children(guardianship: str) -> list[Child]:
        stmt = select(Child).where(Child.status == "active", Child.guardianship == guardianship).order_by(Child.id)
        found = list((await session.scalars(stmt)).all())
        # The demo director's own children first, so their phone shows the examples.
        return sorted(found, key=lambda c: (c.community_id != community_id, c.id))

    entrusted = await children("entrusted")
    for n, child in enumerate(entrusted[:12]):
        person, relation = PEOPLE[n % len(PEOPLE)]
        if n == 0:  # nearing its review: the director's reminder is due
            review_on = today + dt.timedelta(days=18)
        elif n == 1:  # its review passed without a renewal
            review_on = today - dt.timedelta(days=9)
        else:
            review_on = today + dt.timedelta(days=rng.randint(45, 330))
        signed_on = add_months(review_on, -12)
        session.add(
            _assessment(
                child,
                "adequate",
                signed_on - dt.timedelta(days=rng.randint(3, 20)),
                director_id,
                "父母在外务工，祖辈照料，日常起居尚可，学习辅导不足。",
            )
        )
        session.add(
            EntrustedGuardianship(
                child_id=child.id,
                person_name=person,
                relationship=relation,
                contact_phone=f"1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}",
                signed_on=signed_on,
                review_on=review_on,
                status="lapsed" if n == 1 else "active",
                lapsed_at=clock.now() - dt.timedelta(days=8) if n == 1 else None,
                note="父母外出务工期间委托照料，已签署委托监护确认书。",
                created_by=director_id,
            )
        )
    temporary = await children("temporary_state")
    for n, child in enumerate(temporary[:3]):
        started = today - dt.timedelta(days=12 + 20 * n)
        session.add(
            _assessment(
                child,
                "inadequate",
                started - dt.timedelta(days=1),
                director_id,
                "走访发现儿童长期独自在家，监护人无法联系，已报警并联系救助保护机构。",
            )
        )
        session.add(
            TemporaryGuardianship(
                child_id=child.id,
                institution=RESCUE_CENTRE,
                reason="监护人长期失联，儿童独居无人照料，经民政部门决定由救助保护机构临时监护。",
                started_on=started,
                status="open",
                created_by=director_id,
            )
        )
    long_term = await children("long_term_state")
    for n, child in enumerate(long_term[:3]):
        decided = today - dt.timedelta(days=200 + 90 * n)
        session.add(
            LongTermGuardianship(
                child_id=child.id,
                document_no=f"（{decided.year}）粤0304民特{100 + n}号",
                decided_on=decided,
                institution="深圳市儿童福利院",
                started_on=decided + dt.timedelta(days=7),
                note="父母双亡，无其他监护人，经法院判决由民政部门长期监护。",
                created_by=director_id,
            )
        )
    family = await children("family")
    for n, child in enumerate(family[:8]):
        band = "good" if n % 3 else "adequate"
        session.add(
            _assessment(
                child,
                band,
                today - dt.timedelta(days=rng.randint(5, 120)),
                director_id,
                "入户评估，监护人履职情况良好。" if band == "good" else "家庭经济困难，需持续帮扶。",
            )
        )
    await session.flush()
