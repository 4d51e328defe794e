"""The console's notification settings (/admin/account/notifications) and the district's delivery page
(/admin/messaging): saved through the same service as the API, bad input shown again in place with the Chinese
message and the posted values, the test message sent into the local SMTP server."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace.cases import notifications
from marketplace.cases.models import Notification
from marketplace.messaging.models import Delivery
from marketplace.settings import Settings
from tests.messaging.smtp_server import Mailbox, smtp_server, text_of
from tests.support import databases
from tests.support.world import PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
PAGE = "/admin/account/notifications"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Settings:
    return dataclasses.replace(
        databases.test_settings(database_url, tmp_path), smtp_url=mailbox.url, mail_from="notify@futian.example"
    )


async def _login(client: Any, username: str) -> str:
    page = await client.get("/admin/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    r = await client.post(
        "/admin/login", data={"username": username, "password": PASSWORD, "_csrf_token": token.group(1)}
    )
    assert r.status_code in (200, 303), r.text
    return token.group(1)


def _csrf(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_settings_saved_and_test_email_sent(client: Any, mailbox: Mailbox) -> None:
    await _login(client, "supervisor")
    page = await client.get(PAGE)
    assert page.status_code == 200 and "通知设置" in page.text and 'value="22:00"' in page.text
    assert "平台尚未配置短信服务" in page.text and "平台尚未配置邮件服务" not in page.text
    form = {
        "_csrf_token": _csrf(page.text),
        "email_groups": "urgent",
        "sms_groups": "off",
        "email": "sup@futian.example",
        "mobile": "",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
    }
    r = await client.post(PAGE, data=form, follow_redirects=True)
    assert r.status_code == 200 and "通知设置已保存" in r.text and 'value="sup@futian.example"' in r.text
    r = await client.post(
        f"{PAGE}/test", data={"_csrf_token": form["_csrf_token"], "channel": "email"}, follow_redirects=True
    )
    assert r.status_code == 200 and "测试邮件已发出" in r.text
    assert "测试消息" in text_of(mailbox.messages[0])
    r = await client.post(f"{PAGE}/test", data={"_csrf_token": form["_csrf_token"], "channel": "sms"})
    assert r.status_code == 409 and "平台尚未配置短信服务" in r.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mobile": "12345"}, "手机号应为11位大陆手机号"),
        ({"email": "nobody"}, "邮箱地址格式不正确"),
        ({"email_groups": "all", "email": ""}, "开启邮件通知需要填写邮箱地址"),
        ({"quiet_end": ""}, "免打扰时段需同时填写开始和结束时间"),
        ({"quiet_start": "9pm"}, "请填写 HH:MM 格式的时间"),
        ({"sms_groups": "loud"}, "请选择短信接收范围"),
    ],
)
async def test_bad_input_is_shown_again_in_place(client: Any, changes: dict[str, str], message: str) -> None:
    await _login(client, "director")
    page = await client.get(PAGE)
    form = {
        "_csrf_token": _csrf(page.text),
        "email_groups": "off",
        "sms_groups": "off",
        "email": "dir@futian.example",
        "mobile": "13800138000",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        **changes,
    }
    r = await client.post(PAGE, data=form)
    assert r.status_code == 422, r.text
    assert message in r.text and 'aria-invalid="true"' in r.text
    for name in ("email", "mobile"):
        assert f'value="{form[name]}"' in r.text
    again = await client.get(PAGE)
    assert 'value="dir@futian.example"' not in again.text  # nothing was saved


async def test_delivery_page_is_the_districts(client: Any) -> None:
    await _login(client, "admin")
    r = await client.get("/admin/messaging")
    assert r.status_code == 200 and "站外通知投递" in r.text and "没有发送失败" in r.text
    assert 'href="/admin/messaging"' in r.text
    assert (
        '邮件服务</dt><dd><span class="tag tag-ok">已配置' in r.text
        and '短信服务</dt><dd><span class="tag tag-warn">未配置' in r.text
    )


async def test_delivery_page_refuses_others(client: Any) -> None:
    await _login(client, "supervisor")
    r = await client.get("/admin/messaging")
    assert r.status_code == 403


async def test_delivery_page_lists_failures_without_bodies(client: Any, db: Any, world: Any) -> None:
    async with db.session() as s:
        await notifications.notify(
            s,
            [world.users["supervisor"]],
            key="k",
            kind="mandatory_report",
            title="强制报告：张小明",
            body="张小明在福山社区",
            entity="mandatory_report",
            entity_id=1,
        )
        note_id = await s.scalar(select(func.max(Notification.id)))
        s.add(
            Delivery(
                notification_id=note_id,
                recipient_id=world.users["supervisor"],
                channel="sms",
                kind="mandatory_report",
                urgent=True,
                status="failed",
                attempts=1,
                error="isv.MOBILE_NUMBER_ILLEGAL: invalid number",
            )
        )
    await _login(client, "auditor")
    r = await client.get("/admin/messaging")
    assert r.status_code == 200
    assert "isv.MOBILE_NUMBER_ILLEGAL" in r.text and "强制报告" in r.text and "supervisor" in r.text
    assert "张小明" not in r.text and "福山社区" not in r.text
