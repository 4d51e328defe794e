"""Demo data: ~400 synthetic children of Futian with their needs and visits. The referrals demo (ORDER 35)
refers about half of the needs, reading them from ``ctx["demo_needs"]``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, Need, Visit
from marketplace.cases.service import next_visit_due
from marketplace.demo import futian_data as data
from marketplace.settings import get_settings

ORDER = 30


@dataclass(frozen=True)
class DemoNeed:
    """A need the cases demo opened, with what a demo referral of it reads of the child."""

    need_id: int
    child_id: int
    street_id: int
    community_id: int
    category: str
    note: str
    school: str
    consent_to_share: bool
    risk_level: str


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings") or get_settings()
    c = field_cipher(settings)
    communities: dict[str, int] = ctx.get("communities", {})
    streets: dict[str, int] = ctx.get("streets", {})
    users: dict[str, int] = ctx.get("users", {})
    today = clock.today()
    rng = random.Random(2023)
    director = users.get("director")
    opened: list[DemoNeed] = ctx.setdefault("demo_needs", [])
    for kid in data.children(data.SEED, 400):
        community_id = communities.get(kid.community_code)
        street_id = streets.get(kid.street_code)
        if community_id is None or street_id is None:
            continue
        visits = sorted(kid.visits, key=lambda v: v.days_ago, reverse=True)
        last = today - dt.timedelta(days=visits[-1].days_ago) if visits else None
        child = Child(
            community_id=community_id,
            street_id=street_id,
            name=kid.name,
            gender=kid.gender,
            birth_date=kid.birth_date,
            id_number_enc=c.encrypt(kid.id_number, "children.id_number"),
            id_number_hmac=c.lookup_hash(kid.id_number),
            categories=list(kid.categories),
            guardianship=kid.guardianship,
            risk_level=kid.risk_level,
            school=kid.school,
            household_notes=kid.household_notes,
            guardian_name=kid.guardian_name,
            guardian_relation=kid.guardian_relation,
            guardian_phone_enc=c.encrypt(kid.guardian_phone, "children.guardian_phone"),
            consent_to_share=kid.consent_to_share,
            consent_recorded_on=today - dt.timedelta(days=rng.randint(30, 300)) if kid.consent_to_share else None,
            last_visit_on=last,
            next_visit_due=next_visit_due(settings, kid.risk_level, last or today),
            status="active",
            created_by=director,
        )
        session.add(child)
        await session.flush()
        for v in visits:
            on = today - dt.timedelta(days=v.days_ago)
            session.add(
                Visit(
                    child_id=child.id,
                    visited_on=on,
                    kind=v.kind,
                    findings=v.findings,
                    next_visit_due=next_visit_due(settings, kid.risk_level, on),
                    created_by=director,
                )
            )
        for spec in kid.needs:
            need = Need(
                child_id=child.id,
                street_id=street_id,
                community_id=community_id,
                category=spec.category,
                urgency=spec.urgency,
                note=spec.note,
                status="open",
                created_by=director,
            )
            session.add(need)
            await session.flush()
            opened.append(
                DemoNeed(
                    need_id=need.id,
                    child_id=child.id,
                    street_id=street_id,
                    community_id=community_id,
                    category=spec.category,
                    note=spec.note,
                    school=kid.school,
                    consent_to_share=kid.consent_to_share,
                    risk_level=kid.risk_level,
                )
            )
    await session.flush()
