"""The procedure's rules through the API: enough suppliers per method, steps dated in order, and budget room held
from approval to award, cancellation or failure (issue #14: a single bid under 竞争性磋商, an award dated before
its approval, a 200,000-yuan procurement on a line with 130,000 yuan left)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from marketplace.procurement.rules import add_working_days, get_rules
from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import (
    APPROVED_ON,
    PAST_AWARD,
    TODAY,
    bid,
    contract_body,
    line_id,
    make_budget,
    open_procurement,
    signed_contract,
)

P = "/api/v1/procurements"


async def line_view(client: Any, auth: Auth, budget: dict[str, Any], line: int) -> dict[str, Any]:
    after = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=await auth("procurement"))).json()
    found: dict[str, Any] = next(x for x in after["lines"] if x["id"] == line)
    return found


async def services_line(client: Any, auth: Auth) -> tuple[dict[str, Any], int]:
    budget = await make_budget(client, await auth("procurement"))
    return budget, line_id(budget, "purchase_services")


async def award(client: Any, auth: Auth, pid: int, **body: Any) -> Any:
    return await client.post(f"{P}/{pid}/award", json=body, headers=await auth("procurement"))


async def test_a_single_bid_under_competitive_consultation_is_a_409(client, auth: Auth, world) -> None:
    _, line = await services_line(client, auth)
    p = await open_procurement(client, auth, line, estimated_fen=10_000_000, method="competitive_consultation")
    assert p["minimum_suppliers"] == 2 and p["held_fen"] == 10_000_000
    assert (await bid(client, auth, p["id"], world.suppliers[0], 9_000_000)).status_code == 201
    body = assert_problem(await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat()), 409)
    assert "竞争性磋商须至少 3 家供应商" in body["detail"] and "现仅 1 家" in body["detail"]
    assert "财库〔2014〕214号" in body["detail"] and "财库〔2015〕124号" in body["detail"]
    assert [f["code"] for f in body["findings"]] == ["too_few_suppliers"]
    after = (await client.get(f"{P}/{p['id']}", headers=await auth("procurement"))).json()
    assert after["status"] == "bidding" and after["held_fen"] == 10_000_000 and after["committed_fen"] == 0
    # A second qualified supplier is enough for a purchase of services: the award goes through with a warning.
    assert (await bid(client, auth, p["id"], world.suppliers[1], 9_500_000)).status_code == 201
    r = await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat())
    assert r.status_code == 200, r.text
    assert "supplier_exception" in [f["code"] for f in r.json()["findings"]]


@pytest.mark.parametrize(
    "method", ["open_tender", "invited_tender", "competitive_negotiation", "request_for_quotation"]
)
async def test_two_bids_are_too_few_for_the_three_supplier_methods(client, auth: Auth, world, method: str) -> None:
    _, line = await services_line(client, auth)
    p = await open_procurement(client, auth, line, estimated_fen=10_000_000, method=method)
    for org in world.suppliers[:2]:
        assert (await bid(client, auth, p["id"], org, 9_000_000)).status_code == 201
    body = assert_problem(await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat()), 409)
    assert "须至少 3 家供应商" in body["detail"] and "现仅 2 家" in body["detail"]
    assert (await bid(client, auth, p["id"], world.suppliers[2], 9_900_000)).status_code == 201
    assert (await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat())).status_code == 200


async def test_single_source_takes_exactly_one_supplier(client, auth: Auth, world) -> None:
    _, line = await services_line(client, auth)
    p = await open_procurement(client, auth, line, estimated_fen=5_000_000, method="single_source")
    assert_problem(await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat()), 409)
    assert (await bid(client, auth, p["id"], world.suppliers[0], 5_000_000)).status_code == 201
    second = assert_problem(await bid(client, auth, p["id"], world.suppliers[1], 4_000_000), 409)
    assert "单一来源" in second["detail"]
    assert (await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat())).status_code == 200


async def test_a_failed_open_tender_releases_its_room_and_negotiation_may_go_on_with_its_two(
    client, auth: Auth, world
) -> None:
    budget, line = await services_line(client, auth)
    before = await line_view(client, auth, budget, line)
    tender = await open_procurement(client, auth, line, estimated_fen=30_000_000)
    assert (await line_view(client, auth, budget, line))["held_fen"] == 30_000_000
    for org in world.suppliers[:2]:
        assert (await bid(client, auth, tender["id"], org, 29_000_000)).status_code == 201
    body = assert_problem(await award(client, auth, tender["id"]), 409)
    assert "第四十三条" in body["detail"]
    officer = await auth("procurement")
    assert_problem(await client.post(f"{P}/{tender['id']}/fail", json={"reason": ""}, headers=officer), 400)
    r = await client.post(f"{P}/{tender['id']}/fail", json={"reason": "投标人不足3家，废标"}, headers=officer)
    assert r.status_code == 200, r.text
    failed = r.json()
    assert failed["status"] == "failed" and failed["held_fen"] == 0 and failed["ended_on"] == TODAY.isoformat()
    assert (await line_view(client, auth, budget, line))["available_fen"] == before["available_fen"]
    assert_problem(await client.post(f"{P}/{tender['id']}/fail", json={"reason": "再次"}, headers=officer), 409)
    # 财政部令第74号第二十七条第二款: with approval, 竞争性谈判 with the two suppliers of the failed tender.
    follow = await open_procurement(
        client,
        auth,
        line,
        estimated_fen=30_000_000,
        method="competitive_negotiation",
        extra={"replaces_procurement_id": tender["id"]},
    )
    assert follow["minimum_suppliers"] == 2 and follow["replaces_procurement_id"] == tender["id"]
    for org, price in zip(world.suppliers[:2], (28_000_000, 28_500_000), strict=True):
        assert (await bid(client, auth, follow["id"], org, price)).status_code == 201
    r = await award(client, auth, follow["id"], awarded_on=PAST_AWARD.isoformat())
    assert r.status_code == 200, r.text
    assert "第二十七条第二款" in next(f for f in r.json()["findings"] if f["code"] == "supplier_exception")["message"]
    # Only a failed or cancelled procurement can be replaced.
    bad = {
        "budget_line_id": line,
        "title": "x",
        "method": "open_tender",
        "estimated_fen": 1_000,
        "service_categories": ["hotline"],
        "replaces_procurement_id": follow["id"],
    }
    assert_problem(await client.post(P, json=bad, headers=officer), 422)


async def test_an_award_dated_before_its_approval_is_a_422(client, auth: Auth, world) -> None:
    _, line = await services_line(client, auth)
    approved_on = PAST_AWARD
    p = await open_procurement(
        client, auth, line, estimated_fen=10_000_000, method="competitive_consultation", approved_on=approved_on
    )
    assert p["approvals"][0]["approved_on"] == approved_on.isoformat()
    for org in world.suppliers:
        assert (await bid(client, auth, p["id"], org, 9_000_000 + org)).status_code == 201
    early = approved_on - dt.timedelta(days=1)
    body = assert_problem(await award(client, auth, p["id"], awarded_on=early.isoformat()), 422)
    assert body["errors"][0]["field"] == "awarded_on"
    assert "早于采购方式审批日期" in body["detail"] and approved_on.isoformat() in body["detail"]
    after = (await client.get(f"{P}/{p['id']}", headers=await auth("procurement"))).json()
    assert after["status"] == "bidding" and after["awarded_on"] is None
    # The announcement comes within 2 working days of the award, never before it.
    late = add_working_days(approved_on, 3, get_rules())
    body = assert_problem(
        await award(client, auth, p["id"], awarded_on=approved_on.isoformat(), announced_on=late.isoformat()), 422
    )
    assert body["errors"][0]["field"] == "announced_on" and "2 个工作日内公告" in body["detail"]
    before = (approved_on - dt.timedelta(days=1)).isoformat()
    assert_problem(await award(client, auth, p["id"], awarded_on=approved_on.isoformat(), announced_on=before), 422)
    announced = add_working_days(approved_on, 2, get_rules())
    r = await award(client, auth, p["id"], awarded_on=approved_on.isoformat(), announced_on=announced.isoformat())
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["announced_on"] == announced.isoformat()
    publicity_ends = dt.date.fromisoformat(done["publicity_ends_on"])
    assert publicity_ends == add_working_days(announced, get_rules().publicity_working_days, get_rules())
    # Signing is after the publicity period (the existing rule), the award date and the approval before it.
    winner = next(b for b in done["bids"] if b["id"] == done["awarded_bid_id"])
    inside = contract_body(
        p["id"], winner["organization_id"], winner["price_fen"], signed_on=publicity_ends.isoformat()
    )
    body = assert_problem(await client.post("/api/v1/contracts", json=inside, headers=await auth("procurement")), 422)
    assert body["findings"][0]["code"] == "publicity_period"


async def test_approval_dates_are_checked(client, auth: Auth) -> None:
    _, line = await services_line(client, auth)
    p = await open_procurement(
        client, auth, line, estimated_fen=1_000_000, method="competitive_consultation", approved_on=None
    )
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    body = assert_problem(
        await client.post(
            f"{P}/{p['id']}/approve", json={"document_no": "审1", "approved_on": future}, headers=await auth("admin")
        ),
        422,
    )
    assert body["errors"][0]["field"] == "approved_on"
    r = await client.post(f"{P}/{p['id']}/approve", json={"document_no": "审1"}, headers=await auth("admin"))
    assert r.status_code == 200 and r.json()["approvals"][0]["approved_on"] == TODAY.isoformat()


async def test_single_source_notice_precedes_its_approval(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    big = 500_000_000  # 500万元: above the open-tender threshold
    budget = await make_budget(
        client, officer, lines=[{"code": "purchase_services", "name": "购买服务", "appropriation_fen": big}]
    )
    line = line_id(budget, "purchase_services")
    body = {
        "budget_line_id": line,
        "title": "唯一具备资质的儿童康复服务",
        "method": "single_source",
        "estimated_fen": big,
        "service_categories": ["psych_counselling"],
        "justification": "唯一供应商",
        "single_source_ground": "art31_1_sole_supplier",
    }
    missing = assert_problem(await client.post(P, json=body, headers=officer), 422)
    assert missing["errors"][0]["field"] == "notice_published_on" and "74号" in missing["detail"]
    published = APPROVED_ON - dt.timedelta(days=3)
    r = await client.post(P, json={**body, "notice_published_on": published.isoformat()}, headers=officer)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    inside = {"document_no": "审2", "approved_on": APPROVED_ON.isoformat()}
    refused = assert_problem(await client.post(f"{P}/{pid}/approve", json=inside, headers=await auth("admin")), 422)
    assert "公示期满后方可审批" in refused["detail"]
    after = add_working_days(published, 5, get_rules()) + dt.timedelta(days=1)
    r = await client.post(
        f"{P}/{pid}/approve", json={"document_no": "审2", "approved_on": after.isoformat()}, headers=await auth("admin")
    )
    assert r.status_code == 200, r.text


async def test_a_procurement_must_fit_the_uncommitted_room(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    budget = await make_budget(
        client, officer, lines=[{"code": "purchase_services", "name": "购买服务", "appropriation_fen": 30_000_000}]
    )
    line = line_id(budget, "purchase_services")
    await signed_contract(client, auth, line, world.suppliers[0], 17_000_000)
    assert (await line_view(client, auth, budget, line))["available_fen"] == 13_000_000  # 130,000 yuan left
    body = {
        "budget_line_id": line,
        "title": "困境儿童走访核查服务",
        "method": "competitive_consultation",
        "estimated_fen": 20_000_000,  # 200,000 yuan
        "service_categories": ["verification_visits"],
        "justification": "专业服务，供应商有限",
    }
    refused = assert_problem(await client.post(P, json=body, headers=officer), 409)
    assert "采购预算 200,000.00元 超过预算科目“购买服务”未承诺的可用额度 130,000.00元" in refused["detail"]
    assert (refused["available_fen"], refused["requested_fen"]) == (13_000_000, 20_000_000)
    # Two that each fit when opened: the first approval holds its room, the second finds too little left.
    first, second = [
        await open_procurement(
            client, auth, line, estimated_fen=10_000_000, method="competitive_consultation", approved_on=None
        )
        for _ in range(2)
    ]
    r = await client.post(
        f"{P}/{first['id']}/approve",
        json={"document_no": "审3", "approved_on": APPROVED_ON.isoformat()},
        headers=await auth("admin"),
    )
    assert r.status_code == 200 and r.json()["held_fen"] == 10_000_000
    # While the first holds its room, a third that does not fit what is left cannot even be opened.
    assert_problem(await client.post(P, json={**body, "estimated_fen": 3_000_001}, headers=officer), 409)
    r = await client.post(
        f"{P}/{second['id']}/approve",
        json={"document_no": "审3", "approved_on": APPROVED_ON.isoformat()},
        headers=await auth("admin"),
    )
    body = assert_problem(r, 409)
    assert "可用额度不足" in body["detail"] and body["available_fen"] == 3_000_000
    view = await line_view(client, auth, budget, line)
    assert (view["committed_fen"], view["held_fen"], view["available_fen"]) == (17_000_000, 10_000_000, 3_000_000)
    # Cancelling the first gives its room back; the second can then be approved.
    r = await client.post(f"{P}/{first['id']}/cancel", headers=officer)
    assert r.status_code == 200 and r.json()["held_fen"] == 0 and r.json()["status"] == "cancelled"
    r = await client.post(
        f"{P}/{second['id']}/approve",
        json={"document_no": "审3", "approved_on": APPROVED_ON.isoformat()},
        headers=await auth("admin"),
    )
    assert r.status_code == 200, r.text


async def test_the_hold_becomes_the_award_and_then_the_contract(client, auth: Auth, world) -> None:
    budget, line = await services_line(client, auth)
    start = (await line_view(client, auth, budget, line))["available_fen"]
    p = await open_procurement(client, auth, line, estimated_fen=10_000_000)
    prices = {world.suppliers[0]: 9_000_000, world.suppliers[1]: 9_400_000, world.suppliers[2]: 9_800_000}
    for org, price in prices.items():
        assert (await bid(client, auth, p["id"], org, price, technical_score=90)).status_code == 201
    r = await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat())
    assert r.status_code == 200, r.text
    assert (r.json()["held_fen"], r.json()["committed_fen"]) == (0, 9_000_000)
    view = await line_view(client, auth, budget, line)
    assert (view["held_fen"], view["committed_fen"], view["available_fen"]) == (0, 9_000_000, start - 9_000_000)
    # Signed below the winning price: the difference goes back to the line.
    officer = await auth("procurement")
    r = await client.post(
        "/api/v1/contracts", json=contract_body(p["id"], world.suppliers[0], 8_500_000), headers=officer
    )
    assert r.status_code == 201, r.text
    view = await line_view(client, auth, budget, line)
    assert (view["committed_fen"], view["available_fen"]) == (8_500_000, start - 8_500_000)
    assert (await client.get(f"{P}/{p['id']}", headers=officer)).json()["committed_fen"] == 8_500_000


async def test_cancelling_an_awarded_procurement_releases_its_commitment(client, auth: Auth, world) -> None:
    budget, line = await services_line(client, auth)
    start = (await line_view(client, auth, budget, line))["available_fen"]
    p = await open_procurement(client, auth, line, estimated_fen=10_000_000, method="single_source")
    assert (await bid(client, auth, p["id"], world.suppliers[0], 9_000_000)).status_code == 201
    assert (await award(client, auth, p["id"], awarded_on=PAST_AWARD.isoformat())).status_code == 200
    assert (await line_view(client, auth, budget, line))["committed_fen"] == 9_000_000
    officer = await auth("procurement")
    assert_problem(await client.post(f"{P}/{p['id']}/fail", json={"reason": "x"}, headers=officer), 409)
    r = await client.post(f"{P}/{p['id']}/cancel", headers=officer)
    assert r.status_code == 200 and r.json()["committed_fen"] == 0
    view = await line_view(client, auth, budget, line)
    assert (view["committed_fen"], view["held_fen"], view["available_fen"]) == (0, 0, start)
    trail = (
        await client.get(f"/api/v1/budgets/{budget['id']}/lines/{line}/movements", headers=await auth("auditor"))
    ).json()["items"]
    assert [m["kind"] for m in trail] == ["hold", "hold_release", "commitment", "release"]
