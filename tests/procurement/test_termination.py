"""Terminating a contract (解除合同) through the API: what goes back to the line, what is kept, what is refused."""

from __future__ import annotations

import datetime as dt

from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import TODAY, accept, line_id, make_budget, signed_contract


async def _line(client, headers, budget_id: int, line: int) -> dict:
    lines = (await client.get(f"/api/v1/budgets/{budget_id}", headers=headers)).json()["lines"]
    return next(x for x in lines if x["id"] == line)


async def test_termination_releases_the_unpaid_unowed_amount_and_keeps_reason_and_date(
    client, auth: Auth, world
) -> None:
    officer = await auth("procurement")
    budget = await make_budget(client, officer)
    line = line_id(budget, "purchase_services")
    signed = TODAY - dt.timedelta(days=5)
    c = await signed_contract(client, auth, line, world.orgs[0], 10_000_000, signed_on=signed.isoformat())
    assert (await accept(client, auth, c, 0)).status_code == 200  # 4,000,000 accepted
    pay = await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 1_500_000},
        headers=officer,
    )
    assert pay.status_code == 201, pay.text
    before = await _line(client, officer, budget["id"], line)
    assert before["committed_fen"] == 10_000_000
    on = TODAY - dt.timedelta(days=2)
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/terminate",
        json={"reason": "  机构负责人变更，无法继续履约  ", "terminated_on": on.isoformat()},
        headers=officer,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "terminated"
    assert body["termination_reason"] == "机构负责人变更，无法继续履约"
    assert body["terminated_on"] == on.isoformat()
    assert body["evaluation_comments"] == ""
    after = await _line(client, officer, budget["id"], line)
    # Kept: 1,500,000 paid + 2,500,000 accepted and still owed; the other 6,000,000 goes back to the line.
    assert after["committed_fen"] == 4_000_000
    assert after["available_fen"] == before["available_fen"] + 6_000_000
    # What is owed for accepted work can still be paid after the termination, and nothing is released twice.
    pay = await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 2_500_000},
        headers=officer,
    )
    assert pay.status_code == 201, pay.text
    read = (await client.get(f"/api/v1/contracts/{c['id']}", headers=officer)).json()
    assert read["status"] == "terminated" and read["terminated_on"] == on.isoformat()


async def test_termination_is_refused_when_already_ended_and_changes_nothing(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    budget = await make_budget(client, officer)
    line = line_id(budget, "purchase_services")
    c = await signed_contract(client, auth, line, world.orgs[0], 10_000_000)
    url = f"/api/v1/contracts/{c['id']}/terminate"
    assert (await client.post(url, json={"reason": "不再需要"}, headers=officer)).status_code == 200
    kept = await _line(client, officer, budget["id"], line)
    body = assert_problem(await client.post(url, json={"reason": "再次解除"}, headers=officer), 409)
    assert "已解除" in body["detail"]
    assert await _line(client, officer, budget["id"], line) == kept
    read = (await client.get(f"/api/v1/contracts/{c['id']}", headers=officer)).json()
    assert read["termination_reason"] == "不再需要"

    # A completed (evaluated) contract cannot be terminated either.
    done = await signed_contract(client, auth, line, world.orgs[1], 3_000_000)
    for i in range(3):
        assert (await accept(client, auth, done, i)).status_code == 200
    r = await client.post(
        f"/api/v1/contracts/{done['id']}/evaluation", json={"score": 90, "comments": "良好"}, headers=officer
    )
    assert r.status_code == 200, r.text
    body = assert_problem(
        await client.post(f"/api/v1/contracts/{done['id']}/terminate", json={"reason": "x"}, headers=officer), 409
    )
    assert "已完成" in body["detail"]


async def test_termination_input_is_checked_and_changes_nothing(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    budget = await make_budget(client, officer)
    line = line_id(budget, "purchase_services")
    c = await signed_contract(client, auth, line, world.orgs[0], 10_000_000)
    url = f"/api/v1/contracts/{c['id']}/terminate"
    before = await _line(client, officer, budget["id"], line)
    bad = [
        ({"reason": ""}, 400),
        ({"reason": "   "}, 422),
        ({"reason": "x" * 501}, 400),
        ({}, 400),
        ({"reason": "未来", "terminated_on": (TODAY + dt.timedelta(days=1)).isoformat()}, 422),
        ({"reason": "签订前", "terminated_on": "2000-01-01"}, 422),
        ({"reason": "日期", "terminated_on": "2026-13-01"}, 400),
        ({"reason": "多余", "extra": 1}, 400),
    ]
    for payload, status in bad:
        assert_problem(await client.post(url, json=payload, headers=officer), status)
    assert_problem(await client.post("/api/v1/contracts/999999/terminate", json={"reason": "x"}, headers=officer), 404)
    assert_problem(await client.post(url, json={"reason": "x"}, headers=await auth("admin")), 403)
    assert await _line(client, officer, budget["id"], line) == before
    read = (await client.get(f"/api/v1/contracts/{c['id']}", headers=officer)).json()
    assert read["status"] == "active" and read["terminated_on"] is None and read["termination_reason"] == ""
