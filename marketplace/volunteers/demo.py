"""Demo data: about 120 volunteers across Futian's streets (residents, students of 16 and 17 with their guardian's
consent, retired teachers and doctors), members of the streets' volunteer teams, their hours at the places' activities
of the last two quarters (the places demo's, when loaded) and on some referrals, and a few certificates of hours.

Identity numbers are synthetic (Futian's region code 440304, a real birth date, a correct check character), never a
real person's. Loaded in bulk (one insert per table)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases.crypto import field_cipher
from marketplace.geography.models import Community
from marketplace.places.models import Activity, Place
from marketplace.referrals.models import Referral
from marketplace.resources.models import VolunteerTeam
from marketplace.volunteers.models import Certificate, Hours, Membership, Volunteer
from marketplace.volunteers.service import verification_code
from marketplace.volunteers.taxonomy import MAX_MINUTES_PER_DAY, SKILLS

ORDER: Final = 44

PER_STREET: Final = 12
# The demo director's community gets a few more (its console shows a real list).
DIRECTOR_EXTRA: Final = 8
SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN: Final = (
    "建华",
    "秀英",
    "丽娟",
    "志强",
    "海燕",
    "晓明",
    "婷婷",
    "国庆",
    "文静",
    "子涵",
    "雨萱",
    "浩然",
    "思远",
    "春梅",
    "德胜",
    "淑芬",
    "嘉欣",
    "俊杰",
    "美玲",
    "立新",
    "佳怡",
    "明辉",
    "雅琪",
    "卫东",
    "颖",
    "敏",
    "磊",
    "静",
)
AVAILABILITY: Final = ("周六上午", "周末全天", "工作日晚上", "周三下午、周六上午", "寒暑假", "每月第一个周日", "")
TASKS: Final = ("带读绘本", "课业辅导", "活动签到与秩序", "拍摄记录", "手工课助教", "陪伴游戏", "安全引导")
REFERRAL_TASKS: Final = ("陪同就医", "陪伴学习", "家访陪同", "心理陪伴")
WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(born: dt.date, seq: int) -> str:
    first = f"440304{born:%Y%m%d}{seq:03d}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    rng = random.Random(2044)
    today = clock.today()
    cipher = field_cipher(ctx["settings"])
    users: dict[str, int] = ctx.get("users", {})
    streets: dict[str, int] = ctx.get("streets", {})
    if not streets:
        return
    registrar = users.get("director")
    communities: dict[int, list[int]] = {}
    for cid, sid in (await session.execute(select(Community.id, Community.street_id).order_by(Community.id))).all():
        communities.setdefault(int(sid), []).append(int(cid))
    teams: dict[int, list[int]] = {}
    for tid, sid in (
        await session.execute(select(VolunteerTeam.id, VolunteerTeam.street_id).where(VolunteerTeam.active.is_(True)))
    ).all():
        teams.setdefault(int(sid), []).append(int(tid))
    director = await session.scalar(select(User).where(User.username == "director"))
    home: list[tuple[int, int | None]] = []
    for sid in sorted(streets.values()):
        for _ in range(PER_STREET):
            home.append((sid, rng.choice(communities.get(sid, [0])) or None))
    if director is not None and director.street_id is not None:
        home += [(director.street_id, director.community_id)] * DIRECTOR_EXTRA

    volunteers: list[Volunteer] = []
    used: set[str] = set()
    for n, (street, community) in enumerate(home):
        age = rng.choice((16, 17, 19, 22, 25, 31, 36, 42, 48, 53, 58, 63, 67))
        born = dt.date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
        number = id_number(born, 100 + n * 3 + rng.randint(0, 2))
        if number in used:
            continue
        used.add(number)
        gender = "male" if int(number[16]) % 2 else "female"
        registered = today - dt.timedelta(days=rng.randint(160, 900))
        skills = rng.sample(list(SKILLS), rng.randint(1, 3))
        if age >= 60:
            skills = list(dict.fromkeys(["tutoring", *skills]))
        volunteers.append(
            Volunteer(
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                id_number=number,
                id_number_hash=cipher.lookup_hash(number),
                gender=gender,
                birth_date=born,
                guardian_consent=age < 18,
                phone=_phone(rng),
                street_id=street,
                community_id=community,
                skills=skills,
                availability=rng.choice(AVAILABILITY),
                status="paused" if n % 23 == 7 else ("left" if n % 41 == 13 else "active"),
                registered_on=registered,
                registered_by=registrar,
            )
        )
    session.add_all(volunteers)
    await session.flush()

    memberships: list[Membership] = []
    for v in volunteers:
        options = teams.get(v.street_id, [])
        if not options or rng.random() < 0.15:
            continue
        first = rng.choice(options)
        joined = v.registered_on + dt.timedelta(days=rng.randint(0, 60))
        if rng.random() < 0.1 and len(options) > 1:  # moved from one team to the other
            moved = joined + dt.timedelta(days=rng.randint(30, 90))
            memberships.append(Membership(volunteer_id=v.id, team_id=first, joined_on=joined, left_on=moved))
            first, joined = next(t for t in options if t != first), moved
        memberships.append(
            Membership(
                volunteer_id=v.id, team_id=first, joined_on=joined, left_on=today if v.status == "left" else None
            )
        )
    session.add_all(memberships)

    # The places' activities of the last two quarters, by street (none when the places demo is not loaded).
    since = dt.date(today.year if today.month > 6 else today.year - 1, 7 if today.month > 6 else 1, 1)
    activities: dict[int, list[tuple[int, dt.date]]] = {}
    for aid, held_on, sid in (
        await session.execute(
            select(Activity.id, Activity.held_on, Place.street_id)
            .join(Place, Place.id == Activity.place_id)
            .where(Activity.held_on >= since, Activity.held_on <= today)
        )
    ).all():
        activities.setdefault(int(sid), []).append((int(aid), held_on))
    referrals: dict[int, list[int]] = {}
    for rid, sid in (await session.execute(select(Referral.id, Referral.street_id).order_by(Referral.id))).all():
        referrals.setdefault(int(sid), []).append(int(rid))

    hours: list[Hours] = []
    per_day: dict[tuple[int, dt.date], int] = {}

    def add(v: Volunteer, day: dt.date, minutes: int, street: int, **what: Any) -> None:
        if day < v.registered_on or day > today or per_day.get((v.id, day), 0) + minutes > MAX_MINUTES_PER_DAY:
            return
        per_day[(v.id, day)] = per_day.get((v.id, day), 0) + minutes
        hours.append(
            Hours(
                volunteer_id=v.id,
                street_id=street,
                served_on=day,
                minutes=minutes,
                logged_by=registrar,
                **what,
            )
        )

    for v in volunteers:
        if v.status == "left":
            continue
        held = activities.get(v.street_id, [])
        for aid, day in rng.sample(held, min(len(held), rng.randint(2, 6))):
            add(v, day, rng.choice((60, 90, 120, 150, 180, 240)), v.street_id, activity_id=aid, task=rng.choice(TASKS))
        cases = referrals.get(v.street_id, [])
        if cases and rng.random() < 0.2:
            day = today - dt.timedelta(days=rng.randint(3, 120))
            add(
                v,
                day,
                rng.choice((60, 120, 180)),
                v.street_id,
                referral_id=rng.choice(cases),
                task=rng.choice(REFERRAL_TASKS),
            )
        if not held and cases and rng.random() < 0.5:
            # Without the places demo: the hours still show on referrals of the street.
            day = today - dt.timedelta(days=rng.randint(3, 150))
            add(
                v,
                day,
                rng.choice((90, 120)),
                v.street_id,
                referral_id=rng.choice(cases),
                task=rng.choice(REFERRAL_TASKS),
            )
    session.add_all(hours)
    await session.flush()
    # One correction, as a director makes them.
    if hours:
        wrong = hours[0]
        session.add(
            Hours(
                volunteer_id=wrong.volunteer_id,
                activity_id=wrong.activity_id,
                referral_id=wrong.referral_id,
                street_id=wrong.street_id,
                served_on=wrong.served_on,
                minutes=-wrong.minutes,
                task=f"冲销 #{wrong.id}",
                reverses_id=wrong.id,
                logged_by=registrar,
            )
        )

    # A few certificates of the year's hours so far.
    served: dict[int, tuple[int, int]] = {}
    start = dt.date(today.year, 1, 1)
    for h in hours[1:]:
        if h.served_on >= start:
            m, e = served.get(h.volunteer_id, (0, 0))
            served[h.volunteer_id] = (m + h.minutes, e + 1)
    settings = ctx["settings"]
    for i, (vid, (minutes, entries)) in enumerate(sorted(served.items())[:6]):
        cert = Certificate(
            number=f"ZYSC{today:%Y}D{i + 1:05d}",
            volunteer_id=vid,
            period_from=start,
            period_to=today,
            total_minutes=minutes,
            entries=entries,
            issued_on=today,
            issued_by=registrar,
            code="",
        )
        cert.code = verification_code(settings, cert)
        session.add(cert)
    await session.flush()
