"""Demo data: about half of the demo children's needs referred to a fitting service, in every state of the
referral lifecycle, with the places they take and their first delivery logs. Each need follows its referral
through the need lifecycle (matched, in service, settled by the director's verdict at the close after a
follow-up visit, or open again). Runs after the cases demo, whose needs it reads from ``ctx["demo_needs"]``."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases import lifecycle
from marketplace.cases.demo import DemoNeed
from marketplace.cases.models import Child, Need, Visit
from marketplace.cases.service import next_visit_due
from marketplace.referrals import demo_loop
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from marketplace.settings import get_settings

ORDER = 35
# How a demo referral ends up, in turn: every state of the lifecycle is on show.
STATES = ("sent", "accepted", "declined", "in_service", "completed", "closed", "revoked", "closed", "in_service")
OUTCOMES = ("got_help", "got_help", "partially_helped", "could_not_contact", "got_help")
# The director's verdict at the close of a referral with each proposed outcome; an unmet need goes back to the
# open list to be referred again.
VERDICT_OF = {"got_help": "met", "partially_helped": "partly_met", "could_not_contact": "not_met"}
VERDICT_NOTES = {
    "met": "回访确认：孩子情况明显好转，需求已满足",
    "partly_met": "回访确认：部分改善，仍需继续关注",
    "not_met": "回访确认：机构未能联系到家庭，需重新对接",
}
# How many steps after the sending each state's last event lies (the close follows the completion by days).
STEPS_AFTER_SENT = {"accepted": 1, "declined": 1, "in_service": 2, "revoked": 2, "completed": 10, "closed": 10}
# The need lifecycle's transitions a referral in each state has taken (the close adds the verdict's).
NEED_STEPS = {"sent": ("match",), "accepted": ("match",), "in_service": ("match", "start")}
NEED_STEPS |= {"completed": NEED_STEPS["in_service"], "closed": NEED_STEPS["in_service"]}
NEED_STEPS |= {"declined": ("match", "reopen"), "revoked": ("match", "reopen")}


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    # The Yuzhong closed loop on one child (demo_loop.py): it needs only the pool's services and logins.
    await demo_loop.load(session, ctx)
    opened: list[DemoNeed] = list(ctx.get("demo_needs", []))
    service_ids: list[int] = list(ctx.get("services", []))
    if not opened or not service_ids:
        return
    settings = ctx.get("settings") or get_settings()
    director = ctx.get("users", {}).get("director")
    now, month = clock.now(), clock.month_key()
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
        )
        step = dt.timedelta(hours=rng.randint(3, 40))
        # Sent long enough ago for every later step of its state to lie in the past.
        sent_at = r.sent_at = min(sent_at, now - STEPS_AFTER_SENT.get(state, 0) * step)
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
            r.completed_at = sent_at + 10 * step
            r.outcome = OUTCOMES[n_ref % len(OUTCOMES)]
        if state == "revoked":
            r.revoked_at, r.revoke_reason = sent_at + 2 * step, "家庭搬离本社区"
        need = await session.get(Need, spec.need_id)
        assert need is not None
        for name in NEED_STEPS[state]:
            lifecycle.move(need, name, by=director)
        if state == "closed" and r.completed_at is not None:
            # The follow-up visit comes after the completion, the close after the visit.
            closed_at = min(now, r.completed_at + dt.timedelta(days=3))
            visited_on = clock.local_date(closed_at)
            visit = Visit(
                child_id=spec.child_id,
                visited_on=visited_on,
                kind="follow_up",
                findings="服务后回访，核实服务效果",
                next_visit_due=next_visit_due(settings, spec.risk_level, visited_on),
                created_by=director,
            )
            session.add(visit)
            await session.flush()
            child = await session.get(Child, spec.child_id)
            assert child is not None
            if child.last_visit_on is None or child.last_visit_on <= visited_on:
                child.last_visit_on, child.next_visit_due = visited_on, visit.next_visit_due
            verdict = VERDICT_OF.get(r.outcome or "", "not_met")
            r.closed_at, r.follow_up_visit_id = closed_at, visit.id
            r.verdict, r.verdict_note, r.verdict_by = verdict, VERDICT_NOTES[verdict], director
            lifecycle.settle(need, verdict, by=director)
            need.settled_at = closed_at
            need.met_at = closed_at if need.met_at is not None else None
            if verdict == "not_met":
                lifecycle.move(need, "reopen", by=director)
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
