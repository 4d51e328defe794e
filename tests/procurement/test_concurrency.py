"""Concurrent commitments queue on the budget line's row lock: the line is never overspent."""

from __future__ import annotations

import asyncio

from marketplace.auth.principal import Principal
from marketplace.procurement import service
from marketplace.procurement.schemas import AwardIn, BidIn, BudgetIn, BudgetLineIn, ProcurementIn
from tests.conftest import Auth
from tests.procurement.helpers import PAST_AWARD, TODAY, contract_body

AMOUNT = 1_000_000
N = 50


async def test_fifty_concurrent_contracts_against_room_for_three(client, auth: Auth, db, world) -> None:
    officer = Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")
    org = world.orgs[0]
    async with db.session() as session:
        room = 3 * AMOUNT + AMOUNT - 1
        budget = await service.create_budget(
            session,
            officer,
            BudgetIn(
                name="并发",
                fiscal_year=TODAY.year,
                total_fen=room,
                lines=[BudgetLineIn(code="purchase_services", name="购买服务", appropriation_fen=room)],
            ),
        )
        line = budget.lines[0].id
        ids = []
        for i in range(N):
            p = await service.create_procurement(
                session,
                officer,
                ProcurementIn(
                    budget_line_id=line,
                    title=f"项目{i}",
                    method="open_tender",
                    estimated_fen=AMOUNT,
                    service_categories=[f"{'hotline' if i % 2 else 'legal_aid'}"],
                ),
            )
            await service.add_bid(session, officer, p.id, BidIn(organization_id=org, price_fen=AMOUNT))
            await service.award(session, officer, p.id, AwardIn(awarded_on=PAST_AWARD))
            ids.append(p.id)
    headers = await auth("procurement")
    responses = await asyncio.gather(
        *(client.post("/api/v1/contracts", json=contract_body(pid, org, AMOUNT), headers=headers) for pid in ids)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 3, codes
    assert codes.count(409) == N - 3, codes
    budget_view = (await client.get(f"/api/v1/budgets/{budget.id}", headers=headers)).json()
    assert budget_view["lines"][0]["committed_fen"] == 3 * AMOUNT
    assert budget_view["lines"][0]["available_fen"] == AMOUNT - 1
    assert (await client.get("/api/v1/contracts", headers=headers)).json()["total"] == 3
