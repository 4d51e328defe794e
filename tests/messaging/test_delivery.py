"""The delivery job: quiet hours at 23:00 / 06:59 / 07:00 Beijing, the urgent bypass, retries with backoff, a
permanent failure recorded, only notifications newer than the preference, the groups, and two runs at once sending
each message once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.db import Database
from marketplace.messaging import ports, service
from marketplace.messaging.models import Delivery
from marketplace.messaging.schemas import PreferencesIn
from tests.messaging.sms_fake import Gateway
from tests.messaging.smtp_server import Mailbox, text_of
from tests.support import figures
from tests.support.world import World

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
SUITE = "messaging delivery"
BEIJING = clock.DISTRICT_TZ


def beijing(hour: int, minute: int = 0, day: int = 3) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BEIJING).astimezone(dt.UTC)


async def _prefer(db: Database, world: World, username: str, **values: Any) -> None:
    principal = Principal(user_id=world.users[username], username=username, role="child_supervisor")
    async with db.session() as s:
        await service.put_preferences(s, principal, PreferencesIn(**values), {"email", "sms"})


async def _notify(db: Database, world: World, username: str, key: str, kind: str, **data: Any) -> None:
    async with db.session() as s:
        await notifications.notify(
            s,
            [world.users[username]],
            key=key,
            kind=kind,
            title="督办提醒：张小明走访逾期",
            body="张小明（福田区福山社区某某路1号）的走访已逾期",
            entity="child",
            entity_id=1,
            data=data,
        )


async def _statuses(db: Database) -> dict[tuple[str, str], str]:
    async with db.session() as s:
        rows = await s.execute(select(Delivery.kind, Delivery.channel, Delivery.status))
        return {(k, c): st for k, c, st in rows.all()}


async def test_quiet_hours_hold_all_but_urgent(db: Database, world: World, mailbox: Mailbox, frozen_clock: Any) -> None:
    frozen_clock(beijing(22, 30))
    await _prefer(db, world, "supervisor", email_groups="all", email="sup@futian.example")
    frozen_clock(beijing(23, 0))
    await _notify(db, world, "supervisor", "visit-1", "escalation_visit", level=1, count=3, oldest_due="2026-11-20")
    await _notify(db, world, "supervisor", "esc-2", "escalation_visit", level=2, count=2)
    await _notify(db, world, "supervisor", "report-1", "mandatory_report", report_id=5)
    await _notify(db, world, "supervisor", "safety-1", "safety_warning", urgent=True, grade="red")
    chans = ports.channels(db.settings)

    first = await service.deliver(db, chans)
    assert (first.sent, first.held) == (3, 1)
    assert sorted(text_of(m).splitlines()[0] for m in mailbox.messages) == [
        "【福田区儿童关爱平台】安全预警",
        "【福田区儿童关爱平台】强制报告",
        "【福田区儿童关爱平台】走访逾期",  # level 2: the escalation reached the supervisor, urgent
    ]
    assert (await _statuses(db))[("escalation_visit", "email")] in {"held", "sent"}

    frozen_clock(beijing(6, 59, day=4))
    assert (await service.deliver(db, chans)).sent == 0
    assert len(mailbox.messages) == 3

    frozen_clock(beijing(7, 0, day=4))
    late = await service.deliver(db, chans)
    assert late.sent == 1 and len(mailbox.messages) == 4
    held = text_of(mailbox.messages[-1])
    assert "3条新的“走访逾期”" in held and "期限：11月20日" in held and "https://care.futian.example/admin/" in held
    assert "张小明" not in held and "福山社区" not in held
    figures.record(SUITE, "quiet-hour holds released at 07:00", late.sent)


def test_quiet_hours_boundaries() -> None:
    start, end = dt.time(22, 0), dt.time(7, 0)
    assert service.quiet_until(start, end, beijing(23, 0)) == beijing(7, 0, day=4)
    assert service.quiet_until(start, end, beijing(6, 59)) == beijing(7, 0)
    assert service.quiet_until(start, end, beijing(7, 0)) is None
    assert service.quiet_until(start, end, beijing(21, 59)) is None
    assert service.quiet_until(start, end, beijing(22, 0)) == beijing(7, 0, day=4)
    assert service.quiet_until(dt.time(12, 0), dt.time(14, 0), beijing(13, 0)) == beijing(14, 0)
    assert service.quiet_until(None, None, beijing(23, 0)) is None


async def test_transient_failures_retry_with_backoff_and_permanent_ones_are_recorded(
    db: Database, world: World, mailbox: Mailbox, gateway: Gateway, frozen_clock: Any
) -> None:
    frozen_clock(beijing(10, 0))
    await _prefer(db, world, "supervisor", sms_groups="all", mobile="13800138000", quiet_start=None, quiet_end=None)
    await _prefer(db, world, "supervisor2", email_groups="all", email="gone@futian.example")
    mailbox.refuse.add("gone@futian.example")
    gateway.fail_next += ["isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR"]
    await _notify(db, world, "supervisor", "r-1", "referral_decline")
    await _notify(db, world, "supervisor2", "r-2", "referral_decline")
    chans = ports.channels(db.settings)

    run = await service.deliver(db, chans)
    assert (run.sent, run.retried, run.failed) == (0, 1, 1)
    assert await service.deliver(db, chans) == service.RunResult()  # the backoff not over: nothing taken
    frozen_clock(beijing(10, 1))
    assert (await service.deliver(db, chans)).retried == 1  # the second fault
    frozen_clock(beijing(10, 6))
    assert (await service.deliver(db, chans)).sent == 1
    assert [m["to"] for m in gateway.sent] == ["13800138000"]
    assert gateway.sent[0]["params"]["label"] == "转介被拒绝"
    async with db.session() as s:
        rows = {d.channel: d for d in (await s.scalars(select(Delivery))).all()}
    assert rows["sms"].status == "sent" and rows["sms"].attempts == 3 and rows["sms"].receipt
    assert rows["email"].status == "failed" and rows["email"].error.startswith("smtp_recipient_refused")
    figures.record(SUITE, "transient faults injected", 2)
    figures.record(SUITE, "messages lost after transient faults", 0 if rows["sms"].status == "sent" else 1)


async def test_gives_up_after_max_attempts(db: Database, world: World, gateway: Gateway, frozen_clock: Any) -> None:
    frozen_clock(beijing(10, 0))
    await _prefer(db, world, "supervisor", sms_groups="all", mobile="13800138000", quiet_start=None, quiet_end=None)
    gateway.fail_next += ["isv.BUSINESS_LIMIT_CONTROL"] * service.MAX_ATTEMPTS
    await _notify(db, world, "supervisor", "r-1", "referral_decline")
    chans = ports.channels(db.settings)
    for minutes in (0, 2, 8, 25, 90):
        frozen_clock(beijing(10, 0) + dt.timedelta(minutes=minutes))
        await service.deliver(db, chans)
    async with db.session() as s:
        row = (await s.scalars(select(Delivery))).one()
    assert row.status == "failed" and row.attempts == service.MAX_ATTEMPTS and row.error.startswith("gave_up")


async def test_only_newer_notifications_and_only_the_groups_wanted(
    db: Database, world: World, mailbox: Mailbox, frozen_clock: Any
) -> None:
    frozen_clock(beijing(9, 0))
    await _notify(db, world, "supervisor", "old", "mandatory_report")
    frozen_clock(beijing(10, 0))
    await _prefer(db, world, "supervisor", email_groups="urgent", email="sup@futian.example")
    await _notify(db, world, "supervisor", "notice", "referral_close")
    await _notify(db, world, "supervisor", "new", "mandatory_report")
    await _notify(db, world, "director", "other-person", "mandatory_report")
    run = await service.deliver(db, ports.channels(db.settings))
    assert run.sent == 1 and len(mailbox.messages) == 1
    assert mailbox.envelopes[0][1] == ["sup@futian.example"]
    statuses = await _statuses(db)
    assert statuses == {("mandatory_report", "email"): "sent", ("referral_close", "email"): "skipped"}


async def test_two_runs_at_once_send_each_message_once(
    db: Database, world: World, mailbox: Mailbox, gateway: Gateway, frozen_clock: Any
) -> None:
    frozen_clock(beijing(11, 0))
    both = {"email_groups": "all", "sms_groups": "all", "quiet_start": None, "quiet_end": None}
    await _prefer(db, world, "supervisor", email="sup@futian.example", mobile="13800138000", **both)
    await _prefer(db, world, "supervisor2", email="sup2@futian.example", mobile="13900139000", **both)
    for i in range(6):
        await _notify(db, world, "supervisor" if i % 2 else "supervisor2", f"n-{i}", "escalation_remind")
    chans = ports.channels(db.settings)
    runs = await asyncio.gather(*(service.deliver(db, chans) for _ in range(3)))
    assert sum(r.sent for r in runs) == 12
    assert len(mailbox.messages) == 6 and len(gateway.sent) == 6
    again = await service.deliver(db, chans)
    assert again.sent == 0 and len(mailbox.messages) == 6
    figures.record(SUITE, "concurrent runs", 3)
    figures.record(SUITE, "messages sent twice", len(mailbox.messages) - 6 + len(gateway.sent) - 6)


async def test_a_send_claimed_by_a_worker_that_died_is_taken_again(
    db: Database, world: World, mailbox: Mailbox, frozen_clock: Any
) -> None:
    frozen_clock(beijing(12, 0))
    await _prefer(db, world, "supervisor", email_groups="all", email="sup@futian.example")
    await _notify(db, world, "supervisor", "r-1", "referral_decline")
    async with db.session() as s:
        assert await service.plan(s, {"email"}, clock.now()) == (1, 0)
        assert len(await service.claim(s, clock.now())) == 1  # claimed, then the worker is killed before sending
    chans = ports.channels(db.settings)
    assert (await service.deliver(db, chans)).sent == 0  # the claim still holds
    frozen_clock(beijing(12, 0) + service.CLAIM_FOR + dt.timedelta(seconds=1))
    assert (await service.deliver(db, chans)).sent == 1 and len(mailbox.messages) == 1
    assert (await service.deliver(db, chans)).sent == 0
