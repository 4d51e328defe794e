"""Demo data: hotline calls and public reports in Futian, of different channels and outcomes: a 12355 call about an
unidentified boy made a mandatory report and then found to have a file; a school's report recorded as a need; a
neighbour's anonymous tip closed with a reason; a hospital's report still untriaged and near its deadline; a street
hotline call already past it; a 12345 call in another street. Through the intake service, as the console makes them
(routing notifications, audit rows, the report and the need through the cases services)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child
from marketplace.demo import futian_data as data
from marketplace.geography.models import Community
from marketplace.intake import service
from marketplace.intake.models import IntakeTriage
from marketplace.intake.schemas import IntakeIn, TriageIn
from marketplace.settings import get_settings

ORDER = 37


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings") or get_settings()
    communities: dict[str, int] = ctx.get("communities", {})
    streets: dict[str, int] = ctx.get("streets", {})
    users: dict[str, int] = ctx.get("users", {})
    home = communities.get(data.DEMO_DIRECTOR_COMMUNITY)
    street = streets.get(data.DEMO_SUPERVISOR_STREET)
    if home is None or street is None or "admin" not in users or "director" not in users:
        return
    admin = Principal(user_id=users["admin"], username="admin", role="district_admin")
    supervisor = Principal(
        user_id=users.get("supervisor", 0), username="supervisor", role="child_supervisor", street_id=street
    )
    director = Principal(
        user_id=users["director"], username="director", role="child_director", street_id=street, community_id=home
    )
    kids = list(
        (
            await session.scalars(
                select(Child.id).where(Child.community_id == home, Child.status == "active").order_by(Child.id).limit(2)
            )
        ).all()
    )
    rows = (await session.execute(select(Community.id, Community.street_id).order_by(Community.id))).all()
    neighbour = next((cid for cid, sid in rows if sid == street and cid != home), None)
    elsewhere = next((cid for cid, sid in rows if sid != street), None)
    now = clock.now()

    async def take(who: Principal, *, ago: dt.timedelta, **fields: Any) -> int:
        intake, _ = await service.create(session, who, IntakeIn(received_at=now - ago, **fields))
        return intake.id

    # A 12355 call about a boy nobody knew: a mandatory report, then the file he turned out to have.
    call = await take(
        admin,
        ago=dt.timedelta(days=4, hours=3),
        channel="hotline_12355",
        what="来电称一名男孩连续两晚在荔枝公园长椅过夜，自称父母在外地打工，联系不上家人",
        urgency=3,
        community_id=home,
        caller_name="陈女士",
        caller_phone="13712345678",
        caller_relation="晨练居民",
        place="福山社区荔枝公园北门长椅",
        subject_name="小军",
        subject_description="男孩，约9岁，穿蓝色校服，背黑色书包",
    )
    await service.triage(
        session,
        director,
        settings,
        call,
        TriageIn(outcome="mandatory_report", report_kind="lives_alone", police_notified=True),
    )
    if kids:
        await service.triage(session, director, settings, call, TriageIn(outcome="link_file", child_id=kids[0]))

    # A school's report about a filed child: a need on the file.
    if len(kids) > 1:
        school = await take(
            director,
            ago=dt.timedelta(days=2, hours=5),
            channel="school",
            what="班主任反映孩子近两周情绪低落、多次缺交作业，家中祖母年迈无力辅导",
            urgency=2,
            community_id=home,
            caller_name="黄老师",
            caller_phone="0755-83001234",
            caller_relation="班主任",
            child_id=kids[1],
        )
        await service.triage(
            session,
            director,
            settings,
            school,
            TriageIn(outcome="need", category="psych_counselling", note="学校反映情绪低落，建议心理疏导"),
        )

    # A neighbour's anonymous tip, checked and closed with a reason.
    tip = await take(
        supervisor,
        ago=dt.timedelta(days=1, hours=8),
        channel="neighbour",
        what="邻居反映楼上常听到孩子哭闹，担心无人照看",
        urgency=1,
        community_id=home,
        anonymous=True,
        caller_phone="13500001111",
        place="福山社区福田路某小区",
        subject_description="女孩，约5岁",
    )
    await service.triage(
        session,
        director,
        settings,
        tip,
        TriageIn(outcome="no_action", reason="入户核实：母亲在家照看，孩子因出牙哭闹，无需处置"),
    )

    # A hospital's report, still untriaged, its 12 hours nearly up.
    await take(
        admin,
        ago=dt.timedelta(hours=10, minutes=30),
        channel="hospital",
        what="急诊收治一名误服药物的幼儿，陪同的只有10岁的哥哥，家长电话无人接听",
        urgency=3,
        community_id=home,
        caller_name="急诊科护士站",
        caller_phone="0755-83923333",
        caller_relation="医院",
        place="福田区人民医院急诊科",
        subject_description="男孩约3岁，哥哥约10岁",
    )
    # A street hotline call past its two hours, in the neighbouring community.
    if neighbour is not None:
        await take(
            supervisor,
            ago=dt.timedelta(hours=3),
            channel="street_hotline",
            what="来电称有两名儿童深夜在便利店门口逗留，称家中无人",
            urgency=4,
            community_id=neighbour,
            caller_name="便利店店员",
            caller_phone="13600002222",
            place="岗厦地铁站B口便利店",
            subject_description="两名男孩，约10岁和7岁",
        )
    # A 12345 call in another street.
    if elsewhere is not None:
        await take(
            admin,
            ago=dt.timedelta(days=1),
            channel="hotline_12345",
            what="市民反映小区有孩子长期不上学，白天在外游荡",
            urgency=2,
            community_id=elsewhere,
            anonymous=True,
            place="小区中心花园",
            subject_description="男孩，约12岁",
        )
    # The triages were made on the day after each call: their records say so.
    for t in (await session.scalars(select(IntakeTriage).where(IntakeTriage.outcome.in_(("need", "no_action"))))).all():
        t.created_at = now - dt.timedelta(hours=20)
    await session.flush()
