"""Demo data of the streets' charity resources (issue #21), loaded after the public-welfare fund (matching's demo,
ORDER 42, calls ``load``): for Futian's ten streets, the 2026 micro-project fund (民生微实事) with the district's
allocation for children's projects (a few hundred thousand yuan each) and two to four children's projects in
various states; street foundations for the streets the seeds name (沙头, 香蜜湖) and for 福田 and 莲花, with gifts.

Everything goes through ``funds.sources`` and ``funds.donations``, so the books are what the product would have
written: every allocation an entry, every approved project a hold, every accepted project a disbursement."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.demo import futian_data as data
from marketplace.funds import donations as gifts
from marketplace.funds import sources
from marketplace.funds.models import Fund

YEAR = 2026
# street code -> the district's allocation for the street's children's micro-projects, in yuan.
ALLOCATIONS: dict[str, int] = {
    "yuanling": 420_000,
    "nanyuan": 360_000,
    "futian": 580_000,
    "shatou": 460_000,
    "xiangmihu": 380_000,
    "meilin": 400_000,
    "lianhua": 440_000,
    "huafu": 300_000,
    "fubao": 340_000,
    "huaqiangbei": 320_000,
}
# (title, service category, community index in the street or None, requested yuan, the state to leave it in,
#  the approved share of the request in percent, the paid share of the approved amount in percent)
PROJECTS: tuple[tuple[str, str, int | None, int, str, int, int], ...] = (
    ("困境儿童“四点半课堂”课后托管", "education_aid", 0, 120_000, "in_progress", 100, 0),
    ("留守儿童心理关爱小组", "psych_counselling", 1, 90_000, "approved", 90, 0),
    ("儿童之家暑期安全教育营", "family_education", 2, 60_000, "accepted", 100, 96),
    ("困境儿童家庭亲子陪伴计划", "emotional_support", None, 80_000, "declared", 0, 0),
)
FOUNDATIONS: dict[str, str] = {
    "futian": "深圳市福田区福田街道慈善基金会",
    "shatou": "深圳市福田区沙头街道社区基金会",
    "xiangmihu": "深圳市福田区香蜜湖街道社区基金会",
    "lianhua": "深圳市福田区莲花街道社区基金会",
}
# (street code, donor, kind, yuan, days ago)
FOUNDATION_GIFTS: tuple[tuple[str, str, str, int, int], ...] = (
    ("futian", "深圳市福田区某某实业有限公司", "enterprise", 80_000, 120),
    ("futian", "福田街道商会", "organization", 43_000, 60),
    ("shatou", "沙头街道爱心商户联盟", "organization", 56_000, 90),
    ("shatou", "陈女士", "individual", 5_000, 30),
    ("xiangmihu", "深圳市香蜜湖某某科技有限公司", "enterprise", 100_000, 75),
    ("lianhua", "莲花街道居民", "individual", 12_000, 45),
)


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    if await session.scalar(select(Fund.id).where(Fund.kind == "micro_project").limit(1)) is not None:
        return
    streets: dict[str, int] = ctx.get("streets", {})
    communities: dict[str, int] = ctx.get("communities", {})
    users: dict[str, int] = ctx.get("users", {})
    admin = Principal(user_id=int(users.get("admin") or 0), username="admin", role="district_admin")
    manager = Principal(user_id=int(users.get("fund") or 0), username="fund", role="fund_manager")
    today = clock.today()
    out: dict[str, dict[str, int]] = ctx.setdefault("funds", {}).setdefault("streets", {})
    for n, street in enumerate(data.STREETS):
        if street.code not in streets:
            continue
        street_id = streets[street.code]
        mine = out.setdefault(street.code, {})
        fund = await sources.create_source(
            session,
            admin,
            code=f"{street.code}_micro_{YEAR}",
            name=f"{street.name}民生微实事资金（{YEAR}年）",
            kind="micro_project",
            street_id=street_id,
            year=YEAR,
            description=f"区级下达{street.name}的民生微实事资金中用于未成年人服务的部分。",
        )
        mine["micro_project"] = fund.id
        allocation = ALLOCATIONS.get(street.code, 300_000) * 100
        first = allocation * 2 // 3
        await sources.allocate(
            session,
            admin,
            fund.id,
            amount_fen=first,
            key=f"福民微〔{YEAR}〕{n + 1:02d}号",
            received_on=dt.date(YEAR, 3, 15),
            memo="第一批",
        )
        await sources.allocate(
            session,
            admin,
            fund.id,
            amount_fen=allocation - first,
            key=f"福民微〔{YEAR}〕{n + 31:02d}号",
            received_on=dt.date(YEAR, 7, 10),
            memo="第二批",
        )
        comms = [c for c in data.COMMUNITIES if c.street_code == street.code and c.code in communities]
        # Two to four projects per street, their states varying street by street.
        for k, (title, category, community_index, requested, state, approved_pct, paid_pct) in enumerate(
            PROJECTS[: 2 + n % 3]
        ):
            community = comms[(community_index + n) % len(comms)] if comms and community_index is not None else None
            project = await sources.create_project(
                session,
                admin,
                fund.id,
                title=title,
                category=category,
                requested_fen=requested * 100,
                community_id=communities[community.code] if community else None,
                description=f"{street.name}{community.name if community else ''}未成年人服务项目。",
            )
            if state == "declared":
                continue
            approved_on = today - dt.timedelta(days=150 - 20 * k)
            await sources.approve_project(
                session, admin, project.id, approved_fen=requested * approved_pct, on=approved_on
            )
            if state == "approved":
                continue
            await sources.start_project(session, admin, project.id, on=approved_on + dt.timedelta(days=14))
            if state == "accepted":
                await sources.complete_project(
                    session,
                    manager,
                    project.id,
                    paid_fen=requested * approved_pct * paid_pct // 100,
                    on=approved_on + dt.timedelta(days=90),
                )
    for code, name in FOUNDATIONS.items():
        if code not in streets:
            continue
        fund = await sources.create_source(
            session,
            admin,
            code=f"{code}_foundation",
            name=name,
            kind="street_foundation",
            street_id=streets[code],
            year=None,
            description="街道基金会：链接辖区企业和居民的爱心资金，帮扶本街道困境儿童。",
        )
        out.setdefault(code, {})["street_foundation"] = fund.id
    for i, (code, donor, kind, yuan, days_ago) in enumerate(FOUNDATION_GIFTS, start=1):
        fund_id = out.get(code, {}).get("street_foundation")
        if fund_id is None:
            continue
        await gifts.record_offline(
            session,
            manager,
            fund_id=fund_id,
            amount_fen=yuan * 100,
            channel="bank_transfer",
            donor=gifts.DonorInput(name=donor, kind=kind, anonymous=kind == "individual"),
            designation=None,
            received_on=today - dt.timedelta(days=days_ago),
            reference=f"DEMO-FD-{i:04d}",
        )
