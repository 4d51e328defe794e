"""Money for the console's dashboards, made through the APIs: a budget with a signed contract, a fund with gifts
and a disbursement."""

from __future__ import annotations

from typing import Any

from marketplace import clock
from marketplace.funds import service as funds
from tests.procurement.helpers import line_id, make_budget, signed_contract


async def budget_with_contract(client: Any, auth: Any, world: Any) -> dict[str, Any]:
    budget = await make_budget(client, await auth("procurement"))
    contract = await signed_contract(client, auth, line_id(budget, "purchase_services"), world.orgs[0], 1_000_000)
    return {"budget": budget, "contract": contract}


async def fund_with_gifts(client: Any, auth: Any, db: Any, world: Any) -> int:
    async with db.session() as s:
        fund = await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区关爱儿童公益基金")
        fund_id = fund.id
    fm = await auth("fund")
    svc = world.services[0]
    gifts = [
        {
            "amount_fen": 100_000,
            "channel": "bank_transfer",
            "reference": "BANK-0001",
            "donor": {"name": "深圳市某某科技有限公司", "kind": "enterprise"},
            "designation": {"service_id": svc},
        },
        {"amount_fen": 20_000, "channel": "cash", "donor": {"name": "王先生"}},
    ]
    for gift in gifts:
        body = {"fund_id": fund_id, "received_on": clock.today().isoformat(), **gift}
        r = await client.post("/api/v1/donations/offline", json=body, headers=fm)
        assert r.status_code == 201, r.text
    spend = {"amount_fen": 60_000, "purpose": f"service:{svc}", "service_id": svc, "memo": "心理疏导 6 个案"}
    r = await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=spend, headers=fm)
    assert r.status_code == 201, r.text
    return fund_id
