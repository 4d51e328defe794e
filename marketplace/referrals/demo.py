"""Demo data: about half of the demo children's needs referred to a fitting service, in every state of the
referral lifecycle, with the places they take and their first delivery logs. Runs after the cases demo, whose
needs it reads from ``ctx["demo_needs"]``."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.demo import DemoNeed
from marketplace.cases.models import Need, Visit
from marketplace.cases.service import next_visit_due
from marketplace.referrals import demo_loop
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from marketplace.settings import get_settings

ORDER = 35
# How a demo referral ends up, in turn: every state of the lifecycle is on show.
STATES = ("sent", "accepted", "declined", "in_service", "completed", "closed", "revoked", "closed", "in_service")
OUTCOMES = ("got_help", "got_help", "partially_helped", "could_not_contact", "got_help")
# The need's status after its referral reached each state (completed and closed: met if the child got help).
NEED_AFTER = {"sent": "referred", "accepted": "referred", "in_service": "referred"}


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    # The Yuzhong closed loop on one child (demo_loop.py): it needs only the pool's services and logins.
    await demo_loop.load(session, ctx)
    opened: list[DemoNeed] = list(ctx.get("demo_needs", []))
    service_ids: list[int] = list(ctx.get("services", []))
    if not opened or not service_ids:
        return
    settings = ctx.get("settings") or get_settings()
    director = ctx.get("users", {}).get("director")
    now, today, month = clock.now(), clock.today(), clock.month_key()
    rng = random.Random(2023)
    by_category: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    rows = await session.execute(
        select(ServiceCategory.code, Service.id, Service.organization_id, Service.capacity_per_month)
        .join(Service, Service.id == ServiceCategory.service_id)
        .where(Service.id.in_(service_ids), Service.status == "published")
        .order_by(Service.id)
    )
    for code, sid, oid, cap in rows:
        by_category[code].append((sid, oid, cap))
    booked: dict[int, int] = defaultdict(int)
    n_ref = 0
    for spec in opened:
        options = by_category.get(spec.category)
        # About half the needs are already referred; the rest wait for matching.
        if not options or not spec.consent_to_share or rng.random() < 0.5:
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
            need_id=spec.need_id,
            child_id=spec.child_id,
            service_id=sid,
            organization_id=oid,
            street_id=spec.street_id,
            community_id=spec.community_id,
            status=state,
            share_note=f"{spec.school}；{spec.note}"[:2000] if spec.school else spec.note,
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
                    child_id=spec.child_id,
                    visited_on=today,
                    kind="follow_up",
                    findings="服务后回访，情况稳定",
                    next_visit_due=next_visit_due(settings, spec.risk_level, today),
                    created_by=director,
                )
            )
        if state == "revoked":
            r.revoked_at, r.revoke_reason = sent_at + 2 * step, "家庭搬离本社区"
        need = await session.get(Need, spec.need_id)
        assert need is not None
        settled = "met" if r.outcome == "got_help" else "open"
        need.status = NEED_AFTER.get(state, settled if state in ("completed", "closed") else "open")
        session.add(r)
        await session.flush()
        if state in ("in_service", "completed", "closed") and r.started_at is not None:
            session.add(
                ReferralLog(
                    referral_id=r.id,
                    delivered_on=clock.local_date(r.started_at),
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
