"""Notifications outside the app: each person's preferences, the delivery of notifications by email and SMS, and
the district's view of how delivery goes.

Delivery (``deliver``, the ``messaging.deliver`` job, every minute) in two steps:

1. **Plan.** For every notification written after the person turned a channel on that has no delivery row for that
   channel yet, one row is inserted (unique per notification and channel: two runs at once insert it once, the
   loser's savepoint rolls back): ``pending`` to send now, ``held`` until the person's quiet hours end (unless it is
   urgent: ``templates.is_urgent``), or ``skipped`` when the person does not want that group on that channel.
2. **Send.** Each due row is claimed first (one ``UPDATE … WHERE status is still what was read``, committed: the
   worker whose update took the row sends it; a second worker finds nothing to take), then sent outside any
   transaction, then its outcome written: ``sent`` with the provider's receipt; a transient failure back to
   ``pending`` with a backoff until ``MAX_ATTEMPTS``; a permanent one ``failed`` with its short code. A worker killed
   mid-send leaves its row ``sending`` until ``claimed_until``; then it is taken again (at most once more per
   claim: the message may then arrive twice, never zero times).

The message says only what ``templates`` renders: never the notification's title or body."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases.models import Notification
from marketplace.db import Database
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.messaging import templates
from marketplace.messaging.models import Delivery, NotificationPreference
from marketplace.messaging.ports import Channel, Message, PermanentFailure, TransientFailure
from marketplace.messaging.schemas import (
    ChannelCount,
    DeliveryStats,
    FailureOut,
    PreferencesIn,
    PreferencesOut,
    TestOut,
)
from marketplace.settings import Settings

CHANNELS: Final = ("email", "sms")
CHANNEL_LABELS: Final = {"email": "邮件", "sms": "短信"}
STATUS_LABELS: Final = {
    "pending": "待发送",
    "held": "免打扰暂缓",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "skipped": "不需发送",
}
MOBILE: Final = re.compile(r"^1[3-9]\d{9}$")
EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
DEFAULT_QUIET: Final = (dt.time(22, 0), dt.time(7, 0))
MAX_ATTEMPTS: Final = 5
# After the 1st, 2nd, 3rd, 4th failed attempt: wait this long.
BACKOFF: Final = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
)
CLAIM_FOR: Final = dt.timedelta(minutes=5)
PLAN_BATCH: Final = 500
SEND_BATCH: Final = 200
RECENT_DAYS: Final = 7


# ---------------------------------------------------------------- preferences


def _hhmm(t: dt.time | None) -> str | None:
    return t.strftime("%H:%M") if t is not None else None


def default_mobile(phone: str | None) -> str:
    phone = (phone or "").strip()
    return phone if MOBILE.match(phone) else ""


async def _user(session: AsyncSession, principal: Principal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None or not principal.user_id:
        raise Forbidden("只有平台账号可以设置通知 (only an account has notification preferences)")
    return user


async def stored(session: AsyncSession, user_id: int) -> NotificationPreference | None:
    return await session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user_id))


def _out(pref: NotificationPreference | None, user: User, available: set[str]) -> PreferencesOut:
    if pref is None:
        return PreferencesOut(
            email_groups="off",
            sms_groups="off",
            email="",
            mobile=default_mobile(user.phone),
            quiet_start=_hhmm(DEFAULT_QUIET[0]),
            quiet_end=_hhmm(DEFAULT_QUIET[1]),
            email_available="email" in available,
            sms_available="sms" in available,
            email_since=None,
            sms_since=None,
        )
    return PreferencesOut(
        email_groups=pref.email_groups,  # type: ignore[arg-type]
        sms_groups=pref.sms_groups,  # type: ignore[arg-type]
        email=pref.email,
        mobile=pref.mobile or default_mobile(user.phone),
        quiet_start=_hhmm(pref.quiet_start),
        quiet_end=_hhmm(pref.quiet_end),
        email_available="email" in available,
        sms_available="sms" in available,
        email_since=pref.email_since,
        sms_since=pref.sms_since,
    )


async def get_preferences(session: AsyncSession, principal: Principal, available: set[str]) -> PreferencesOut:
    user = await _user(session, principal)
    return _out(await stored(session, user.id), user, available)


def _clock(value: str | None, name: str) -> dt.time | None:
    if value is None or value == "":
        return None
    try:
        hours, minutes = value.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise Invalid.field(name, "请填写 HH:MM 格式的时间，如 22:00 (a time as HH:MM)") from None


async def put_preferences(
    session: AsyncSession, principal: Principal, data: PreferencesIn, available: set[str]
) -> PreferencesOut:
    user = await _user(session, principal)
    email = data.email.strip()
    mobile = data.mobile.strip() or default_mobile(user.phone)
    if data.email_groups not in templates.WANTS:
        raise Invalid.field("email_groups", "请选择邮件接收范围 (choose the email groups)")
    if data.sms_groups not in templates.WANTS:
        raise Invalid.field("sms_groups", "请选择短信接收范围 (choose the SMS groups)")
    if email and not EMAIL.match(email):
        raise Invalid.field("email", "邮箱地址格式不正确 (not an email address)")
    if data.email_groups != "off" and not email:
        raise Invalid.field("email", "开启邮件通知需要填写邮箱地址 (an email address is needed for email)")
    if data.mobile.strip() and not MOBILE.match(data.mobile.strip()):
        raise Invalid.field("mobile", "手机号应为11位大陆手机号，如 13800138000 (a mainland mobile number)")
    if data.sms_groups != "off" and not mobile:
        raise Invalid.field("mobile", "开启短信通知需要填写手机号 (a mobile number is needed for SMS)")
    start = _clock(data.quiet_start, "quiet_start")
    end = _clock(data.quiet_end, "quiet_end")
    if (start is None) != (end is None):
        field = "quiet_end" if end is None else "quiet_start"
        raise Invalid.field(field, "免打扰时段需同时填写开始和结束时间，或都留空 (both times or neither)")
    if start is not None and start == end:
        raise Invalid.field("quiet_end", "免打扰的开始和结束时间不能相同 (start and end must differ)")
    pref = await stored(session, user.id)
    if pref is None:
        pref = NotificationPreference(user_id=user.id, email_groups="off", sms_groups="off")
        session.add(pref)
    now = clock.now()
    before = {"email_groups": pref.email_groups, "sms_groups": pref.sms_groups}
    if data.email_groups != "off" and (pref.email_groups == "off" or email != pref.email):
        pref.email_since = now
    if data.sms_groups != "off" and (pref.sms_groups == "off" or data.mobile.strip() != pref.mobile):
        pref.sms_since = now
    pref.email_groups = data.email_groups
    pref.sms_groups = data.sms_groups
    pref.email = email
    pref.mobile = data.mobile.strip()
    pref.quiet_start, pref.quiet_end = start, end
    pref.updated_at = now
    await session.flush()
    await audit.record(
        session,
        principal,
        "notification_preferences",
        "user",
        user.id,
        ["email_groups", "sms_groups", "email", "mobile", "quiet_start", "quiet_end"],
        {"before": before, "email_groups": data.email_groups, "sms_groups": data.sms_groups},
    )
    return _out(pref, user, available)


# ---------------------------------------------------------------- quiet hours


def quiet_until(start: dt.time | None, end: dt.time | None, instant: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around ``instant`` end (a UTC instant), or None when ``instant`` is not in them.
    ``start``..``end`` in the district's local time, end excluded; an end before the start crosses midnight."""
    if start is None or end is None or start == end:
        return None
    local = instant.astimezone(clock.DISTRICT_TZ)
    t = local.time().replace(tzinfo=None)
    crosses = start > end
    inside = (t >= start or t < end) if crosses else (start <= t < end)
    if not inside:
        return None
    day = local.date()
    if crosses and t >= start:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


# ---------------------------------------------------------------- delivery


@dataclass
class RunResult:
    planned: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0

    def total(self) -> int:
        return self.sent + self.failed


async def plan(session: AsyncSession, channels: set[str], now: dt.datetime) -> tuple[int, int]:
    """Insert the delivery rows not yet made (see the module's docstring); (rows inserted, of them held)."""
    made = held = 0
    for channel in sorted(channels):
        since = NotificationPreference.email_since if channel == "email" else NotificationPreference.sms_since
        groups = NotificationPreference.email_groups if channel == "email" else NotificationPreference.sms_groups
        handled = select(Delivery.id).where(Delivery.notification_id == Notification.id, Delivery.channel == channel)
        rows = (
            await session.execute(
                select(
                    Notification.id,
                    Notification.recipient_id,
                    Notification.kind,
                    Notification.data,
                    groups,
                    NotificationPreference.quiet_start,
                    NotificationPreference.quiet_end,
                )
                .join(NotificationPreference, NotificationPreference.user_id == Notification.recipient_id)
                .where(groups != "off", since.is_not(None), Notification.created_at >= since, ~handled.exists())
                .order_by(Notification.id)
                .limit(PLAN_BATCH)
            )
        ).all()
        for nid, recipient, kind, data, wanted, q_start, q_end in rows:
            data = data if isinstance(data, dict) else {}
            urgent = templates.is_urgent(kind, data)
            group = templates.group_of(kind, data)
            status, due = "pending", now
            if group not in templates.WANTS.get(wanted, frozenset()):
                status = "skipped"
            elif not urgent:
                until = quiet_until(q_start, q_end, now)
                if until is not None:
                    status, due = "held", until
            try:
                async with session.begin_nested():
                    session.add(
                        Delivery(
                            notification_id=nid,
                            recipient_id=recipient,
                            channel=channel,
                            kind=kind[:40],
                            urgent=urgent,
                            status=status,
                            attempts=0,
                            next_attempt_at=due,
                            receipt="",
                            error="",
                            created_at=now,
                        )
                    )
            except IntegrityError:
                continue  # another run planned it first
            made += 1
            held += status == "held"
    return made, held


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(Delivery.status.in_(("pending", "held")), Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.claimed_until < now),
    )


async def claim(session: AsyncSession, now: dt.datetime, limit: int = SEND_BATCH) -> list[int]:
    """Take up to ``limit`` due rows for this worker (urgent first): a row is this worker's when its update found it
    still due. The caller commits before sending."""
    ids = list(
        (
            await session.scalars(
                select(Delivery.id).where(_due(now)).order_by(Delivery.urgent.desc(), Delivery.id).limit(limit)
            )
        ).all()
    )
    taken = []
    for did in ids:
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id == did, _due(now))
            .values(status="sending", claimed_until=now + CLAIM_FOR, attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(did)
    return taken


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    channel: str
    message: Message | None  # None: hold it (quiet hours began since planning) or drop it (no address any more)
    hold_until: dt.datetime | None = None


async def _prepare(session: AsyncSession, ids: list[int], now: dt.datetime, public_url: str) -> list[Outgoing]:
    out: list[Outgoing] = []
    for did in ids:
        row = (
            await session.execute(
                select(Delivery, Notification.data, NotificationPreference, User.phone)
                .join(Notification, Notification.id == Delivery.notification_id)
                .join(User, User.id == Delivery.recipient_id)
                .outerjoin(NotificationPreference, NotificationPreference.user_id == Delivery.recipient_id)
                .where(Delivery.id == did)
            )
        ).first()
        if row is None:
            continue
        d, data, pref, phone = row
        if pref is None:
            out.append(Outgoing(did, d.channel, None))
            continue
        if not d.urgent:
            until = quiet_until(pref.quiet_start, pref.quiet_end, now)
            if until is not None:
                out.append(Outgoing(did, d.channel, None, hold_until=until))
                continue
        to = pref.email if d.channel == "email" else (pref.mobile or default_mobile(phone))
        if not to:
            out.append(Outgoing(did, d.channel, None))
            continue
        r = templates.render(d.kind, data if isinstance(data, dict) else {}, public_url)
        out.append(Outgoing(did, d.channel, Message(to, d.kind, r.subject, r.body, r.sms_code, r.params)))
    return out


async def _finish(session: AsyncSession, did: int, now: dt.datetime, **values: object) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == did, Delivery.status == "sending")
        .values(claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )


async def deliver(
    db: Database, channels: Mapping[str, Channel], *, public_url: str | None = None, rounds: int = 5
) -> RunResult:
    """Plan and send what is due now (see the module's docstring). Safe to run twice at once."""
    result = RunResult()
    url = public_url or db.settings.public_url
    if not channels:
        return result
    now = clock.now()
    async with db.session() as session:
        result.planned, result.held = await plan(session, set(channels), now)
    for _ in range(rounds):
        async with db.session() as session:
            ids = await claim(session, now)
            outgoing = await _prepare(session, ids, now, url) if ids else []
        if not outgoing:
            break
        for item in outgoing:
            await _send_one(db, channels, item, result)
        now = clock.now()
    return result


async def _send_one(db: Database, channels: Mapping[str, Channel], item: Outgoing, result: RunResult) -> None:
    now = clock.now()
    channel = channels.get(item.channel)
    if item.message is None or channel is None:
        async with db.session() as session:
            if item.hold_until is not None:
                # Quiet hours began since it was planned: the attempt is given back.
                await _finish(
                    session,
                    item.delivery_id,
                    now,
                    status="held",
                    next_attempt_at=item.hold_until,
                    attempts=Delivery.attempts - 1,
                )
                result.held += 1
            else:
                reason = "no_address" if channel is not None else "channel_off"
                await _finish(session, item.delivery_id, now, status="failed", error=reason)
                result.failed += 1
        return
    try:
        receipt = await channel.send(item.message)
    except TransientFailure as exc:
        async with db.session() as session:
            attempts = await session.scalar(select(Delivery.attempts).where(Delivery.id == item.delivery_id)) or 1
            if attempts >= MAX_ATTEMPTS:
                await _finish(session, item.delivery_id, now, status="failed", error=_error(exc, "gave_up"))
                result.failed += 1
            else:
                wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
                await _finish(
                    session, item.delivery_id, now, status="pending", next_attempt_at=now + wait, error=_error(exc)
                )
                result.retried += 1
        return
    except PermanentFailure as exc:
        async with db.session() as session:
            await _finish(session, item.delivery_id, now, status="failed", error=_error(exc))
        result.failed += 1
        return
    async with db.session() as session:
        await _finish(session, item.delivery_id, now, status="sent", receipt=receipt[:120], sent_at=now, error="")
    result.sent += 1


def _error(exc: TransientFailure | PermanentFailure, prefix: str = "") -> str:
    text = f"{exc.code}: {exc.reason}" if exc.reason else exc.code
    return ((prefix + " " if prefix else "") + text)[:300]


# ---------------------------------------------------------------- a test message, the district's view


async def send_test(
    session: AsyncSession, principal: Principal, channels: Mapping[str, Channel], channel: str, settings: Settings
) -> TestOut:
    """Send the caller a test message on ``channel`` now (not through the delivery rows)."""
    user = await _user(session, principal)
    pref = await stored(session, user.id)
    ch = channels.get(channel)
    if ch is None:
        raise Conflict(
            f"平台尚未配置{CHANNEL_LABELS[channel]}服务 (the {channel} channel is not configured)",
            code="channel_not_configured",
        )
    if channel == "email":
        to = pref.email if pref else ""
    else:
        to = (pref.mobile if pref else "") or default_mobile(user.phone)
    if not to:
        field = "email" if channel == "email" else "mobile"
        raise Invalid.field(
            field, f"请先填写并保存{'邮箱地址' if channel == 'email' else '手机号'} (save an address first)"
        )
    r = templates.render_test(settings.public_url)
    try:
        receipt = await ch.send(Message(to, "test", r.subject, r.body, r.sms_code, r.params))
    except (TransientFailure, PermanentFailure) as exc:
        raise Conflict(
            f"测试消息发送失败：{exc.code} (the test message was not sent)", code="delivery_failed"
        ) from None
    return TestOut(channel=channel, to=to, receipt=receipt)


async def stats(session: AsyncSession, principal: Principal) -> DeliveryStats:
    if principal.role not in {"district_admin", "auditor"}:
        raise Forbidden("只有区级管理员可以查看消息投递情况 (district only)")
    since = clock.now() - dt.timedelta(days=RECENT_DAYS)
    counts = [
        ChannelCount(channel=c, status=s, count=int(n))
        for c, s, n in (
            await session.execute(
                select(Delivery.channel, Delivery.status, func.count())
                .where(Delivery.created_at >= since)
                .group_by(Delivery.channel, Delivery.status)
                .order_by(Delivery.channel, Delivery.status)
            )
        ).all()
    ]
    failures = [
        FailureOut(
            id=d.id,
            channel=d.channel,
            kind=d.kind,
            recipient_id=d.recipient_id,
            recipient_name=name,
            attempts=d.attempts,
            error=d.error,
            created_at=d.created_at,
        )
        for d, name in (
            await session.execute(
                select(Delivery, User.display_name)
                .join(User, User.id == Delivery.recipient_id)
                .where(Delivery.status == "failed")
                .order_by(Delivery.id.desc())
                .limit(20)
            )
        ).all()
    ]
    return DeliveryStats(since=since, counts=counts, failures=failures)
