"""GET/PUT /api/v1/me/notification-preferences, the test message, the district's delivery counts; bad input is a
422 problem naming the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assert_problem
from tests.messaging.sms_fake import Gateway
from tests.messaging.smtp_server import Mailbox, text_of
from tests.support import figures

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
URL = "/api/v1/me/notification-preferences"
SUITE = "messaging preferences API"


async def test_defaults_then_saved(client: Any, auth: Any) -> None:
    h = await auth("director")
    r = await client.get(URL, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email_groups"] == body["sms_groups"] == "off"
    assert (body["quiet_start"], body["quiet_end"]) == ("22:00", "07:00")
    assert body["email_available"] and body["sms_available"]
    wanted = {
        "email_groups": "reminders",
        "sms_groups": "urgent",
        "email": "director@futian.example",
        "mobile": "13912345678",
        "quiet_start": "21:30",
        "quiet_end": "06:30",
    }
    r = await client.put(URL, json=wanted, headers=h)
    assert r.status_code == 200, r.text
    again = (await client.get(URL, headers=h)).json()
    assert {k: again[k] for k in wanted} == wanted
    assert again["email_since"] and again["sms_since"]
    r = await client.put(URL, json={**wanted, "quiet_start": None, "quiet_end": None}, headers=h)
    assert r.status_code == 200 and r.json()["quiet_start"] is None
    # Someone else's preferences are their own.
    other = (await client.get(URL, headers=await auth("director2"))).json()
    assert other["email_groups"] == "off"


BAD: list[tuple[dict[str, Any], str | None, int]] = [
    ({"email_groups": "all", "email": ""}, "email", 422),
    ({"email_groups": "all", "email": "not-an-address"}, "email", 422),
    ({"sms_groups": "all", "mobile": "12345678901"}, "mobile", 422),
    ({"sms_groups": "all", "mobile": "2381234567"}, "mobile", 422),
    ({"sms_groups": "all", "mobile": ""}, "mobile", 422),  # the account has no phone
    ({"quiet_start": "22:00", "quiet_end": None}, "quiet_end", 422),
    ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end", 422),
    ({"quiet_start": "25:00", "quiet_end": "07:00"}, None, 400),
    ({"email_groups": "sometimes"}, None, 400),
    ({"surprise": 1}, None, 400),
]


async def test_bad_input_is_refused_and_nothing_changes(client: Any, auth: Any) -> None:
    h = await auth("supervisor")
    before = (await client.get(URL, headers=h)).json()
    for body, field, status in BAD:
        problem = assert_problem(await client.put(URL, json=body, headers=h), status)
        if field:
            assert problem["errors"][0]["field"] == field, (body, problem)
    assert (await client.get(URL, headers=h)).json() == before
    figures.record(SUITE, "bad bodies sent", len(BAD))
    figures.record(SUITE, "bad bodies accepted", 0)


async def test_the_test_message_reaches_the_person(client: Any, auth: Any, mailbox: Mailbox, gateway: Gateway) -> None:
    h = await auth("supervisor")
    problem = assert_problem(await client.post(f"{URL}/test", json={"channel": "email"}, headers=h), 422)
    assert problem["errors"][0]["field"] == "email"
    r = await client.put(
        URL, json={"email_groups": "all", "email": "sup@futian.example", "mobile": "13800138000"}, headers=h
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{URL}/test", json={"channel": "email"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["to"] == "sup@futian.example" and "测试消息" in text_of(mailbox.messages[0])
    r = await client.post(f"{URL}/test", json={"channel": "sms"}, headers=h)
    assert r.status_code == 200, r.text
    assert gateway.sent[0]["to"] == "13800138000" and gateway.sent[0]["template"] == "SMS_NOTICE"
    gateway.fail_next.append("isv.BUSINESS_LIMIT_CONTROL")
    assert_problem(await client.post(f"{URL}/test", json={"channel": "sms"}, headers=h), 409)


async def test_delivery_counts_are_the_districts(client: Any, auth: Any) -> None:
    r = await client.get("/api/v1/messaging/deliveries", headers=await auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == [] and r.json()["failures"] == []
    assert_problem(await client.get("/api/v1/messaging/deliveries", headers=await auth("supervisor")), 403)
    assert_problem(await client.get(URL), 401)
