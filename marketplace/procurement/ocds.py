"""A contract as an Open Contracting Data Standard (OCDS 1.1) release package.

Amounts are ``{"amount": <yuan>, "currency": "CNY"}`` where the yuan figure is converted from fen exactly
(a ``Decimal`` written as a JSON number, never through a float).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.procurement.contracts import amendments_of, contract_money, payments_of, read_contract
from marketplace.procurement.models import Bid, Contract, Procurement
from marketplace.procurement.rules import METHODS, SINGLE_SOURCE_GROUNDS, get_rules
from marketplace.procurement.service import approvals_of, get_procurement
from marketplace.resources.models import Organization

OCDS_METHOD: Final[dict[str, str]] = {
    "open_tender": "open",
    "invited_tender": "selective",
    "competitive_negotiation": "limited",
    "competitive_consultation": "limited",
    "request_for_quotation": "limited",
    "single_source": "direct",
}
OCDS_VERSION: Final = "1.1"
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def value(fen: int) -> dict[str, Any]:
    return {"amount": Decimal(fen).scaleb(-2), "currency": "CNY"}


def stamp(day: dt.date) -> str:
    """A district date as the start of that day in China Standard Time (RFC 3339)."""
    return f"{day.isoformat()}T00:00:00+08:00"


def instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def party_id(org: Organization) -> str:
    return f"CN-USCC-{org.credit_code}"


def organization_party(org: Organization, roles: list[str]) -> dict[str, Any]:
    return {
        "id": party_id(org),
        "name": org.name,
        "identifier": {"scheme": "CN-USCC", "id": org.credit_code, "legalName": org.name},
        "contactPoint": {"name": org.contact_name, "telephone": org.contact_phone},
        "roles": roles,
    }


async def release_package(session: AsyncSession, principal: Principal, contract_id: int, uri: str) -> bytes:
    contract = await read_contract(session, principal, contract_id)
    procurement = await get_procurement(session, contract.procurement_id)
    return _ENCODER.encode(await build_package(session, contract, procurement, uri))


async def build_package(
    session: AsyncSession, contract: Contract, procurement: Procurement, uri: str
) -> dict[str, Any]:
    rules = get_rules()
    ocid = f"{rules.ocid_prefix}{procurement.id}"
    bids = list(
        (
            await session.execute(
                select(Bid, Organization).join(Organization).where(Bid.procurement_id == procurement.id)
            )
        ).all()
    )
    supplier = await session.get(Organization, contract.organization_id)
    assert supplier is not None
    state = await contract_money(session, contract)
    payments = await payments_of(session, contract.id)
    amendments = await amendments_of(session, contract.id)
    approvals = (await approvals_of(session, [procurement.id]))[procurement.id]
    buyer = {"id": "CN-FUTIAN-MZJ", "name": rules.buyer_name}
    parties: list[dict[str, Any]] = [{**buyer, "roles": ["buyer", "procuringEntity", "payer"]}]
    for _, org in bids:
        roles = ["tenderer"] + (["supplier", "payee"] if org.id == supplier.id else [])
        parties.append(organization_party(org, roles))
    if all(org.id != supplier.id for _, org in bids):
        parties.append(organization_party(supplier, ["supplier", "payee"]))
    supplier_ref = {"id": party_id(supplier), "name": supplier.name}
    rationale = procurement.justification
    if procurement.single_source_ground:
        rationale = f"{SINGLE_SOURCE_GROUNDS[procurement.single_source_ground]}。{rationale}".strip("。")
    if approvals:
        rationale = f"{rationale}（审批文号：{'、'.join(a.document_no for a in approvals)}）".strip()
    award_id = f"{ocid}-award-{procurement.awarded_bid_id}"
    changed = max([contract.updated_at, procurement.updated_at] + [p.created_at for p in payments])
    tender: dict[str, Any] = {
        "id": f"{ocid}-tender",
        "title": procurement.title,
        "status": "complete",
        "procuringEntity": buyer,
        "value": value(procurement.estimated_fen),
        "procurementMethod": OCDS_METHOD[procurement.method],
        "procurementMethodDetails": METHODS[procurement.method],
        "mainProcurementCategory": "services",
        "numberOfTenderers": len(bids),
        "tenderers": [{"id": party_id(org), "name": org.name} for _, org in bids],
        "items": [
            {"id": code, "description": code, "classification": {"scheme": "CN-FT-SERVICE", "id": code}}
            for code in procurement.service_categories
        ],
    }
    if rationale:
        tender["procurementMethodRationale"] = rationale
    award: dict[str, Any] = {
        "id": award_id,
        "title": procurement.title,
        "status": "active",
        "suppliers": [supplier_ref],
        "value": value(next((b.price_fen for b, _ in bids if b.id == procurement.awarded_bid_id), contract.amount_fen)),
    }
    if procurement.awarded_on:
        award["date"] = stamp(procurement.awarded_on)
    if procurement.publicity_ends_on and procurement.awarded_on:
        tender["standstillPeriod"] = {
            "startDate": stamp(procurement.awarded_on),
            "endDate": stamp(procurement.publicity_ends_on),
        }
    milestones = [
        {
            "id": str(m.id),
            "title": m.name,
            "type": m.kind,
            "dueDate": stamp(m.due_on),
            "status": "met" if m.status == "accepted" else "scheduled",
            **({"dateMet": stamp(m.accepted_on)} if m.accepted_on else {}),
            **({"value": value(m.amount_fen)} if m.amount_fen else {}),
        }
        for m in contract.milestones
    ]
    ocds_contract: dict[str, Any] = {
        "id": f"{ocid}-contract-{contract.id}",
        "awardID": award_id,
        "title": contract.title,
        "status": {"active": "active", "completed": "terminated", "terminated": "terminated"}[contract.status],
        "period": {"startDate": stamp(contract.starts_on), "endDate": stamp(contract.ends_on)},
        "value": value(state.amount_fen),
        "dateSigned": stamp(contract.signed_on),
        "milestones": milestones,
        "implementation": {
            "transactions": [
                {
                    "id": str(p.id),
                    "source": f"{ocid}-budget-line-{p.line_id}",
                    "date": stamp(p.paid_on),
                    "value": value(p.amount_fen),
                    "payer": buyer,
                    "payee": supplier_ref,
                }
                for p in payments
            ]
        },
    }
    if amendments:
        ocds_contract["amendments"] = [
            {
                "id": str(a.id),
                "date": instant(a.created_at),
                "rationale": a.reason,
                "description": f"合同金额变更 {'+' if a.delta_fen > 0 else '-'}"
                f"{Decimal(abs(a.delta_fen)).scaleb(-2)}元" + (f"（{a.document_no}）" if a.document_no else ""),
            }
            for a in amendments
        ]
    release = {
        "ocid": ocid,
        "id": f"{ocid}-contract-{contract.id}-{instant(changed)}",
        "date": instant(changed),
        "tag": ["award", "contract"] + (["implementation"] if payments else []),
        "initiationType": "tender",
        "language": "zh",
        "parties": parties,
        "buyer": buyer,
        "planning": {
            "budget": {
                "id": f"budget-line-{contract.budget_line_id}",
                "description": f"{procurement.fiscal_year}年未成年人保护专项资金",
                "amount": value(procurement.estimated_fen),
            }
        },
        "tender": tender,
        "awards": [award],
        "contracts": [ocds_contract],
    }
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": instant(changed),
        "publisher": {"name": rules.buyer_name},
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "publicationPolicy": "https://www.szft.gov.cn/",
        "releases": [release],
    }
