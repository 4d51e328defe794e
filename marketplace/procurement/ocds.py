"""A procurement as Open Contracting Data Standard (OCDS 1.1.5) releases, a release package and a record package.

Every change makes its own release: the tender, the award, each contract's signing, each accepted milestone, each
payment and each amendment, a contract's early termination (``contractTermination``: the contract's status
``terminated``, its period ending on the termination date, the date and reason in its description and in an
amendment ``termination-<contract id>``), and the end of a procurement cancelled or failed (``tenderCancellation``, the tender's
status ``cancelled`` or ``unsuccessful``). A release has a stable id derived from the row it reports (``{ocid}-payment-7``) and
its own date, and carries the state of the process as it stood after that change (a cumulative snapshot), so a
record compiles the same from the releases in any order. Dates are the business dates of the changes (a district
date is the start of that day in China Standard Time) and strictly increase along the process: a change that falls
on the same instant as the one before it is dated one second later.

Only fields of the 1.1.5 core schema are used, so the packages declare no extension: the award publicity period and
a milestone's payment amount are written into descriptions. Organizations are identified by their 统一社会信用代码
under the org-id scheme ``CN-USCI``. Amounts are ``{"amount": <yuan>, "currency": "CNY"}`` where the yuan figure is
converted from fen exactly (a ``Decimal`` written as a JSON number, never through a float).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace.procurement.contracts import amendments_of, payments_of
from marketplace.procurement.models import Bid, Contract, ContractAmendment, Payment, Procurement
from marketplace.procurement.rules import METHODS, SINGLE_SOURCE_GROUNDS, get_rules
from marketplace.procurement.service import approvals_of
from marketplace.resources.models import Organization
from marketplace.resources.taxonomy import SERVICE_CATEGORIES

OCDS_METHOD: Final[dict[str, str]] = {
    "open_tender": "open",
    "invited_tender": "selective",
    "competitive_negotiation": "limited",
    "competitive_consultation": "limited",
    "request_for_quotation": "limited",
    "single_source": "direct",
}
OCDS_VERSION: Final = "1.1"
ORG_SCHEME: Final = "CN-USCI"  # org-id.guide: 统一社会信用代码 (Unified Social Credit Identifier)
LICENSE: Final = "https://creativecommons.org/licenses/by/4.0/"
POLICY: Final = "https://www.szft.gov.cn/"
CHINA: Final = dt.timezone(dt.timedelta(hours=8))
ENCODER = msgspec.json.Encoder(decimal_format="number")
# A procurement that ended without a contract: cancelled by the buyer (终止) or failed (废标, too few suppliers).
ENDED: Final[dict[str, str]] = {"cancelled": "cancelled", "failed": "unsuccessful"}
ENDED_LABELS: Final[dict[str, str]] = {"cancelled": "采购终止", "failed": "采购失败（废标）"}
_STEP: Final = dt.timedelta(seconds=1)


def value(fen: int) -> dict[str, Any]:
    return {"amount": Decimal(fen).scaleb(-2), "currency": "CNY"}


def yuan_text(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2)}元"


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA)


def stamp(day: dt.date) -> str:
    """A district date as the start of that day in China Standard Time (RFC 3339)."""
    return f"{day.isoformat()}T00:00:00+08:00"


def instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def party_id(org: Organization) -> str:
    return f"{ORG_SCHEME}-{org.credit_code}"


def organization_party(org: Organization, roles: list[str]) -> dict[str, Any]:
    """An organization as open data: its name, credit code and registered address. No ``contactPoint``: the only
    contact the model holds is the organization's contact person and their phone (``contact_name``,
    ``contact_phone``, often a personal mobile), which open data never publishes; the model has no public phone or
    e-mail of the organization to put there instead."""
    party: dict[str, Any] = {
        "id": party_id(org),
        "name": org.name,
        "identifier": {"scheme": ORG_SCHEME, "id": org.credit_code, "legalName": org.name},
        "roles": roles,
    }
    if org.address.strip():
        party["address"] = {"streetAddress": org.address.strip(), "countryName": "中国"}
    return party


def buyer_party() -> dict[str, Any]:
    """The district civil-affairs bureau, identified by its credit code when the settings give one."""
    rules = get_rules()
    code = rules.buyer_credit_code.strip()
    if code:
        return {
            "id": f"{ORG_SCHEME}-{code}",
            "name": rules.buyer_name,
            "identifier": {"scheme": ORG_SCHEME, "id": code, "legalName": rules.buyer_name},
        }
    return {"id": "CN-FUTIAN-MZJ", "name": rules.buyer_name, "identifier": {"legalName": rules.buyer_name}}


@dataclass(frozen=True)
class Change:
    """One change of the process, which makes one release."""

    kind: str  # tender | award | contract | milestone | payment | amendment | termination | cancellation
    key: int
    when: dt.datetime
    tags: tuple[str, ...]
    contract_id: int | None = None


@dataclass
class Process:
    """Everything a procurement's releases are made of, read once."""

    procurement: Procurement
    bids: list[tuple[Bid, Organization]]
    contracts: list[tuple[Contract, Organization]]
    payments: dict[int, list[Payment]] = field(default_factory=dict)
    amendments: dict[int, list[ContractAmendment]] = field(default_factory=dict)
    approvals: list[str] = field(default_factory=list)


async def load_process(session: AsyncSession, procurement: Procurement) -> Process:
    bids = [
        (bid, org)
        for bid, org in (
            await session.execute(
                select(Bid, Organization)
                .join(Organization)
                .where(Bid.procurement_id == procurement.id)
                .order_by(Bid.id)
            )
        ).all()
    ]
    contracts = [
        (contract, org)
        for contract, org in (
            await session.execute(
                select(Contract, Organization)
                .join(Organization, Organization.id == Contract.organization_id)
                .where(Contract.procurement_id == procurement.id)
                .options(selectinload(Contract.milestones))
                .order_by(Contract.id)
            )
        ).all()
    ]
    process = Process(procurement, bids, contracts)
    for contract, _ in contracts:
        process.payments[contract.id] = await payments_of(session, contract.id)
        process.amendments[contract.id] = await amendments_of(session, contract.id)
    approvals = (await approvals_of(session, [procurement.id]))[procurement.id]
    process.approvals = [a.document_no for a in approvals]
    return process


def changes_of(process: Process) -> list[Change]:
    """The process's changes in order, each with its own strictly later date."""
    p = process.procurement
    steps: list[Change] = []
    if p.awarded_bid_id is not None:
        awarded = day_start(p.awarded_on) if p.awarded_on else p.updated_at
        steps.append(Change("award", p.awarded_bid_id, awarded, ("award",)))
    for contract, _ in process.contracts:
        steps.append(Change("contract", contract.id, day_start(contract.signed_on), ("contract",), contract.id))
        later: list[tuple[dt.datetime, int, Change]] = []
        for m in contract.milestones:
            if m.accepted_on is not None:
                when = day_start(m.accepted_on)
                later.append((when, 0, Change("milestone", m.id, when, ("implementation",), contract.id)))
        for pay in process.payments.get(contract.id, []):
            when = day_start(pay.paid_on)
            later.append((when, 1, Change("payment", pay.id, when, ("implementation",), contract.id)))
        for a in process.amendments.get(contract.id, []):
            later.append(
                (a.created_at, 2, Change("amendment", a.id, a.created_at, ("contractAmendment",), contract.id))
            )
        if contract.status == "terminated" and contract.terminated_on is not None:
            # 解除合同: its own release (tag contractTermination), on the day it took effect.
            when = day_start(contract.terminated_on)
            later.append((when, 3, Change("termination", contract.id, when, ("contractTermination",), contract.id)))
        steps.extend(change for _, _, change in sorted(later, key=lambda x: (x[0], x[1], x[2].key)))
    if p.status in ENDED:
        # 终止 or 采购失败: the tender's last release (tenderCancellation), after everything before it.
        ended = day_start(p.ended_on) if p.ended_on else p.updated_at
        steps.append(Change("cancellation", p.id, ended, ("tenderCancellation",)))
    opened = min([p.created_at] + [c.when - _STEP for c in steps])
    ordered = [Change("tender", p.id, opened, ("tender",)), *steps]
    dated: list[Change] = []
    for change in ordered:
        own = change.when.replace(microsecond=0)
        when = own if not dated else max(own, dated[-1].when + _STEP)
        dated.append(Change(change.kind, change.key, when, change.tags, change.contract_id))
    return dated


def _release(process: Process, done: Sequence[Change], last: bool) -> dict[str, Any]:
    """The state of the process after the changes ``done`` (the last of which this release reports)."""
    p = process.procurement
    rules = get_rules()
    ocid = f"{rules.ocid_prefix}{p.id}"
    seen = {(c.kind, c.key) for c in done}
    buyer = buyer_party()
    buyer_ref = {"id": buyer["id"], "name": buyer["name"]}
    awarded = ("award", p.awarded_bid_id) in seen
    signed = [(c, org) for c, org in process.contracts if ("contract", c.id) in seen]
    suppliers = {org.id for _, org in signed}
    winner = next((org for bid, org in process.bids if bid.id == p.awarded_bid_id), None)
    if awarded and winner is not None:
        suppliers.add(winner.id)
    parties: list[dict[str, Any]] = [{**buyer, "roles": ["buyer", "procuringEntity", "payer"]}]
    listed: set[int] = set()
    for _, org in process.bids:
        if org.id not in listed:
            listed.add(org.id)
            parties.append(
                organization_party(org, ["tenderer"] + (["supplier", "payee"] if org.id in suppliers else []))
            )
    for _, org in signed:
        if org.id not in listed:
            listed.add(org.id)
            parties.append(organization_party(org, ["supplier", "payee"]))
    rationale = p.justification
    if p.single_source_ground:
        rationale = f"{SINGLE_SOURCE_GROUNDS[p.single_source_ground]}。{rationale}".strip("。")
    if process.approvals:
        rationale = f"{rationale}（审批文号：{'、'.join(process.approvals)}）".strip()
    ended = ("cancellation", p.id) in seen
    tender_status = ENDED[p.status] if ended else ("complete" if awarded else "active")
    tender: dict[str, Any] = {
        "id": f"{ocid}-tender",
        "title": p.title,
        "status": tender_status,
        "procuringEntity": buyer_ref,
        "value": value(p.estimated_fen),
        "procurementMethod": OCDS_METHOD[p.method],
        "procurementMethodDetails": METHODS[p.method],
        "mainProcurementCategory": "services",
        "numberOfTenderers": len(process.bids),
    }
    if p.service_categories:
        tender["items"] = [
            {
                "id": code,
                "description": SERVICE_CATEGORIES.get(code, code),
                "classification": {
                    "scheme": "CN-FT-SERVICE",
                    "id": code,
                    "description": SERVICE_CATEGORIES.get(code, code),
                },
            }
            for code in p.service_categories
        ]
    if process.bids:
        tender["tenderers"] = [{"id": party_id(org), "name": org.name} for _, org in process.bids]
    if rationale:
        tender["procurementMethodRationale"] = rationale
    if ended:
        why = f"：{p.end_reason}" if p.end_reason else ""
        tender["description"] = f"{ENDED_LABELS[p.status]}{why}"
    release: dict[str, Any] = {
        "ocid": ocid,
        "initiationType": "tender",
        "language": "zh",
        "parties": parties,
        "buyer": buyer_ref,
        "tender": tender,
    }
    if signed:
        release["planning"] = {
            "budget": {
                "id": f"budget-line-{signed[0][0].budget_line_id}",
                "description": f"{p.fiscal_year}年未成年人保护专项资金",
                "amount": value(p.estimated_fen),
            }
        }
    award_id = f"{ocid}-award-{p.awarded_bid_id}"
    if awarded and winner is not None:
        bid_price = next(b.price_fen for b, _ in process.bids if b.id == p.awarded_bid_id)
        award: dict[str, Any] = {
            "id": award_id,
            "title": p.title,
            "status": "cancelled" if ended else "active",
            "suppliers": [{"id": party_id(winner), "name": winner.name}],
            "value": value(bid_price),
        }
        if p.awarded_on:
            award["date"] = stamp(p.awarded_on)
        if p.publicity_ends_on:
            award["description"] = f"中标（成交）结果公示期至 {p.publicity_ends_on.isoformat()}"
        release["awards"] = [award]
    ocds_contracts = []
    for contract, org in signed:
        amendments = [a for a in process.amendments.get(contract.id, []) if ("amendment", a.id) in seen]
        payments = [x for x in process.payments.get(contract.id, []) if ("payment", x.id) in seen]
        supplier_ref = {"id": party_id(org), "name": org.name}
        # contractStatus (OCDS 1.1): ``terminated`` once the contract has come to a close: ended early (from its
        # termination release on) or completed (the process's latest release).
        terminated = ("termination", contract.id) in seen
        status = "active"
        if terminated or (last and contract.status == "completed"):
            status = "terminated"
        milestones = []
        for m in contract.milestones:
            met = ("milestone", m.id) in seen
            milestone: dict[str, Any] = {
                "id": str(m.id),
                "title": m.name,
                "type": m.kind,
                "dueDate": stamp(m.due_on),
                "status": "met" if met else "scheduled",
            }
            if m.amount_fen:
                milestone["description"] = f"验收后支付 {yuan_text(m.amount_fen)}"
            if met and m.accepted_on:
                milestone["dateMet"] = stamp(m.accepted_on)
            milestones.append(milestone)
        item: dict[str, Any] = {
            "id": f"{ocid}-contract-{contract.id}",
            "awardID": award_id,
            "title": contract.title,
            "status": status,
            "period": {"startDate": stamp(contract.starts_on), "endDate": stamp(contract.ends_on)},
            "value": value(contract.amount_fen + sum(a.delta_fen for a in amendments)),
            "dateSigned": stamp(contract.signed_on),
        }
        if milestones:
            item["milestones"] = milestones
        if payments:
            item["implementation"] = {
                "transactions": [
                    {
                        "id": str(x.id),
                        "date": stamp(x.paid_on),
                        "value": value(x.amount_fen),
                        "payer": buyer_ref,
                        "payee": supplier_ref,
                    }
                    for x in payments
                ]
            }
        notes = [
            {
                "id": str(a.id),
                "date": instant(a.created_at),
                "rationale": a.reason,
                "description": f"合同金额变更 {'+' if a.delta_fen > 0 else '-'}{yuan_text(abs(a.delta_fen))}"
                + (f"（{a.document_no}）" if a.document_no else ""),
            }
            for a in amendments
        ]
        if terminated and contract.terminated_on is not None:
            ended_on = contract.terminated_on.isoformat()
            item["description"] = f"合同于 {ended_on} 提前解除：{contract.termination_reason}".rstrip("：")
            if contract.starts_on <= contract.terminated_on < contract.ends_on:
                item["period"]["endDate"] = stamp(contract.terminated_on)
            notes.append(
                {
                    "id": f"termination-{contract.id}",
                    "date": stamp(contract.terminated_on),
                    "rationale": contract.termination_reason,
                    "description": f"解除合同，自 {ended_on} 起终止（原约定期限至 {contract.ends_on.isoformat()}）",
                }
            )
        if notes:
            item["amendments"] = notes
        ocds_contracts.append(item)
    if ocds_contracts:
        release["contracts"] = ocds_contracts
    return release


def release_id(process: Process, change: Change) -> str:
    return f"{get_rules().ocid_prefix}{process.procurement.id}-{change.kind}-{change.key}"


def releases_of(
    process: Process, published: Sequence[str] = (), after: dt.datetime | None = None
) -> list[tuple[Change, dict[str, Any]]]:
    """A release for every change of the process not among the ``published`` release ids, oldest first.

    Releases already published (the last of them dated ``after``) stand as they are: the new ones come after them,
    each dated at least a second after the one before, and carry their changes too.
    """
    changes = changes_of(process)
    done = [c for c in changes if release_id(process, c) in published]
    pending = [c for c in changes if release_id(process, c) not in published]
    out = []
    last = after
    for i, change in enumerate(pending):
        when = change.when if last is None else max(change.when, last + _STEP)
        last = when
        state = _release(process, done + pending[: i + 1], last=i == len(pending) - 1)
        release = {"id": release_id(process, change), "date": instant(when), "tag": list(change.tags)}
        out.append((dataclasses.replace(change, when=when), {**release, **state}))
    return out


def compile_releases(releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release: each release carries the whole state after its change, so the latest one wins."""
    latest = max(releases, key=lambda r: r["date"])
    compiled = copy.deepcopy(latest)
    compiled["id"] = f"{latest['ocid']}-{latest['date']}"
    compiled["tag"] = ["compiled"]
    return compiled


def _package(uri: str, published: str) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": published,
        "publisher": {"name": get_rules().buyer_name},
        "license": LICENSE,
        "publicationPolicy": POLICY,
    }


def public_release(release: dict[str, Any]) -> dict[str, Any]:
    """A stored release as published: releases stored before open data stopped naming contact people carried the
    suppliers' ``contactPoint`` (a person and their mobile number); it is left out of every package served."""
    parties = release.get("parties")
    if not parties or not any("contactPoint" in party for party in parties):
        return release
    return {**release, "parties": [{k: v for k, v in party.items() if k != "contactPoint"} for party in parties]}


def build_release_package(releases: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    releases = [public_release(r) for r in releases]
    return {**_package(uri, max(r["date"] for r in releases)), "releases": releases}


def build_record_package(releases: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    releases = [public_release(r) for r in releases]
    record = {"ocid": releases[0]["ocid"], "releases": releases, "compiledRelease": compile_releases(releases)}
    return {**_package(uri, max(r["date"] for r in releases)), "records": [record]}
