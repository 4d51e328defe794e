"""A matching run's proposals turned into referrals in one action (district batch matching made binding).

The district (any run) or the street's supervisor (a run of their street) sends the reviewed assignments of a
run: each need is locked and checked again (still open, file active, guardian consent for that child, the pair
still eligible), then sent through ``referrals.service.create``; what cannot be sent is listed with a reason code
and a message. The referral id goes back into the run's assignment, so a second call sends nothing twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.cases.models import Child, Need
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.matching.models import MatchingRun
from marketplace.referrals import service as referrals
from marketplace.settings import Settings

SKIP_MESSAGES = {
    "not_in_run": "该需求不在本批次的匹配方案中",
    "already_referred": "该匹配方案已转为转介",
    "need_not_open": "需求已不是待对接状态",
    "file_closed": "儿童档案已结案",
    "consent_missing": "监护人尚未同意共享信息，请先记录同意后单独转介",
    "out_of_scope": "该需求不属于本街道",
}


@dataclass
class Dispatch:
    run_id: int
    created: list[dict[str, int]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, need_id: int, reason: str, message: str | None = None) -> None:
        self.skipped.append({"need_id": need_id, "reason": reason, "message": message or SKIP_MESSAGES[reason]})


async def load_run(session: AsyncSession, principal: Principal, run_id: int) -> MatchingRun:
    """The run, locked, if the caller may turn its proposals into referrals; others' runs are not found."""
    if principal.role not in ("district_admin", "child_supervisor"):
        raise Forbidden("仅区民政或街道督导员可将匹配方案转为转介 (district admin or the street's supervisor only)")
    run = await session.scalar(select(MatchingRun).where(MatchingRun.id == run_id).with_for_update())
    own = run is not None and (
        principal.role == "district_admin" or (run.street_id is not None and run.street_id == principal.street_id)
    )
    if run is None or not own:
        raise NotFound(f"匹配批次 {run_id} 不存在 (matching run not found)")
    return run


async def dispatch(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    run_id: int,
    *,
    need_ids: list[int] | None,
    share_note: str | None,
) -> Dispatch:
    run = await load_run(session, principal, run_id)
    out = Dispatch(run.id)
    assignments = [dict(a) for a in run.assignments]
    by_need = {int(a["need_id"]): a for a in assignments}
    chosen = list(dict.fromkeys(need_ids)) if need_ids is not None else list(by_need)
    wanted = []
    for need_id in chosen:
        a = by_need.get(need_id)
        if a is None:
            out.skip(need_id, "not_in_run")
        elif a.get("referral_id"):
            out.skip(need_id, "already_referred")
        else:
            wanted.append(need_id)
    # Lock the needs in id order (two dispatches of overlapping runs never wait on each other in a cycle).
    needs = {
        n.id: n
        for n in (
            await session.scalars(select(Need).where(Need.id.in_(wanted)).order_by(Need.id).with_for_update())
        ).all()
    }
    children = {
        c.id: c
        for c in (await session.scalars(select(Child).where(Child.id.in_({n.child_id for n in needs.values()})))).all()
    }
    for need_id in wanted:
        need = needs.get(need_id)
        if need is None or need.status != "open":
            out.skip(need_id, "need_not_open")
            continue
        child = children[need.child_id]
        if child.status != "active":
            out.skip(need_id, "file_closed")
            continue
        if principal.role == "child_supervisor" and need.street_id != principal.street_id:
            out.skip(need_id, "out_of_scope")
            continue
        # Consent is the child's guardian's, checked per child: no override in bulk.
        if not child.consent_to_share:
            out.skip(need_id, "consent_missing")
            continue
        assignment = by_need[need_id]
        service_id = int(assignment["service_id"])
        try:
            # ``create`` checks the pair (eligible, capacity, funding) before it writes anything.
            referral = await referrals.create(
                session, principal, settings, need, child, service_id, share_note=share_note
            )
        except (Conflict, Invalid) as refused:
            out.skip(need_id, "service_unavailable", refused.detail)
            continue
        assignment["referral_id"] = referral.id
        out.created.append({"need_id": need_id, "service_id": service_id, "referral_id": referral.id})
    if out.created:
        # A new list, so the JSON column is seen as changed.
        run.assignments = assignments
        await session.flush()
    return out
