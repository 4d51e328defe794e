"""Demo data: the parents away of the demo's left-behind children (Futian's migrant families: parents working in
Dongguan's factories, on Guangxi's and Hunan's farms, driving in Guangzhou), their calls and video chats, the
Spring Festival visits home, and a few whose contact stopped: the daily check opens their alerts (some already up
to the street's supervisor)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.models import Child
from marketplace.families import service
from marketplace.families.models import ParentAway, ParentContact, ParentVisitHome
from marketplace.families.taxonomy import GRACE_DAYS

ORDER: Final = 33

# (province, city, employer, job)
WORK: Final = (
    ("广东省", "东莞市", "东莞市长安镇某电子厂", "流水线工人"),
    ("广东省", "东莞市", "东莞市虎门镇某服装厂", "缝纫工"),
    ("广东省", "广州市", "广州市白云区某物流公司", "货车司机"),
    ("广东省", "佛山市", "佛山市顺德区某家具厂", "木工"),
    ("广西壮族自治区", "南宁市", "南宁市某建筑工程公司", "钢筋工"),
    ("广西壮族自治区", "玉林市", "玉林市某农业合作社", "果园工人"),
    ("湖南省", "长沙市", "长沙市某餐饮连锁店", "厨师"),
    ("湖南省", "衡阳市", "衡阳市某建材市场", "搬运工"),
    ("浙江省", "义乌市", "义乌市某小商品公司", "仓库管理员"),
    ("江西省", "赣州市", "赣州市某矿业公司", "矿工"),
    ("四川省", "成都市", "成都市某外卖平台", "骑手"),
    ("福建省", "厦门市", "厦门市某酒店", "保洁员"),
)
FATHERS: Final = ("王", "李", "陈", "刘", "黄", "周", "吴", "林")
GIVEN: Final = ("建国", "志强", "伟", "海波", "国平", "春生", "德明", "永红", "秀英", "桂兰", "丽华", "美玲")
NOTES: Final = (
    "孩子说爸爸问了期中考试成绩",
    "视频时孩子很开心，说了学校运动会",
    "电话里叮嘱孩子暑假不要下河游泳",
    "妈妈问了孩子的身体情况，说月底寄生活费",
    "孩子说想爸爸，主任已安慰",
    "",
)
CHANNELS: Final = ("phone", "video", "video", "phone", "other")
# One left-behind child in this many has a parent whose contact stopped.
STOPPED_EVERY: Final = 7
MAX_CHILDREN: Final = 90


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    today = clock.today()
    rng = random.Random(2033)
    users: dict[str, int] = ctx.get("users", {})
    director = users.get("director")
    kids = [
        c
        for c in (await session.scalars(select(Child).where(Child.status == "active").order_by(Child.id))).all()
        if "left_behind" in (c.categories or [])
    ][:MAX_CHILDREN]
    for n, child in enumerate(kids):
        stopped = n % STOPPED_EVERY == 3
        relations = [("father", "weekly")] if rng.random() < 0.5 else [("father", "biweekly"), ("mother", "weekly")]
        if rng.random() < 0.15:
            relations = [("mother", "monthly")]
        surname = rng.choice(FATHERS)
        for i, (relation, frequency) in enumerate(relations):
            province, city, employer, job = rng.choice(WORK)
            away = today - dt.timedelta(days=rng.randint(200, 2400))
            # The bureau started recording the parents some months ago.
            tracked = today - dt.timedelta(days=rng.randint(90, 200))
            name = surname + rng.choice(GIVEN) if relation == "father" else rng.choice(FATHERS) + rng.choice(GIVEN)
            parent = ParentAway(
                child_id=child.id,
                version=1,
                relation=relation,
                name=name,
                work_province=province,
                work_city=city,
                employer=employer,
                job=job,
                phone=_phone(rng),
                wechat=f"wx_{rng.randint(100_000, 999_999)}" if rng.random() < 0.7 else "",
                frequency=frequency,
                away_since=away,
                tracked_from=tracked,
                note="春节回家" if rng.random() < 0.3 else "",
                created_by=director,
                created_at=dt.datetime.combine(tracked, dt.time(2, 0), tzinfo=dt.UTC),
            )
            session.add(parent)
            await session.flush()
            parent.lineage_id = parent.id
            allowed = service.allowed_days(frequency)
            # The silence before today: a few parents (the first of every few children) stopped calling.
            if stopped and i == 0:
                silent = rng.choice((allowed + 3, allowed + 9, 2 * allowed + 5, 2 * allowed + 20))
            else:
                silent = rng.randint(0, max(1, allowed - GRACE_DAYS))
            day = today - dt.timedelta(days=silent)
            while day > tracked:
                session.add(
                    ParentContact(
                        parent_id=parent.id,
                        child_id=child.id,
                        contacted_on=day,
                        channel=rng.choice(CHANNELS),
                        note=rng.choice(NOTES),
                        recorded_by=director,
                    )
                )
                day -= dt.timedelta(days=rng.randint(max(2, allowed // 3), max(3, allowed - GRACE_DAYS)))
            if rng.random() < 0.6:
                # The Spring Festival at home.
                festival = dt.date(today.year, 1, 25) if today.month > 2 else dt.date(today.year - 1, 1, 25)
                start = max(festival, tracked + dt.timedelta(days=1))
                if start < today - dt.timedelta(days=silent + 20):
                    session.add(
                        ParentVisitHome(
                            parent_id=parent.id,
                            child_id=child.id,
                            from_date=start,
                            to_date=start + dt.timedelta(days=rng.randint(7, 20)),
                            note="春节回家过年",
                            recorded_by=director,
                        )
                    )
    await session.flush()
    # Today's check: the stopped contacts become alerts for the directors (and the supervisors, past twice).
    await service.check_contact(session, today)
