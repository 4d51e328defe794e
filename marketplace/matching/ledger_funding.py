"""The funding port over procurement's contracts and the funds' books (matching sits above both)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.funds import service as funds
from marketplace.funds.models import Fund, LedgerAccount
from marketplace.matching.facts import chunks
from marketplace.matching.funding import ContractOffer, FundingSources, FundOffer
from marketplace.matching.scoring import NeedFacts, ServiceFacts
from marketplace.procurement.contracts import contracts_covering
from marketplace.procurement.models import Contract


class LedgerFunding:
    async def available(
        self, session: AsyncSession, need: NeedFacts, services: Sequence[ServiceFacts], on: dt.date
    ) -> FundingSources:
        sources = FundingSources()
        for org_id in sorted(await _orgs_with_contracts(session, [s.organization_id for s in services], on)):
            covers = await contracts_covering(session, organization_id=org_id, category=need.category, on=on)
            if covers:
                sources.contracts[org_id] = [ContractOffer(c.id, c.title or "", c.remaining_fen) for c in covers]
        sources.offers = await _fund_offers(session, need, None)
        for service_id in sorted(await _services_with_designated_money(session, [s.service_id for s in services])):
            sources.service_offers[service_id] = await _fund_offers(session, need, service_id)
        return sources

    def may_pay(self, conn: Connection, services: Sequence[ServiceFacts], on: dt.date) -> bool:
        """No fund at all (so no fund money, designated or not) and no contract in force with any of the services'
        providers: ``available`` would find nothing."""
        if not services:
            return False
        if conn.execute(ANY_FUND).first() is not None:
            return True
        for chunk in chunks(sorted({s.organization_id for s in services})):
            if conn.execute(ANY_CONTRACT_IN_FORCE, {"ids": list(chunk), "on": on}).first() is not None:
                return True
        return False


def _contracts_in_force(org_ids: Any, on: Any) -> Any:
    return select(Contract.organization_id).where(
        Contract.organization_id.in_(org_ids),
        Contract.status == "active",
        Contract.starts_on <= on,
        Contract.ends_on >= on,
    )


ANY_FUND = select(Fund.id).limit(1)
ANY_CONTRACT_IN_FORCE = _contracts_in_force(bindparam("ids", expanding=True), bindparam("on")).limit(1)


async def _fund_offers(session: AsyncSession, need: NeedFacts, service_id: int | None) -> list[FundOffer]:
    options = await funds.funding_available(
        session,
        category=need.category,
        street_id=need.street_id,
        service_id=service_id,
        child_categories=sorted(need.child_categories),
    )
    return [
        FundOffer(o.fund_id, o.purpose, o.available_fen, o.restricted, o.fund_kind, o.fund_name, o.project_title)
        for o in options
    ]


async def _orgs_with_contracts(session: AsyncSession, org_ids: Sequence[int], on: dt.date) -> set[int]:
    """The organizations that hold any contract in force on the day: only they can have one covering a need."""
    found: set[int] = set()
    for chunk in chunks(sorted(set(org_ids))):
        rows = await session.scalars(_contracts_in_force(chunk, on).distinct())
        found.update(rows.all())
    return found


async def _services_with_designated_money(session: AsyncSession, service_ids: Sequence[int]) -> set[int]:
    """Services some donor designated money to (a ``fund:F:income:service:<id>`` account exists)."""
    wanted = set(service_ids)
    if not wanted:
        return set()
    codes = await session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.like("fund:%:income:service:%")))
    found = set()
    for code in codes.all():
        tail = code.rpartition(":")[2]
        if tail.isdigit() and int(tail) in wanted:
            found.add(int(tail))
    return found
