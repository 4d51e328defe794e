"""The duplicate-aid check: the same child receiving the same kind of aid twice in a month from two sources.

Why here: the allowances are paid from the special budget (``marketplace.procurement``) and charity aid from the
public-welfare fund (``marketplace.funds``); the two are sibling layers and neither may import the other, so the
cross-source check is a read model in ``marketplace.reports``, above both (like the other reports, it reads their
tables and changes nothing). Two kinds of duplicate are flagged for a month:

- ``allowance_and_fund``: a living allowance paid for the month (``allowance_payments``, kind ``living_allowance``)
  and a fund disbursement for the same child paid within that month for living assistance: the disbursement's
  referral is the child's, and its purpose or its service is living aid (``LIVING_AID_CATEGORIES``: 物资帮扶,
  精准帮扶);
- ``two_allowance_sources``: two approved allowance grants of the same kind in force for the month from
  different sources (e.g. the district budget and the city's civil-affairs channel)
  (``marketplace.cases.eligibility.in_force``).

A flag is a lead for the district to check, not a verdict: it names the child (the read is audited) and the
amounts and sources involved.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import masking
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import eligibility
from marketplace.cases.models import Child
from marketplace.errors import Forbidden
from marketplace.funds.models import Disbursement
from marketplace.procurement.models import AllowancePayment, AllowanceRun
from marketplace.referrals.models import Referral
from marketplace.resources.models import ServiceCategory

# Service categories that are living assistance (生活救助): the same kind of aid as the living allowance.
LIVING_AID_CATEGORIES: Final = frozenset({"material_aid", "targeted_assistance"})
READERS: Final = frozenset({"district_admin", "auditor", "fund_manager", "procurement_officer"})
FLAG_KINDS: Final[dict[str, str]] = {
    "allowance_and_fund": "生活补贴与公益基金生活救助同月重复",
    "two_allowance_sources": "同一补贴两个渠道同月重复认定",
}


@dataclass
class Flag:
    kind: str
    child_id: int
    child_name: str
    community_id: int
    month: str
    allowance_fen: int = 0
    fund_fen: int = 0
    disbursement_ids: list[int] = field(default_factory=list)
    decision_ids: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = eligibility.month_start(month)
    return first, eligibility.month_start(eligibility.add_months(month, 1))


async def check_month(session: AsyncSession, principal: Principal, month: str) -> list[Flag]:
    if principal.role not in READERS:
        raise Forbidden("无权查看重复救助核查 (role may not see the duplicate-aid check)")
    first, after = _month_bounds(month)
    flags: list[Flag] = []

    # 1. The allowance paid (or being paid) for the month, and the fund's living aid to the same child.
    allowance = {
        int(key.split(":")[1]): amount
        for key, amount in (
            await session.execute(
                select(AllowancePayment.person_key, AllowancePayment.amount_fen)
                .join(AllowanceRun, AllowanceRun.id == AllowancePayment.run_id)
                .where(
                    AllowancePayment.kind == "living_allowance",
                    AllowancePayment.month == month,
                    AllowanceRun.status != "withdrawn",
                )
            )
        ).all()
        if key.startswith("child:")
    }
    living_services = select(ServiceCategory.service_id).where(ServiceCategory.code.in_(LIVING_AID_CATEGORIES))
    purposes = [f"category:{c}" for c in sorted(LIVING_AID_CATEGORIES)]
    rows = (
        await session.execute(
            select(Disbursement.id, Disbursement.amount_fen, Referral.child_id)
            .join(Referral, Referral.id == Disbursement.referral_id)
            .where(
                Disbursement.paid_on >= first,
                Disbursement.paid_on < after,
                Disbursement.status == "paid",
                Referral.child_id.in_(list(allowance)),
                or_(
                    Disbursement.purpose.in_(purposes),
                    Disbursement.service_id.in_(living_services),
                    Referral.service_id.in_(living_services),
                ),
            )
            .order_by(Disbursement.id)
        )
    ).all()
    fund: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for disbursement_id, amount, child_id in rows:
        fund[child_id].append((disbursement_id, amount))
    for child_id, paid in fund.items():
        flags.append(
            Flag(
                "allowance_and_fund",
                child_id,
                "",
                0,
                month,
                allowance_fen=allowance[child_id],
                fund_fen=sum(a for _, a in paid),
                disbursement_ids=[d for d, _ in paid],
                sources=["district_budget", "public_welfare_fund"],
            )
        )

    # 2. Two grants of one kind in force from different sources.
    for kind in eligibility.KINDS:
        by_child: dict[int, list[eligibility.Grant]] = defaultdict(list)
        for grant in await eligibility.in_force(session, kind, month):
            by_child[grant.child_id].append(grant)
        for child_id, grants in by_child.items():
            if len({g.source for g in grants}) > 1:
                flags.append(
                    Flag(
                        "two_allowance_sources",
                        child_id,
                        "",
                        0,
                        month,
                        decision_ids=[g.decision_id for g in grants],
                        sources=sorted({g.source for g in grants}),
                    )
                )

    if flags:
        names = {
            cid: (name, community)
            for cid, name, community in (
                await session.execute(
                    select(Child.id, Child.name, Child.community_id).where(Child.id.in_({f.child_id for f in flags}))
                )
            ).all()
        }
        for f in flags:
            name, f.community_id = names.get(f.child_id, ("", 0))
            # The fund's and procurement's staff match by the child's id: no name (marketplace/masking.py).
            f.child_name = masking.show(principal.role, "name", name)
        await audit.record_read(
            session, principal, "list", "child", sorted({f.child_id for f in flags}), ["duplicate_aid"]
        )
    flags.sort(key=lambda f: (f.child_id, f.kind))
    return flags
