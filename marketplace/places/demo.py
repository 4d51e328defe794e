"""Demo data: Futian's ten streets each with their minor-protection work station (the street's supervisor and a
resident social worker on duty), children's homes in most of their communities (the community's director and a
volunteer on duty), and the activities held there: the last full quarter before the demo's today and the current
one so far, 3-6 per home per quarter, with the community's children on file taking part and the others counted."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases.models import Child
from marketplace.geography.models import Community, Street
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from marketplace.places.service import activity_counts, quarter_bounds

ORDER: Final = 41

# The demo's community has its home: the director's journey starts there.
# Of every eight communities, these have a children's home (about 35 of the 93).
HOME_PICK: Final = frozenset({1, 4, 6})
ROADS: Final = (
    "福华路",
    "福民路",
    "红荔路",
    "深南中路",
    "彩田路",
    "新洲路",
    "滨河大道",
    "莲花路",
    "笋岗西路",
    "益田路",
)
STATION_HOURS: Final = "周一至周五 9:00-12:00，14:00-18:00；周六 9:00-12:00"
HOME_HOURS: Final = (
    "周一至周五 16:00-20:00；周六、周日 9:00-17:00",
    "周二至周日 14:00-19:30（寒暑假 9:00-17:30）",
    "周一至周五 15:30-19:00；周六 9:00-12:00",
)
STATION_FACILITIES: Final = ("counselling_room", "activity_room", "reading_corner", "multimedia", "first_aid_kit")
HOME_FACILITIES: Final = ("reading_corner", "activity_room", "homework_room", "outdoor_area", "sports_equipment")
WORKER_NAMES: Final = ("林晓燕", "陈志明", "黄丽娟", "张国华", "刘思敏", "吴海涛", "郑雅婷", "何俊杰", "罗慧", "谢文彬")
VOLUNTEER_NAMES: Final = ("周阿姨", "王叔叔", "李老师", "赵姐", "孙大哥", "马老师", "钱阿姨", "冯老师")
# kind: (titles, minutes)
ACTIVITIES: Final[dict[str, tuple[tuple[str, ...], tuple[int, ...]]]] = {
    "homework": (("四点半课堂作业辅导", "暑期作业辅导班", "英语阅读辅导"), (90, 120)),
    "counselling": (("情绪管理团体辅导", "青春期心理健康小组"), (60, 90)),
    "safety": (("防溺水安全教育（十防）", "防性侵自护课堂", "消防逃生演练", "交通安全小卫士"), (60, 90)),
    "parent_child": (("亲子手工坊", "亲子共读会"), (120,)),
    "festival": (("中秋团圆手作月饼", "国庆红色故事会", "重阳敬老小使者"), (120, 150)),
    "interest": (("书法兴趣班", "创意美术课", "科学小实验"), (90,)),
    "sports": (("趣味运动会", "篮球训练营", "跳绳比赛"), (90, 120)),
    "law": (("模拟法庭进社区", "宪法宣传周小课堂"), (60,)),
    "reading": (("绘本阅读分享会", "红色经典诵读"), (60, 90)),
}
STATION_KINDS: Final = ("counselling", "law", "safety", "festival")


def _quarters(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The last full quarter, and the current one up to yesterday."""
    q = (today.month - 1) // 3 + 1
    year, prev = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
    start, end = quarter_bounds(year, prev)
    current = quarter_bounds(today.year, q)[0]
    spans = [(start, end)]
    if today - dt.timedelta(days=1) >= current:
        spans.append((current, today - dt.timedelta(days=1)))
    return spans


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    rng = random.Random(2041)
    today = clock.today()
    streets = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    communities = (
        await session.execute(select(Community.id, Community.street_id, Community.name).order_by(Community.id))
    ).all()
    users = (
        await session.execute(
            select(User.id, User.role, User.street_id, User.community_id, User.display_name, User.phone).where(
                User.role.in_(("child_supervisor", "child_director"))
            )
        )
    ).all()
    supervisor = {u.street_id: u for u in users if u.role == "child_supervisor"}
    director = {u.community_id: u for u in users if u.role == "child_director"}
    demo_director = ctx.get("users", {}).get("director")
    demo_community = next((u.community_id for u in users if u.id == demo_director), None)
    kids: dict[int, list[Child]] = defaultdict(list)
    for child in (await session.scalars(select(Child).where(Child.status == "active").order_by(Child.id))).all():
        kids[child.community_id].append(child)

    places: list[Place] = []
    for i, (sid, sname) in enumerate(streets):
        short = sname.removesuffix("街道")
        places.append(
            Place(
                kind="station",
                street_id=sid,
                community_id=None,
                name=f"{sname}未成年人保护工作站",
                address=f"福田区{sname}{ROADS[i % len(ROADS)]}{rng.randint(8, 388)}号{short}街道办事处{rng.randint(1, 3)}楼",
                opening_hours=STATION_HOURS,
                facilities=list(STATION_FACILITIES[: 3 + i % 3]),
                area_m2=rng.randint(80, 220),
                phone=f"0755-8{rng.randint(1000000, 9999999)}",
                opened_on=dt.date(2021 + i % 3, 1 + i % 12, 1),
                active=True,
                note="",
            )
        )
    n = 0
    for cid, sid, cname in communities:
        n += 1
        if cid != demo_community and n % 8 not in HOME_PICK:
            continue
        street_name = next(name for s, name in streets if s == sid)
        places.append(
            Place(
                kind="children_home",
                street_id=sid,
                community_id=cid,
                name=f"{cname}儿童之家",
                address=f"福田区{street_name}{rng.choice(ROADS)}{rng.randint(1, 200)}号{cname}党群服务中心{rng.randint(1, 3)}楼",
                opening_hours=rng.choice(HOME_HOURS),
                facilities=sorted(rng.sample(HOME_FACILITIES, rng.randint(3, 5))),
                area_m2=rng.randint(60, 180),
                phone=f"0755-8{rng.randint(1000000, 9999999)}",
                opened_on=dt.date(2020 + rng.randint(0, 4), rng.randint(1, 12), 1),
                active=True,
                note="",
            )
        )
    session.add_all(places)
    await session.flush()

    staff: list[dict[str, Any]] = []
    for p in places:
        since = p.opened_on or today
        if p.kind == "station":
            sup = supervisor.get(p.street_id)
            if sup is not None:
                staff.append(_staff(p.id, sup.id, sup.display_name, "supervisor", "周一至周五全天", sup.phone, since))
            staff.append(
                _staff(
                    p.id, None, rng.choice(WORKER_NAMES), "social_worker", "周一至周五 9:00-18:00", _mobile(rng), since
                )
            )
        else:
            d = director.get(p.community_id)
            if d is not None:
                staff.append(_staff(p.id, d.id, d.display_name, "director", "开放时间内值守", d.phone, since))
            staff.append(
                _staff(p.id, None, rng.choice(VOLUNTEER_NAMES), "volunteer", "周六 9:00-12:00", _mobile(rng), since)
            )
            if rng.random() < 0.2:  # a volunteer who moved away last year: kept, with the last day on duty
                left = _staff(p.id, None, rng.choice(VOLUNTEER_NAMES), "volunteer", "周日下午", _mobile(rng), since)
                left["until"] = today - dt.timedelta(days=rng.randint(120, 300))
                staff.append(left)
    await session.execute(insert(PlaceStaff), staff)

    activities: list[tuple[Activity, list[Child]]] = []
    for p in places:
        for start, end in _quarters(today):
            days = (end - start).days + 1
            full = days > 80
            count = rng.randint(3, 6) if p.kind == "children_home" else rng.randint(2, 4)
            if not full:
                count = max(1, count * days // 91)
            pool = (
                kids.get(p.community_id or -1, [])
                if p.kind == "children_home"
                else [c for cid, cs in kids.items() for c in cs if c.street_id == p.street_id]
            )
            recorder = director.get(p.community_id) if p.kind == "children_home" else supervisor.get(p.street_id)
            for _ in range(count):
                kind = rng.choice(STATION_KINDS if p.kind == "station" else tuple(ACTIVITIES))
                titles, minutes = ACTIVITIES[kind]
                held = start + dt.timedelta(days=rng.randrange(days))
                chosen = rng.sample(pool, min(len(pool), rng.randint(2, 8))) if pool else []
                other = rng.randint(3, 18)
                adults = rng.randint(0, 12) if kind in ("parent_child", "festival", "law") else rng.randint(0, 3)
                volunteers = rng.randint(1, 6)
                created = dt.datetime.combine(held, dt.time(12, 0), tzinfo=dt.UTC) + dt.timedelta(
                    days=rng.randint(0, 2)
                )
                activities.append(
                    (
                        Activity(
                            place_id=p.id,
                            held_on=held,
                            kind=kind,
                            title=rng.choice(titles),
                            description="",
                            minutes=rng.choice(minutes),
                            counts=activity_counts(chosen, other, adults, volunteers),
                            children_total=len(chosen) + other,
                            volunteers_total=volunteers,
                            recorded_by=recorder.id if recorder is not None else None,
                            created_at=min(created, clock.now()),
                        ),
                        chosen,
                    )
                )
    session.add_all([a for a, _ in activities])
    await session.flush()
    rows = [{"activity_id": a.id, "child_id": c.id} for a, chosen in activities for c in chosen]
    if rows:
        await session.execute(insert(ActivityChild), rows)
    await session.flush()
    ctx["places"] = {"stations": sum(1 for p in places if p.kind == "station"), "activities": len(activities)}


def _staff(
    place_id: int, user_id: int | None, name: str, role: str, duty: str, phone: str | None, since: dt.date
) -> dict[str, Any]:
    return {
        "place_id": place_id,
        "user_id": user_id,
        "name": name[:80],
        "role": role,
        "duty": duty,
        "phone": phone or "",
        "since": since,
        "until": None,
    }


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
