"""A street supervisor, on a phone (390×844), turns on email for every notification with quiet hours 22:00–07:00 in
the console; then, at night, an urgent escalation (the mandatory report unacknowledged, up at the supervisor) is
delivered into a real SMTP server (aiosmtpd) at once, while an ordinary reminder is held until 07:00 Beijing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from marketplace import clock
from marketplace.cases import notifications
from marketplace.db import Database
from marketplace.messaging import ports, service
from tests.browser.test_console import login
from tests.browser.viewports import PHONE
from tests.messaging.smtp_server import Mailbox, smtp_server, text_of
from tests.support import databases

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]
T = TypeVar("T")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def run(make: Callable[[], Awaitable[T]]) -> T:
    """An async step of the test's own, on a loop of its own (Playwright's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()  # type: ignore[arg-type]


def next_night(now: dt.datetime) -> dt.datetime:
    """The next 23:00 in Beijing after ``now``."""
    local = now.astimezone(clock.DISTRICT_TZ)
    night = local.replace(hour=23, minute=0, second=0, microsecond=0)
    if night <= local:
        night += dt.timedelta(days=1)
    return night.astimezone(dt.UTC)


def test_supervisor_sets_email_and_quiet_hours_then_night_delivery(
    live_server: str, world: Any, database_url: str, tmp_path: Path, mailbox: Mailbox, shots: Path, browser: Any
) -> None:
    base = live_server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "supervisor")
    page.click("text=通知设置")
    page.wait_for_url(f"{base}/admin/account/notifications")
    page.select_option("select[name=email_groups]", "all")
    page.fill("input[name=email]", "sup@futian.example")
    page.fill("input[name=quiet_start]", "22:00")
    page.fill("input[name=quiet_end]", "07:00")
    page.click("text=保存通知设置")
    page.wait_for_selector("text=通知设置已保存")
    assert page.input_value("input[name=email]") == "sup@futian.example"
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1
    page.screenshot(path=str(shots / "phone-supervisor-notification-settings.png"), full_page=True)
    # A wrong mobile is refused in place, with the posted values kept.
    page.select_option("select[name=sms_groups]", "urgent")
    page.fill("input[name=mobile]", "12345")
    page.click("text=保存通知设置")
    page.wait_for_selector("text=手机号应为11位大陆手机号")
    assert page.input_value("input[name=mobile]") == "12345"
    context.close()
    assert errors == []

    settings = dataclasses.replace(
        databases.test_settings(database_url, tmp_path), smtp_url=mailbox.url, mail_from="notify@futian.example"
    )
    supervisor = world.users["supervisor"]
    night = next_night(clock.now())

    async def at(instant: dt.datetime, step: Callable[[Database], Awaitable[T]]) -> T:
        with clock.freeze(instant):
            db = Database(settings)
            try:
                return await step(db)
            finally:
                await db.dispose()

    async def write(db: Database) -> None:
        async with db.session() as s:
            await notifications.notify(
                s,
                [supervisor],
                key="night-urgent",
                kind="escalation_report_ack",
                title="强制报告超时未签收",
                body="",
                entity="mandatory_report",
                entity_id=1,
                data={"level": 2, "kind": "report_ack"},
            )
            await notifications.notify(
                s,
                [supervisor],
                key="night-reminder",
                kind="escalation_visit",
                title="走访逾期提醒",
                body="",
                entity="community",
                entity_id=1,
                data={"level": 1, "count": 2},
            )

    async def deliver(db: Database) -> service.RunResult:
        return await service.deliver(db, ports.channels(settings))

    run(lambda: at(night, write))
    first = run(lambda: at(night, deliver))
    assert first.sent == 1 and first.held == 1
    assert len(mailbox.messages) == 1 and "强制报告超时未签收" in text_of(mailbox.messages[0])
    morning = night + dt.timedelta(hours=8)  # 07:00 Beijing
    assert run(lambda: at(morning - dt.timedelta(minutes=1), deliver)).sent == 0
    assert run(lambda: at(morning, deliver)).sent == 1
    assert len(mailbox.messages) == 2 and "走访逾期" in text_of(mailbox.messages[1])
    assert all(m["To"] == "sup@futian.example" for m in mailbox.messages)
