"""Demo data: ~400 synthetic children of Futian with needs, visits and referrals in every state."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.crypto import cipher
from marketplace.cases.models import Child, Need, Visit
from marketplace.cases.service import next_visit_due
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from marketplace.settings import get_settings

ORDER = 30
# How a demo referral ends up, in turn: every state of the lifecycle is on show.
STATES = ("sent", "accepted", "declined", "in_service", "completed", "closed", "revoked", "closed", "in_service")
OUTCOMES = ("got_help", "got_help", "partially_helped", "could_not_contact", "got_help")


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    try:
        data = importlib.import_module("marketplace.demo.futian_data")
    except ImportError:
        return
    settings = ctx.get("settings") or get_settings()
    c = cipher(settings.field_key)
    communities: dict[str, int] = ctx.get("communities", {})
    streets: dict[str, int] = ctx.get("streets", {})
    users: dict[str, int] = ctx.get("users", {})
    service_ids: list[int] = list(ctx.get("services", []))
    today, now, month = clock.today(), clock.now(), clock.month_key()
    rng = random.Random(2023)
    by_category: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    if service_ids:
        rows = await session.execute(
            select(ServiceCategory.code, Service.id, Service.organization_id, Service.capacity_per_month)
            .join(Service, Service.id == ServiceCategory.service_id)
            .where(Service.id.in_(service_ids), Service.status == "published")
            .order_by(Service.id)
        )
        for code, sid, oid, cap in rows:
            by_category[code].append((sid, oid, cap))
    booked: dict[int, int] = defaultdict(int)
    director = users.get("director")
    n_ref = 0
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
            options = by_category.get(spec.category)
            # About half the needs are already referred; the rest wait for matching.
            if not options or not kid.consent_to_share or rng.random() < 0.5:
                continue
            sid, oid, cap = options[rng.randrange(len(options))]
            state = STATES[n_ref % len(STATES)]
            n_ref += 1
            takes_place = state in ("accepted", "in_service", "completed", "closed")
            if takes_place and booked[sid] >= cap:
                state = "sent"
                takes_place = False
            sent_at = now - dt.timedelta(hours=rng.randint(2, 24 * 40))
            r = Referral(
                need_id=need.id,
                child_id=child.id,
                service_id=sid,
                organization_id=oid,
                street_id=street_id,
                community_id=community_id,
                status=state,
                share_note=f"{kid.school}；{spec.note}"[:2000] if kid.school else spec.note,
                plan={},
                sent_by=director,
                sent_at=sent_at,
            )
            step = dt.timedelta(hours=rng.randint(3, 40))
            if takes_place or state == "revoked":
                r.accepted_at = sent_at + step
            if takes_place:
                r.booked_month = month
                booked[sid] += 1
            if state == "declined":
                r.declined_at, r.decline_reason = sent_at + step, "本月承接已满，建议转介其他机构"
            if state in ("in_service", "completed", "closed"):
                r.started_at = sent_at + 2 * step
            if state in ("completed", "closed"):
                r.completed_at = min(now, sent_at + 10 * step)
                r.outcome = OUTCOMES[n_ref % len(OUTCOMES)]
            if state == "closed":
                r.closed_at = now
                session.add(
                    Visit(
                        child_id=child.id,
                        visited_on=today,
                        kind="follow_up",
                        findings="服务后回访，情况稳定",
                        next_visit_due=next_visit_due(settings, kid.risk_level, today),
                        created_by=director,
                    )
                )
            if state == "revoked":
                r.revoked_at, r.revoke_reason = sent_at + 2 * step, "家庭搬离本社区"
            need.status = {
                "sent": "referred",
                "accepted": "referred",
                "in_service": "referred",
                "completed": "met" if r.outcome == "got_help" else "open",
                "closed": "met" if r.outcome == "got_help" else "open",
            }.get(state, "open")
            session.add(r)
            await session.flush()
            if state in ("in_service", "completed", "closed") and r.started_at is not None:
                session.add(
                    ReferralLog(
                        referral_id=r.id,
                        delivered_on=r.started_at.astimezone(clock.DISTRICT_TZ).date(),
                        minutes=60,
                        note="首次服务：建立关系，评估需求",
                    )
                )
    for sid, n in booked.items():
        row = await session.get(ServiceCapacity, (sid, month))
        if row is None:
            session.add(ServiceCapacity(service_id=sid, month=month, booked=n))
        else:
            row.booked += n
    await session.flush()
