"""Building blocks for the procurement tests: a budget, a procurement carried to award, a signed contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marketplace import clock

TODAY = clock.today()
PAST_AWARD = TODAY - dt.timedelta(days=40)

LINES = [
    {"code": "director_subsidy", "name": "儿童主任岗位补贴", "appropriation_fen": 10_000_000},
    {"code": "activities", "name": "活动资金", "appropriation_fen": 5_000_000},
    {"code": "purchase_services", "name": "购买服务", "appropriation_fen": 100_000_000},
    {"code": "training", "name": "培训", "appropriation_fen": 5_000_000},
    {"code": "living_allowance", "name": "生活补贴", "appropriation_fen": 20_000_000},
]


async def make_budget(
    client: Any,
    headers: dict[str, str],
    lines: list[dict[str, Any]] | None = None,
    year: int | None = None,
    name: str = "专项资金",
) -> dict[str, Any]:
    lines = lines or LINES
    body = {
        "name": name,
        "fiscal_year": year or TODAY.year,
        "total_fen": sum(x["appropriation_fen"] for x in lines),
        "lines": lines,
    }
    r = await client.post("/api/v1/budgets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def line_id(budget: dict[str, Any], code: str) -> int:
    return next(x["id"] for x in budget["lines"] if x["code"] == code)


APPROVED_ON = PAST_AWARD - dt.timedelta(days=10)
# How many suppliers each method's award needs here (财库〔2015〕124号 lets 竞争性磋商 for services go on with 2).
SUPPLIERS = {
    "open_tender": 3,
    "invited_tender": 3,
    "competitive_negotiation": 3,
    "competitive_consultation": 3,
    "request_for_quotation": 3,
    "single_source": 1,
}


async def approved_suppliers(client: Any, auth: Any) -> list[int]:
    r = await client.get("/api/v1/organizations?status=approved&limit=100", headers=await auth("admin"))
    assert r.status_code == 200, r.text
    return sorted(o["id"] for o in r.json()["items"])


async def open_procurement(
    client: Any,
    auth: Any,
    line: int,
    *,
    estimated_fen: int,
    method: str = "open_tender",
    categories: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    approved_on: dt.date | None = APPROVED_ON,
) -> dict[str, Any]:
    """A procurement opened and, for a method other than open tender, approved (dated ``approved_on``)."""
    officer = await auth("procurement")
    body: dict[str, Any] = {
        "budget_line_id": line,
        "title": "困境儿童心理服务项目",
        "method": method,
        "estimated_fen": estimated_fen,
        "service_categories": categories or ["psych_counselling"],
    }
    if method != "open_tender":
        body["justification"] = "专业性强，符合条件的供应商有限"
    if method == "single_source":
        body["single_source_ground"] = "art31_1_sole_supplier"
    body.update(extra or {})
    r = await client.post("/api/v1/procurements", json=body, headers=officer)
    assert r.status_code == 201, r.text
    if method != "open_tender" and approved_on is not None:
        r = await client.post(
            f"/api/v1/procurements/{r.json()['id']}/approve",
            json={"document_no": "福民采审〔2026〕1号", "approved_on": approved_on.isoformat()},
            headers=await auth("admin"),
        )
        assert r.status_code == 200, r.text
    return r.json()


async def bid(client: Any, auth: Any, pid: int, org_id: int, price_fen: int, technical_score: int = 90) -> Any:
    return await client.post(
        f"/api/v1/procurements/{pid}/bids",
        json={"organization_id": org_id, "price_fen": price_fen, "technical_score": technical_score},
        headers=await auth("procurement"),
    )


async def awarded_procurement(
    client: Any,
    auth: Any,
    line: int,
    *,
    org_id: int,
    price_fen: int,
    method: str = "open_tender",
    categories: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Opened, approved where needed, with as many bids as the method needs (``org_id`` best of them: the others
    ask more and score lower), awarded on PAST_AWARD."""
    p = await open_procurement(
        client, auth, line, estimated_fen=price_fen, method=method, categories=categories, extra=extra
    )
    pid = p["id"]
    r = await bid(client, auth, pid, org_id, price_fen)
    assert r.status_code == 201, r.text
    rivals = [o for o in await approved_suppliers(client, auth) if o != org_id]
    for n, rival in enumerate(rivals[: SUPPLIERS[method] - 1]):
        r = await bid(client, auth, pid, rival, price_fen + 100_000 * (n + 1), technical_score=80)
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/procurements/{pid}/award",
        json={"awarded_on": PAST_AWARD.isoformat()},
        headers=await auth("procurement"),
    )
    assert r.status_code == 200, r.text
    return r.json()


def contract_body(procurement_id: int, org_id: int, amount_fen: int, **over: Any) -> dict[str, Any]:
    starts = TODAY - dt.timedelta(days=30)
    body: dict[str, Any] = {
        "procurement_id": procurement_id,
        "organization_id": org_id,
        "amount_fen": amount_fen,
        "starts_on": starts.isoformat(),
        "ends_on": (starts + dt.timedelta(days=300)).isoformat(),
        "milestones": [
            {
                "name": "首期服务交付",
                "due_on": (starts + dt.timedelta(days=20)).isoformat(),
                "amount_fen": amount_fen * 4 // 10,
                "kind": "delivery",
            },
            {
                "name": "中期评估",
                "due_on": (starts + dt.timedelta(days=150)).isoformat(),
                "amount_fen": amount_fen * 3 // 10,
                "kind": "assessment",
            },
            {
                "name": "末期验收",
                "due_on": (starts + dt.timedelta(days=300)).isoformat(),
                "amount_fen": amount_fen - amount_fen * 4 // 10 - amount_fen * 3 // 10,
                "kind": "payment",
            },
        ],
    }
    body.update(over)
    return body


async def signed_contract(
    client: Any, auth: Any, line: int, org_id: int, amount_fen: int, **over: Any
) -> dict[str, Any]:
    p = await awarded_procurement(client, auth, line, org_id=org_id, price_fen=amount_fen)
    r = await client.post(
        "/api/v1/contracts", json=contract_body(p["id"], org_id, amount_fen, **over), headers=await auth("procurement")
    )
    assert r.status_code == 201, r.text
    return r.json()


async def accept(client: Any, auth: Any, contract: dict[str, Any], seq: int, **extra: Any) -> Any:
    mid = contract["milestones"][seq]["id"]
    body = {"evidence": [{"name": "服务台账.pdf"}], "note": "资料齐全"}
    body.update(extra)
    return await client.post(
        f"/api/v1/contracts/{contract['id']}/milestones/{mid}/accept", json=body, headers=await auth("procurement")
    )
