"""The demo loads the 380万元 budget, two procurements carried to contract, a failed tender, and payments within
the lines; its dates obey the procurement rules."""

from __future__ import annotations

from marketplace.procurement import demo
from tests.conftest import Auth


async def test_demo_loads_budget_contracts_and_payments(client, auth: Auth, db, world) -> None:
    ctx = {"organizations": list(dict.fromkeys(world.orgs + world.suppliers)), "users": dict(world.users)}
    async with db.session() as session:
        await demo.load(session, ctx)
    officer = await auth("procurement")
    budget = (await client.get(f"/api/v1/budgets/{ctx['budget_id']}", headers=officer)).json()
    assert budget["total_fen"] == budget["appropriation_fen"] == 380_000_000
    assert len(budget["lines"]) == 6
    procurements = (await client.get("/api/v1/procurements", headers=officer)).json()["items"]
    assert sorted((p["method"], p["status"]) for p in procurements) == [
        ("competitive_consultation", "contracted"),
        ("open_tender", "contracted"),
        ("open_tender", "failed"),
    ]
    for p in procurements:
        if p["status"] == "contracted":
            assert max(a["approved_on"] for a in p["approvals"] or [{"approved_on": ""}]) <= p["awarded_on"]
            assert p["awarded_on"] <= p["announced_on"] < p["publicity_ends_on"]
            assert len(p["bids"]) >= p["minimum_suppliers"]
        else:
            assert p["held_fen"] == p["committed_fen"] == 0 and p["end_reason"]
    contracts = (await client.get("/api/v1/contracts", headers=officer)).json()["items"]
    assert len(contracts) == 2
    assert all(c["paid_fen"] > 0 and c["paid_fen"] <= c["accepted_fen"] for c in contracts)
    services = next(x for x in budget["lines"] if "services" in x["code"])
    assert services["committed_fen"] == sum(c["amount_fen"] for c in contracts)
    assert services["paid_fen"] == sum(c["paid_fen"] for c in contracts)
    for line in budget["lines"]:
        assert 0 <= line["paid_fen"] <= line["committed_fen"] <= line["appropriation_fen"]
        assert line["held_fen"] == 0
    ocds = await client.get(f"/api/v1/contracts/{contracts[0]['id']}/ocds", headers=officer)
    assert ocds.status_code == 200
