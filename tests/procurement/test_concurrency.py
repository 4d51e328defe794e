"""Concurrent approvals and openings queue on the budget line's row lock: two can never take the same room.

On PostgreSQL each request holds ``SELECT ... FOR UPDATE`` on the line while it reads the line's sums (holds
included) and writes its hold; on SQLite writers are serialised by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from marketplace.auth.principal import Principal
from marketplace.procurement import service
from marketplace.procurement.schemas import BudgetIn, BudgetLineIn, ProcurementIn
from tests.conftest import Auth
from tests.procurement.helpers import APPROVED_ON, TODAY

AMOUNT = 1_000_000
N = 50
ROOM = 3 * AMOUNT + AMOUNT - 1


def officer(world: Any) -> Principal:
    return Principal(user_id=world.users["procurement"], username="procurement", role="procurement_officer")


def procurement(line: int, i: int, method: str) -> ProcurementIn:
    return ProcurementIn(
        budget_line_id=line,
        title=f"项目{i}",
        method=method,
        estimated_fen=AMOUNT,
        service_categories=["hotline" if i % 2 else "legal_aid"],
        justification="" if method == "open_tender" else "专业服务，供应商有限",
    )


async def room_for_three(db: Any, world: Any) -> tuple[int, int]:
    async with db.session() as session:
        budget = await service.create_budget(
            session,
            officer(world),
            BudgetIn(
                name="并发",
                fiscal_year=TODAY.year,
                total_fen=ROOM,
                lines=[BudgetLineIn(code="purchase_services", name="购买服务", appropriation_fen=ROOM)],
            ),
        )
        return budget.id, budget.lines[0].id


async def line_view(client: Any, headers: dict[str, str], budget_id: int) -> dict[str, Any]:
    line: dict[str, Any] = (await client.get(f"/api/v1/budgets/{budget_id}", headers=headers)).json()["lines"][0]
    return line


async def test_fifty_concurrent_approvals_against_room_for_three(client, auth: Auth, db, world) -> None:
    budget_id, line = await room_for_three(db, world)
    ids = []
    async with db.session() as session:
        # Opening a non-open method checks the room but holds nothing: all fifty fit one by one.
        for i in range(N):
            p = await service.create_procurement(
                session, officer(world), procurement(line, i, "competitive_consultation")
            )
            ids.append(p.id)
    admin = await auth("admin")
    body = {"document_no": "福民采审〔2026〕9号", "approved_on": APPROVED_ON.isoformat()}
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/procurements/{pid}/approve", json=body, headers=admin) for pid in ids)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 3, codes
    assert codes.count(409) == N - 3, codes
    refused = next(r for r in responses if r.status_code == 409).json()
    assert "可用额度不足" in refused["detail"] and refused["available_fen"] == AMOUNT - 1
    headers = await auth("procurement")
    view = await line_view(client, headers, budget_id)
    assert (view["held_fen"], view["committed_fen"], view["available_fen"]) == (3 * AMOUNT, 0, AMOUNT - 1)
    approved = (await client.get("/api/v1/procurements?limit=100", headers=headers)).json()["items"]
    assert sorted(p["held_fen"] for p in approved) == [0] * (N - 3) + [AMOUNT] * 3
    assert sum(1 for p in approved if p["approvals"]) == 3  # a refused approval leaves no approval behind


async def test_fifty_concurrent_open_tenders_against_room_for_three(client, auth: Auth, db, world) -> None:
    budget_id, line = await room_for_three(db, world)
    headers = await auth("procurement")
    bodies = [
        {
            "budget_line_id": line,
            "title": f"项目{i}",
            "method": "open_tender",
            "estimated_fen": AMOUNT,
            "service_categories": ["hotline"],
        }
        for i in range(N)
    ]
    responses = await asyncio.gather(*(client.post("/api/v1/procurements", json=b, headers=headers) for b in bodies))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 3, codes
    assert codes.count(409) == N - 3, codes
    view = await line_view(client, headers, budget_id)
    assert (view["held_fen"], view["available_fen"]) == (3 * AMOUNT, AMOUNT - 1)
    assert (await client.get("/api/v1/procurements", headers=headers)).json()["total"] == 3
