"""Who pays for a case: the funding a need's candidates could draw on, and the choice among them.

Matching reads what is available through the ``FundingPort`` (the default adapter, ``ledger_funding``, reads
procurement's contracts and the public-welfare fund's books); ``choose_funding`` is the policy.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.matching import scoring
from marketplace.matching.scoring import FundingFacts, NeedFacts, ServiceFacts

log = logging.getLogger("marketplace.matching")


@dataclass(frozen=True, slots=True)
class ContractOffer:
    """A purchase contract in force with the provider that covers the need's category."""

    contract_id: int
    title: str
    remaining_fen: int | None  # what the contract has not yet paid out; None when unknown


@dataclass(frozen=True, slots=True)
class FundOffer:
    """Money a fund holds for a purpose that fits the need (or unrestricted money)."""

    fund_id: int
    purpose: str
    available_fen: int
    restricted: bool
    fund_kind: str = "public_welfare"
    fund_name: str = ""
    project_title: str = ""  # a micro-project's title (民生微实事项目), for the money it holds


# The charity resources in the order a plan draws on them (after a covering purchase contract): the street's
# micro-project money first, because it is already allocated and held for a project buying exactly this category
# of service in the child's street (立项), and unspent money of a project goes back to the district's year-end; then
# the street's foundation, raised in and for that street; the district's public-welfare fund last, since it serves
# every street and keeps what the streets' own money cannot pay.
KIND_PREFERENCE = {"micro_project": 0, "street_foundation": 1, "public_welfare": 2}
KIND_LABELS = {"micro_project": "民生微实事", "street_foundation": "街道基金会", "public_welfare": "公益基金"}


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


@dataclass
class FundingSources:
    """Every payer that could cover the pool's candidates for one need, read with a few queries for the
    whole pool rather than a few per candidate."""

    # organization id -> covering contracts, in procurement's order
    contracts: dict[int, list[ContractOffer]] = field(default_factory=dict)
    # fund money for the need's category, street and the unrestricted purpose, most specific first
    offers: list[FundOffer] = field(default_factory=list)
    # service id -> offers that include money designated to that service
    service_offers: dict[int, list[FundOffer]] = field(default_factory=dict)


class FundingPort(Protocol):
    async def available(
        self, session: AsyncSession, need: NeedFacts, services: Sequence[ServiceFacts], on: dt.date
    ) -> FundingSources:
        """The funding available on the day for the need at each of the services (which all cost money)."""
        ...

    def may_pay(self, conn: Connection, services: Sequence[ServiceFacts], on: dt.date) -> bool:
        """False only when ``available`` would find no payer at all for any of the services on the day (no
        question of the need asked): a cheap check the match endpoint makes in its one read, so that a district
        without funds or contracts in force costs no further round trip."""
        ...


async def funding_sources(
    session: AsyncSession, need: NeedFacts, services: Sequence[ServiceFacts], on: dt.date, port: FundingPort
) -> FundingSources:
    paid = [s for s in services if s.cost_per_case_fen > 0]
    if not paid:
        return FundingSources()
    try:
        return await port.available(session, need, paid, on)
    except Exception:
        # The plan then shows what each provider declared; a match is still worth answering.
        log.exception("reading the available funding failed; matching continues with declared funding")
        return FundingSources()


def choose_funding(svc: ServiceFacts, sources: FundingSources) -> tuple[FundingFacts, dict[str, Any]]:
    """Who pays for one case: free, else a purchase contract with money left for it, else the street's
    micro-project held for the category, the street's foundation, the public-welfare fund (restricted money before
    unrestricted within each); else what the provider declared. A payer that has less than the
    case costs is offered only when no payer covers it all, and never for more than it has."""
    cost = svc.cost_per_case_fen
    if cost == 0:
        return FundingFacts("free", 0, True), {"source": "free", "covered_fen": 0, "cost_fen": 0, "label": "免费"}
    for contract in sources.contracts.get(svc.organization_id, []):
        if contract.remaining_fen is not None and contract.remaining_fen < cost:
            continue  # a contract whose unpaid amount cannot pay for this case is no payer for it
        return FundingFacts("contract", cost, True), {
            "source": "contract",
            "contract_id": contract.contract_id,
            "contract_title": contract.title,
            "covered_fen": cost,
            "cost_fen": cost,
            "label": "政府购买服务合同",
        }
    usable = []
    offers = sources.service_offers.get(svc.service_id, sources.offers)
    for order, offer in enumerate(offers):
        if offer.available_fen > 0:
            # A purse that covers the whole case first (a part-paid case still needs another payer); then by the
            # kind of fund (KIND_PREFERENCE); within one kind, restricted money meant for this before unrestricted,
            # in the fund's own order of specificity.
            usable.append(
                (
                    offer.available_fen < cost,
                    KIND_PREFERENCE.get(offer.fund_kind, 3),
                    not offer.restricted,
                    order,
                    offer,
                )
            )
    if usable:
        usable.sort(key=lambda u: u[:4])
        chosen = usable[0][4]
        covered = min(chosen.available_fen, cost)
        if chosen.fund_kind == "micro_project":
            source, label = "micro_project", f"民生微实事项目“{chosen.project_title}”"
        elif chosen.fund_kind == "street_foundation":
            source, label = "street_foundation", "街道基金会" + ("（定向）" if chosen.restricted else "")
        else:
            source = "restricted_donation" if chosen.restricted else "unrestricted_fund"
            label = "定向捐赠" if chosen.restricted else "公益基金（非定向）"
        funding: dict[str, Any] = {
            "source": source,
            "fund_id": chosen.fund_id,
            "purpose": chosen.purpose or "unrestricted",
            "covered_fen": covered,
            "cost_fen": cost,
            "label": label if covered >= cost else f"{label}（仅覆盖部分费用）",
        }
        if chosen.fund_name:
            # The fund by name and kind, with what it has: "福田街道慈善基金会 可用 ¥12,300.00".
            funding["fund_kind"] = chosen.fund_kind
            funding["fund_kind_label"] = KIND_LABELS.get(chosen.fund_kind, chosen.fund_kind)
            funding["fund_name"] = chosen.fund_name
            funding["available_fen"] = chosen.available_fen
            funding["fund_label"] = f"{chosen.fund_name} 可用 {_yuan(chosen.available_fen)}"
        return FundingFacts("restricted_donation" if chosen.restricted else "unrestricted_fund", covered, True), funding
    declared = scoring.declared_funding(svc)
    if declared.source == "self_funded":
        return declared, {"source": "self_funded", "covered_fen": cost, "cost_fen": cost, "label": "机构自筹"}
    return declared, {
        "source": "unfunded" if declared.source == "unfunded" else f"declared:{declared.source}",
        "covered_fen": 0,
        "cost_fen": cost,
        "label": "尚无确认的资金来源",
    }


async def confirm_funding(
    session: AsyncSession, svc: ServiceFacts, need: NeedFacts, on: dt.date, port: FundingPort
) -> tuple[FundingFacts, dict[str, Any]]:
    """Who pays for one case (see choose_funding)."""
    return choose_funding(svc, await funding_sources(session, need, [svc], on, port))
