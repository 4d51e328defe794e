"""The money and capacity races: what each one prepares, the volley of parallel requests it fires, the invariant it
checks afterwards, and the mutation that takes its protection away.

Every path of the app where two requests at once could spend, book or record the same thing twice, with the
protection it relies on (line numbers as of this writing; the mutations below carry the exact text):

Raced here over a served app (``RACES``; the mutants of the protections a copy of the package can take away are
in ``MUTATIONS``):

- **Service capacity** (``POST /referrals/{id}/accept``): ``resources/service.py:417-428`` ``book_capacity`` locks the
  service row and its month's ``service_capacities`` row (``FOR UPDATE``) before comparing ``booked`` with
  ``capacity_per_month``; the unique (service_id, month) key stops two first bookings of a month both inserting.
- **Disbursements within a purpose's balance** (``POST /funds/{id}/disbursements``): ``funds/service.py:67-72``
  ``get_fund(lock=True)`` (the fund's row lock), taken in ``disburse`` (``:220``) before ``purpose_available``.
- **Micro-project holds within a fund's money** (``POST /funds/projects/{id}/approve`` for many projects of one
  micro-project fund at once): ``funds/sources.py`` ``_locked`` takes ``get_fund(lock=True)`` (the fund's row lock,
  the disbursements' too) before ``approve_project`` reads what the unrestricted purpose has and posts the hold.
- **Purpose changes against spending** (``POST /donations/{id}/purpose`` racing disbursements of the same purpose):
  the same fund row lock, taken by ``funds/donations.py:352-356`` ``_lock_fund_then_donation`` before the unspent
  check.
- **Offline refunds of one gift** (``POST /donations/{id}/refunds``): ``_lock_fund_then_donation`` (fund, then
  donation ``FOR UPDATE`` with ``populate_existing``) before ``record_refund`` compares with what is left.
- **Stripe notices of one gift** (``POST /webhooks/stripe``: ``payment_intent.succeeded`` delivered many times at
  once with its sibling ``charge.succeeded`` and ``charge.updated``): the inbox's unique ``stripe_events.event_id``
  with a savepoint (``funds/stripe_events.py:34-51``), then ``_find_donation`` (``:68-90``) locks fund and donation
  before a notice is applied; the ledger's unique idempotency key ``stripe:payment:<intent>``
  (``funds/ledger.py:90-135``) backs the payment entry (not the receipt: the mutant issues three receipts).
- **Reconciliation resolve, one difference** (``POST /reconciliations/{id}/differences/{n}/resolve`` many times at
  once): the unique (reconciliation_id, n) of ``reconciliation_corrections`` with a savepoint
  (``funds/corrections.py:202-208``) and the ledger key ``reconciliation:<id>:<n>``. Both are the database's: no
  mutant (a copy of the package cannot take a constraint away).
- **Reconciliation resolve, refunds of one gift** (several bank refund lines resolved as refunds of one gift at
  once): ``funds/corrections.py:183-184``, the fund, then the gift ``FOR UPDATE`` before ``record_refund``. Added by
  this suite: without it PostgreSQL refunded a gift three times over.
- **Budget commitments** (``POST /procurements`` open tenders holding the line's room; approvals, awards,
  contracts, amendments, transfers and allowance runs go through the same lock): ``procurement/budget.py:125-136``
  ``lock_lines`` (``FOR UPDATE`` on the budget lines, in id order) before the line's figures are read.
- **Milestone payments** (``POST /contracts/{id}/payments``): the same ``lock_lines`` (``contracts.py:311``) queues
  payments on the contract's line before the milestone's and contract's paid sums are read.
- **Allowance runs of one month** (``POST /allowances/runs`` for the same month at once): ``lock_lines`` before
  who is already paid is read (``procurement/allowances.py:336-337``), backed by the unique (kind, person_key,
  month, live) of ``allowance_payments``. Not mutated: with the lock gone the unique key still refuses a second
  payment (as an error, not a double payment).
- **Paying a signed-off run once** (``POST /allowances/runs/{id}/pay`` at once): the run's row lock
  (``allowances.py:429-436``, ``pay_run`` ``:565``) and, under ``lock_lines``, ``budget.pay`` (``budget.py:196-215``)
  refusing more than the unpaid commitment; each layer holds alone, the mutant takes both.

- **Festival plan runs** (``POST /allowances/festival-plans/{id}/runs`` for one plan at once): the plan's row lock
  (``procurement/festivals.py`` ``_plan(lock=True)``) before who is already paid for the festival is read, so every
  request after the first finds nobody new and answers 200 with the existing run; backed by the unique
  (festival_key, person_key, festival_live) of ``allowance_payments`` and, under ``lock_lines``, the run title's
  check. The mutant takes the plan's lock away: the later requests are then refused (409) instead of answered.

Guarded the same way but not raced here (their protection is one of the above, or a unique key the database holds):

- Reversal of a disbursement: ``funds/service.py:264-277`` (disbursement row lock, then the fund's).
- Webhook refunds and disputes: the donation lock of ``_find_donation``; ``DonationRefund.external_id`` unique;
  ``SKIP LOCKED`` on deferred notices (``stripe_events.py:118``); fees once per key (ledger idempotency).
- Receipt numbers without gaps: ``funds/donations.py:190-203`` (the year's counter row ``FOR UPDATE``).
- One-off allowance runs (``allowance_oneoff.py:364``, run status ``FOR UPDATE``; (run_id, person_key) unique),
  sign-off (``allowances.py:505``) and withdrawal (run row lock, ``lock_lines``).
- Budget transfers and amendments (``procurement/service.py:199``, ``contracts.py:365``: ``lock_lines``).
- Needs referred once at a time (``referrals/service.py:95``, need row lock), referral transitions (``:84``).
- A hotline call or report triaged once (``intake/service.py`` ``triage``: the intake's row ``FOR UPDATE`` before its
  status is read; a second triage is a 409).
- The outbox (``outbox.py:102``) and the search indexing queue (``indexing/service.py:40``, ``SKIP LOCKED``).
- **A volunteer's hours, at most 24 h a day** (``POST /volunteers/{id}/hours``): ``volunteers/service.py``
  ``log_hours`` takes the volunteer's row ``FOR UPDATE`` (``writable(..., lock=True)``, ``populate_existing``)
  before the day's minutes are summed (race ``volunteer_hours``, mutant ``volunteer_day_unlocked``). The same lock
  orders a certificate's issue (one current certificate per volunteer and period) and a reversal (once, backed by
  the unique ``volunteers_hours.reverses_id``); one registration per person is the unique
  ``volunteers.id_number_hash`` (the database's: no mutant).
- A parent away's record superseded once (``families/service.py`` ``new_version``: the old version's row
  ``FOR UPDATE`` before its ``replaced_by_id`` is read; the second change is 409); one contact alert per silence
  (unique (parent_id, silent_since) of ``families_alerts`` with a savepoint, notifications keyed per alert and level).

On SQLite every write transaction begins ``IMMEDIATE`` (``marketplace/db.py:95``): writers are serialised whole, the
row locks are no-ops there, and what protects is that single writer (a waiting writer waits up to
``sqlite_busy_timeout_ms``, so "database is locked" never reaches a caller). The mutants are therefore served on
PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import field_cipher
from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds import sources
from marketplace.funds.ledger import JournalEntry, Posting
from marketplace.funds.models import Donation, DonationRefund, Receipt, StripeEvent
from marketplace.places.models import Activity, Place
from marketplace.procurement.allowance_models import AllowancePayment
from marketplace.referrals.models import Referral
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from marketplace.settings import Settings
from marketplace.volunteers.models import Hours, Volunteer
from marketplace.volunteers.taxonomy import MAX_MINUTES_PER_DAY
from tests.cases.support import add_child, add_need, add_referral
from tests.funds.support import body as event_body
from tests.funds.support import event, offline_gift, sign
from tests.procurement import allowance_helpers as allowance
from tests.procurement import helpers as procurement
from tests.support.racing import Mutation, Request, Volley, fire, login
from tests.support.world import PASSWORD, World

FM = Principal(user_id=0, username="fund", role="fund_manager")


class Auth:
    """Bearer headers per test user of the served app, signing in once each (the procurement helpers' ``auth``)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._headers: dict[str, dict[str, str]] = {}

    async def __call__(self, username: str) -> dict[str, str]:
        if username not in self._headers:
            self._headers[username] = await login(self.base_url, username, PASSWORD)
        return self._headers[username]


@dataclass
class Ctx:
    """One race's run: the served app, the test's own handle on its database, and what ``prepare`` made."""

    base_url: str
    db: Database
    settings: Settings
    world: World
    auth: Auth
    tag: str  # unique per run, so several races (and a mutant's several runs) share one database
    n: int = 0  # how many requests the volley sends (0: the race's own number)
    made: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Race:
    name: str
    n: int
    prepare: Callable[[Ctx], Awaitable[None]]
    volley: Callable[[Ctx], Awaitable[list[Request]]]
    # What the requests' answers must be when the protection holds: the number of winners (2xx), or None when it
    # depends on the order (then ``check`` alone decides).
    winners: int | None
    # The invariant, checked through the API and the database: the violations found (none when it holds).
    check: Callable[[Ctx, Volley], Awaitable[list[str]]]
    fixed: bool = False  # the volley's size is the race's own (it follows from what ``prepare`` made)


async def run_race(race: Race, ctx: Ctx) -> tuple[Volley, list[str]]:
    if race.fixed or not ctx.n:
        ctx.n = race.n
    await race.prepare(ctx)
    requests = await race.volley(ctx)
    assert len(requests) == ctx.n
    volley = await fire(ctx.base_url, requests)
    return volley, await race.check(ctx, volley)


async def api(ctx: Ctx, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        return await client.request(method, path, headers=await ctx.auth(user), **kw)


def post(path: str, headers: dict[str, str], json: Any = None, **kw: Any) -> Request:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(path, json=json, headers=headers, **kw)

    return send


def _won(volley: Volley) -> int:
    return sum(1 for o in volley.outcomes if 200 <= o.status < 300)


# ---------------------------------------------------------------- service capacity

CAPACITY = 3


async def capacity_prepare(ctx: Ctx) -> None:
    race = ctx.made
    async with ctx.db.session() as s:
        svc = Service(
            organization_id=ctx.world.orgs[0],
            title=f"名额有限的临时照料服务{ctx.tag}",
            capacity_per_month=CAPACITY,
            status="published",
            district_wide=True,
            categories=[ServiceCategory(code="temporary_care")],
        )
        s.add(svc)
        await s.flush()
        # The month's row exists (the first booking of a month inserts it under the unique key instead).
        s.add(ServiceCapacity(service_id=svc.id, month=clock.month_key(), booked=0))
        child = await add_child(
            s, ctx.settings, ctx.world.communities[0], ctx.world.streets[0], seq=f"{900 + int(ctx.tag) % 100:03d}"
        )
        ids = []
        for _ in range(ctx.n):
            need = await add_need(s, child, "temporary_care")
            ids.append((await add_referral(s, need, svc.id, ctx.world.orgs[0])).id)
        race["service_id"], race["referrals"] = svc.id, ids


async def capacity_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("org")
    return [post(f"/api/v1/referrals/{rid}/accept", headers) for rid in ctx.made["referrals"]]


async def capacity_check(ctx: Ctx, volley: Volley) -> list[str]:
    service_id, ids = ctx.made["service_id"], ctx.made["referrals"]
    out = []
    async with ctx.db.session(write=False) as s:
        booked = int(
            await s.scalar(
                select(func.coalesce(func.sum(ServiceCapacity.booked), 0)).where(
                    ServiceCapacity.service_id == service_id
                )
            )
            or 0
        )
        accepted = await s.scalar(
            select(func.count()).select_from(Referral).where(Referral.id.in_(ids), Referral.status == "accepted")
        )
    if accepted > CAPACITY:
        out.append(f"{accepted} referrals accepted on a service with {CAPACITY} places")
    if booked != accepted:
        out.append(f"{booked} places booked for {accepted} accepted referrals")
    if _won(volley) != accepted:
        out.append(f"{_won(volley)} accepts answered 200 but {accepted} referrals are accepted")
    # Through the API: the provider sees the same number of accepted referrals.
    r = await api(ctx, "GET", "/api/v1/referrals", "org", params={"status": "accepted", "limit": 100})
    seen = sum(1 for item in r.json()["items"] if item["id"] in ids)
    if seen != accepted:
        out.append(f"the API lists {seen} accepted referrals, the database holds {accepted}")
    return out


# ---------------------------------------------------------------- the fund: disbursements, purpose changes, refunds

GIFT = 100_000
PAY = 30_000


async def _fund(ctx: Ctx) -> int:
    async with ctx.db.session() as s:
        fund = await funds.ensure_fund(s, code=f"race-{ctx.tag}", name=f"并发测试基金{ctx.tag}")
        return fund.id


async def _offline_gift(ctx: Ctx, fund_id: int, amount: int, reference: str) -> int:
    async with ctx.db.session() as s:
        d = await gifts.record_offline(
            s,
            FM,
            fund_id=fund_id,
            amount_fen=amount,
            channel="bank_transfer",
            donor=gifts.DonorInput(name="并发测试捐赠人"),
            designation=None,
            received_on=clock.today(),
            reference=reference,
        )
        return d.id


async def _books(ctx: Ctx, fund_id: int) -> list[str]:
    """The fund's books: every purpose's balance at or above zero, the ledger balanced, the API agreeing."""
    out = []
    async with ctx.db.session(write=False) as s:
        total = int(await s.scalar(select(func.coalesce(func.sum(Posting.amount_fen), 0))) or 0)
        balances = await funds.fund_balances(s, await funds.get_fund(s, fund_id))
    if total != 0:
        out.append(f"the ledger is out of balance by {total} fen")
    for purpose, figures in balances.purposes.items():
        left = figures.get("available_fen", 0)
        if left < 0:
            out.append(f"purpose {purpose} overspent: {left} fen")
    if balances.cash_fen < 0:
        out.append(f"the fund's cash is {balances.cash_fen} fen")
    r = await api(ctx, "GET", f"/api/v1/funds/{fund_id}", "fund")
    if r.status_code != 200 or r.json()["cash_fen"] != balances.cash_fen:
        out.append(f"the API's fund balance disagrees with the ledger: {r.status_code} {r.text[:300]}")
    return out


async def disburse_prepare(ctx: Ctx) -> None:
    fund_id = await _fund(ctx)
    await _offline_gift(ctx, fund_id, GIFT, f"RACE-D-{ctx.tag}")
    ctx.made["fund_id"] = fund_id


async def disburse_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("fund")
    fund_id = ctx.made["fund_id"]
    body = {"amount_fen": PAY, "purpose": "unrestricted", "memo": "并发拨付"}
    return [post(f"/api/v1/funds/{fund_id}/disbursements", headers, body) for _ in range(ctx.n)]


async def disburse_check(ctx: Ctx, volley: Volley) -> list[str]:
    fund_id = ctx.made["fund_id"]
    out = await _books(ctx, fund_id)
    r = await api(ctx, "GET", f"/api/v1/funds/{fund_id}/disbursements", "fund", params={"limit": 100})
    paid = sum(d["amount_fen"] for d in r.json()["items"])
    if paid > GIFT:
        out.append(f"{paid} fen disbursed out of a {GIFT} fen purpose")
    if paid != PAY * _won(volley):
        out.append(f"{_won(volley)} disbursements answered 201 but {paid} fen were disbursed")
    return out


# ---------------------------------------------------------------- micro-project holds (民生微实事立项)

PROJECT_ROOM = 100_000  # the district's allocation to the race's fund
PROJECT_HOLD = 30_000  # each project's request: three fit


async def holds_prepare(ctx: Ctx) -> None:
    admin = Principal(user_id=ctx.world.users["admin"], username="admin", role="district_admin")
    async with ctx.db.session() as s:
        fund = await sources.create_source(
            s,
            admin,
            code=f"race_micro_{ctx.tag}",
            name=f"并发测试民生微实事{ctx.tag}",
            kind="micro_project",
            street_id=ctx.world.streets[0],
            year=3000 + int(ctx.tag) % 1_000_000,
        )
        await sources.allocate(s, admin, fund.id, amount_fen=PROJECT_ROOM, key=f"race-{ctx.tag}")
        ids = []
        for i in range(ctx.n):
            p = await sources.create_project(
                s, admin, fund.id, title=f"并发立项{i}", category="education_aid", requested_fen=PROJECT_HOLD
            )
            ids.append(p.id)
    ctx.made["fund_id"], ctx.made["projects"] = fund.id, ids


async def holds_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("fund")
    return [post(f"/api/v1/funds/projects/{pid}/approve", headers, {}) for pid in ctx.made["projects"]]


async def holds_check(ctx: Ctx, volley: Volley) -> list[str]:
    fund_id = ctx.made["fund_id"]
    out = await _books(ctx, fund_id)
    r = await api(ctx, "GET", f"/api/v1/funds/{fund_id}/projects", "fund", params={"limit": 100})
    approved = [p for p in r.json()["items"] if p["status"] == "approved"]
    held = sum(p["held_fen"] for p in approved)
    if held > PROJECT_ROOM:
        out.append(f"{held} fen held by approved projects on a fund allocated {PROJECT_ROOM} fen")
    if len(approved) != _won(volley):
        out.append(f"{_won(volley)} approvals answered 200 but {len(approved)} projects are approved")
    fund = (await api(ctx, "GET", f"/api/v1/funds/{fund_id}", "fund")).json()
    if fund["held_fen"] != held or fund["unrestricted_balance_fen"] != PROJECT_ROOM - held:
        out.append(f"the fund shows {fund['held_fen']} held, {fund['unrestricted_balance_fen']} available")
    return out


GIFTS = 10
FEE = 600
WEBHOOK_EVENTS = 3  # the payment's notice and its sibling charge notices, each redelivered many times
PIECE = 10_000


async def purpose_prepare(ctx: Ctx) -> None:
    fund_id = await _fund(ctx)
    ctx.made["fund_id"] = fund_id
    ctx.made["gifts"] = [await _offline_gift(ctx, fund_id, PIECE, f"RACE-P-{ctx.tag}-{i}") for i in range(GIFTS)]


async def purpose_volley(ctx: Ctx) -> list[Request]:
    """Each gift re-designated (with consent) while as many disbursements spend the same unrestricted money:
    together they ask for twice what the purpose holds."""
    headers = await ctx.auth("fund")
    fund_id = ctx.made["fund_id"]
    changes = [
        post(
            f"/api/v1/donations/{gift}/purpose",
            headers,
            {"purpose": "category:education_aid", "consent_note": "捐赠人书面同意", "consent_reference": f"函{gift}"},
        )
        for gift in ctx.made["gifts"]
    ]
    pays = [
        post(f"/api/v1/funds/{fund_id}/disbursements", headers, {"amount_fen": PIECE, "purpose": "unrestricted"})
        for _ in range(GIFTS)
    ]
    return [r for pair in zip(changes, pays, strict=True) for r in pair]


async def purpose_check(ctx: Ctx, volley: Volley) -> list[str]:
    fund_id = ctx.made["fund_id"]
    out = await _books(ctx, fund_id)
    async with ctx.db.session(write=False) as s:
        left = await funds.purpose_available(s, fund_id, "unrestricted")
        moved = await funds.purpose_available(s, fund_id, "category:education_aid")
    if left < 0:
        out.append(f"unrestricted money overspent: {left} fen")
    if _won(volley) * PIECE + left != GIFTS * PIECE or moved + left > GIFTS * PIECE:
        out.append(
            f"{_won(volley)} of {len(volley.outcomes)} moves and payments of {PIECE} fen succeeded "
            f"out of {GIFTS * PIECE} fen: {left} left unrestricted, {moved} re-designated"
        )
    return out


REFUND = 30_000


async def refund_prepare(ctx: Ctx) -> None:
    fund_id = await _fund(ctx)
    ctx.made["fund_id"] = fund_id
    ctx.made["gift"] = await _offline_gift(ctx, fund_id, GIFT, f"RACE-R-{ctx.tag}")


async def refund_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("fund")
    gift = ctx.made["gift"]
    return [
        post(
            f"/api/v1/donations/{gift}/refunds",
            headers,
            {"amount_fen": REFUND, "reference": f"RT-{ctx.tag}-{i}", "reason": "退回部分款项"},
        )
        for i in range(ctx.n)
    ]


async def refund_check(ctx: Ctx, volley: Volley) -> list[str]:
    return await _refunds_of_gift(ctx, volley)


async def _refunds_of_gift(ctx: Ctx, volley: Volley) -> list[str]:
    """The gift's refunds within the gift, its figure equal to its refund rows, one live receipt."""
    gift = ctx.made["gift"]
    out = await _books(ctx, ctx.made["fund_id"])
    async with ctx.db.session(write=False) as s:
        refunds = int(
            await s.scalar(
                select(func.coalesce(func.sum(DonationRefund.amount_fen), 0)).where(DonationRefund.donation_id == gift)
            )
            or 0
        )
        live = await s.scalar(
            select(func.count()).select_from(Receipt).where(Receipt.donation_id == gift, Receipt.voided_at.is_(None))
        )
    d = (await api(ctx, "GET", f"/api/v1/donations/{gift}", "fund")).json()
    if refunds > GIFT:
        out.append(f"{refunds} fen refunded of a {GIFT} fen gift")
    if d["refunded_fen"] != refunds:
        out.append(f"the gift shows {d['refunded_fen']} fen refunded, its refunds add up to {refunds}")
    if refunds != REFUND * _won(volley):
        out.append(f"{_won(volley)} refunds answered 200 but {refunds} fen were refunded")
    if live != 1:
        out.append(f"{live} live receipts for one gift")
    return out


# ---------------------------------------------------------------- reconciliation: resolving differences

BANK_REFUNDS = 10


async def recon_prepare(ctx: Ctx) -> None:
    """A bank statement with the fund's one gift, a fee line and ten refund lines of 300 yuan naming the gift."""
    fund_id = await _fund(ctx)
    day = clock.today() - dt.timedelta(days=3)
    ref = f"B-{ctx.tag}"
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        gift = await offline_gift(client, await ctx.auth("fund"), fund_id, ref, GIFT, day)
    lines = [
        "交易日期,收入,支出,对方户名,摘要,流水号",
        f"{day},{GIFT / 100:.2f},,单位{ref},捐赠,{ref}",
        f"{day},,10.00,,账户管理费,F-{ctx.tag}",
        *(f"{day},,{REFUND / 100:.2f},单位{ref},退款,R-{ctx.tag}-{i}" for i in range(BANK_REFUNDS)),
    ]
    payload = {
        "fund_id": fund_id,
        "source": "bank",
        "since": day.isoformat(),
        "until": clock.today().isoformat(),
        "file_base64": base64.b64encode(("\n".join(lines) + "\n").encode("gbk")).decode(),
    }
    r = await api(ctx, "POST", "/api/v1/reconciliations", "fund", json=payload)
    assert r.status_code == 201, r.text
    recon = r.json()
    by_ref = {d["external_id"]: d["n"] for d in recon["differences"]}
    ctx.made.update(
        fund_id=fund_id,
        gift=gift,
        recon=recon["id"],
        fee=by_ref[f"F-{ctx.tag}"],
        refunds=[by_ref[f"R-{ctx.tag}-{i}"] for i in range(BANK_REFUNDS)],
    )


async def resolve_volley(ctx: Ctx) -> list[Request]:
    """The same difference resolved by many clerks at once: one correction, one entry."""
    headers = await ctx.auth("fund")
    path = f"/api/v1/reconciliations/{ctx.made['recon']}/differences/{ctx.made['fee']}/resolve"
    return [post(path, headers, {"kind": "bank_fee", "note": "银行手续费"}) for _ in range(ctx.n)]


async def resolve_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = await _books(ctx, ctx.made["fund_id"])
    key = f"reconciliation:{ctx.made['recon']}:{ctx.made['fee']}"
    async with ctx.db.session(write=False) as s:
        entries = await s.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.idempotency_key == key)
        )
        fees = (await funds.fund_balances(s, await funds.get_fund(s, ctx.made["fund_id"]))).fees_fen
    if entries != 1:
        out.append(f"{entries} ledger entries for one resolved difference")
    if fees != 1_000:
        out.append(f"{fees} fen of fees booked for one 10-yuan fee")
    return out


async def bank_refunds_volley(ctx: Ctx) -> list[Request]:
    """Ten refunds the bank shows, each resolved as a refund of the one gift at the same time: only what the gift
    holds can be refunded (three of them)."""
    headers = await ctx.auth("fund")
    base = f"/api/v1/reconciliations/{ctx.made['recon']}/differences"
    body = {"kind": "refund", "donation_id": ctx.made["gift"], "note": "退款"}
    return [post(f"{base}/{n}/resolve", headers, body) for n in ctx.made["refunds"]]


async def bank_refunds_check(ctx: Ctx, volley: Volley) -> list[str]:
    return await _refunds_of_gift(ctx, volley)


# ---------------------------------------------------------------- the budget: commitments and milestone payments

AMOUNT = 1_000_000
ROOM = 3 * AMOUNT + AMOUNT - 1


async def _budget(ctx: Ctx, room: int) -> tuple[int, int]:
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        budget = await procurement.make_budget(
            client,
            await ctx.auth("procurement"),
            lines=[{"code": "purchase_services", "name": "购买服务", "appropriation_fen": room}],
            name=f"并发{ctx.tag}",
        )
    return budget["id"], budget["lines"][0]["id"]


async def tender_prepare(ctx: Ctx) -> None:
    ctx.made["budget"], ctx.made["line"] = await _budget(ctx, ROOM)


async def tender_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("procurement")
    return [
        post(
            "/api/v1/procurements",
            headers,
            {
                "budget_line_id": ctx.made["line"],
                "title": f"并发项目{ctx.tag}-{i}",
                "method": "open_tender",
                "estimated_fen": AMOUNT,
                "service_categories": ["hotline"],
            },
        )
        for i in range(ctx.n)
    ]


async def _line(ctx: Ctx) -> dict[str, Any]:
    r = await api(ctx, "GET", f"/api/v1/budgets/{ctx.made['budget']}", "procurement")
    line: dict[str, Any] = r.json()["lines"][0]
    return line


async def tender_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    line = await _line(ctx)
    if line["available_fen"] < 0 or line["held_fen"] > ROOM:
        out.append(f"the line holds {line['held_fen']} fen of {ROOM}: {line['available_fen']} available")
    if line["held_fen"] != AMOUNT * _won(volley):
        out.append(f"{_won(volley)} tenders opened but {line['held_fen']} fen held")
    return out


MILESTONE_PAY = 150_000  # the first milestone is 40% of AMOUNT: two payments fit, the third does not


async def milestone_prepare(ctx: Ctx) -> None:
    budget, line = await _budget(ctx, 2 * AMOUNT)
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        contract = await procurement.signed_contract(client, ctx.auth, line, ctx.world.orgs[0], AMOUNT)
        r = await procurement.accept(client, ctx.auth, contract, 0)
        assert r.status_code == 200, r.text
    ctx.made.update(budget=budget, line=line, contract=contract["id"], milestone=contract["milestones"][0])


async def milestone_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("procurement")
    body = {"milestone_id": ctx.made["milestone"]["id"], "amount_fen": MILESTONE_PAY, "memo": "并发支付"}
    return [post(f"/api/v1/contracts/{ctx.made['contract']}/payments", headers, body) for _ in range(ctx.n)]


async def milestone_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    due = ctx.made["milestone"]["amount_fen"]
    r = await api(ctx, "GET", f"/api/v1/contracts/{ctx.made['contract']}", "procurement")
    contract = r.json()
    paid = contract["paid_fen"]
    if paid > due:
        out.append(f"{paid} fen paid on a milestone of {due} fen")
    if paid != MILESTONE_PAY * _won(volley):
        out.append(f"{_won(volley)} payments answered 201 but {paid} fen were paid")
    line = await _line(ctx)
    if line["paid_fen"] != paid:
        out.append(f"the line shows {line['paid_fen']} fen paid, the contract {paid}")
    return out


# ---------------------------------------------------------------- Stripe's notices of one gift


async def webhook_prepare(ctx: Ctx) -> None:
    fund_id = await _fund(ctx)
    intent = f"pi_race{ctx.tag}"
    async with ctx.db.session() as s:
        d = await gifts.create_pending(
            s, fund_id=fund_id, amount_fen=GIFT, donor=gifts.DonorInput(name="线上捐赠人"), designation=None
        )
        d.external_id = intent
        donation_id = d.id
    ctx.made.update(fund_id=fund_id, donation=donation_id, intent=intent)


async def webhook_volley(ctx: Ctx) -> list[Request]:
    """The payment's notice redelivered many times at once, interleaved with its sibling charge notices
    (``charge.succeeded``, ``charge.updated``; each signed for real): one payment, one fee, one receipt, one inbox
    row per event."""
    donation, intent = ctx.made["donation"], ctx.made["intent"]
    charge = f"ch_race{ctx.tag}"
    fee = {"id": f"txn_race{ctx.tag}", "object": "balance_transaction", "fee": FEE}
    charged = {
        "id": charge,
        "object": "charge",
        "amount": GIFT,
        "amount_captured": GIFT,
        "currency": "cny",
        "status": "succeeded",
        "payment_intent": intent,
        "balance_transaction": fee,
        "metadata": {"donation_id": str(donation)},
    }
    paid = {
        "id": intent,
        "object": "payment_intent",
        "amount": GIFT,
        "amount_received": GIFT,
        "currency": "cny",
        "status": "succeeded",
        "latest_charge": charged,
        "metadata": {"donation_id": str(donation)},
    }
    events = [
        event(f"evt_pay_{ctx.tag}", "payment_intent.succeeded", paid),
        event(f"evt_charge_{ctx.tag}", "charge.succeeded", charged),
        event(f"evt_update_{ctx.tag}", "charge.updated", charged),
    ]
    requests = []
    for i in range(ctx.n):
        raw = event_body(events[i % len(events)])
        headers = {
            "Stripe-Signature": sign(raw, ctx.settings.stripe_webhook_secret),
            "Content-Type": "application/json",
        }
        requests.append(post("/api/v1/webhooks/stripe", headers, content=raw))
    return requests


async def webhook_check(ctx: Ctx, volley: Volley) -> list[str]:
    donation, intent = ctx.made["donation"], ctx.made["intent"]
    out = await _books(ctx, ctx.made["fund_id"])
    deadline = time.monotonic() + 30
    while True:  # the inbox is worked off after each request's commit: wait until it is empty
        async with ctx.db.session(write=False) as s:
            rows = (await s.scalars(select(StripeEvent).where(StripeEvent.event_id.like(f"evt_%_{ctx.tag}")))).all()
        if all(row.processed_at is not None for row in rows) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    async with ctx.db.session(write=False) as s:
        d = await s.get(Donation, donation)
        entries = await s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.idempotency_key == f"stripe:payment:{intent}")
        )
        receipts = await s.scalar(select(func.count()).select_from(Receipt).where(Receipt.donation_id == donation))
        income = await funds.fund_balances(s, await funds.get_fund(s, ctx.made["fund_id"]))
    if len(rows) != WEBHOOK_EVENTS:
        out.append(f"{len(rows)} inbox rows for {WEBHOOK_EVENTS} distinct events")
    if any(row.processed_at is None for row in rows):
        out.append("notices left unprocessed")
    if d is None or d.status != "succeeded":
        out.append(f"the gift is {d.status if d else None} after its payment notices")
    if entries != 1:
        out.append(f"{entries} ledger entries for one payment")
    if receipts != 1:
        out.append(f"{receipts} receipts for one gift")
    if income.income_fen != GIFT:
        out.append(f"{income.income_fen} fen income for one gift of {GIFT}")
    if income.fees_fen != FEE:
        out.append(f"{income.fees_fen} fen of fees for one charge's {FEE}")
    dupes = sum(1 for o in volley.outcomes if o.status == 200 and o.body and o.body.get("duplicate") is False)
    if dupes != WEBHOOK_EVENTS:
        out.append(f"{dupes} deliveries stored as new, {WEBHOOK_EVENTS} distinct events were sent")
    return out


# ---------------------------------------------------------------- allowance runs: one per month, paid once

KIDS = 12
DIRECTORS = 3  # the test world's child directors, each paid the director's subsidy


# Months are never reused (a month's allowances are prepared once): runs take July to December, payments January to
# June, before the runs' children are granted, so a paid run holds the directors' subsidy alone, on one line (with
# two lines, the ledger chain's advisory lock would also order two payers between their lines).
_run_months = itertools.count(7)
_pay_months = itertools.count(1)


async def _allowance_budget(ctx: Ctx, *, month: int, children: bool) -> None:
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        budget = await procurement.make_budget(
            client, await ctx.auth("procurement"), year=allowance.YEAR, name=f"补贴{ctx.tag}"
        )
    if children:
        ids = await allowance.add_children(
            ctx.db, ctx.world, [(f"童{ctx.tag}-{i}", ["orphan"], "active", allowance.KID) for i in range(KIDS)]
        )
        await allowance.grant(ctx.db, ctx.settings, ids, month=f"{allowance.YEAR}-07")
    ctx.made.update(budget=budget["id"], month=f"{allowance.YEAR}-{month:02d}", people=DIRECTORS + KIDS * children)


async def _payments(ctx: Ctx) -> tuple[int, int, int]:
    """The month's live payments: rows, distinct (kind, person), and their sum."""
    month = ctx.made["month"]
    async with ctx.db.session(write=False) as s:
        rows = (
            await s.execute(
                select(AllowancePayment.kind, AllowancePayment.person_key, AllowancePayment.amount_fen).where(
                    AllowancePayment.month == month, AllowancePayment.live.is_(True)
                )
            )
        ).all()
    return len(rows), len({(k, p) for k, p, _ in rows}), sum(a for _, _, a in rows)


async def _lines(ctx: Ctx) -> dict[str, dict[str, Any]]:
    r = await api(ctx, "GET", f"/api/v1/budgets/{ctx.made['budget']}", "procurement")
    return {x["code"]: x for x in r.json()["lines"]}


async def runs_prepare(ctx: Ctx) -> None:
    month = next(_run_months)
    assert month <= 12, "more monthly runs than months"
    await _allowance_budget(ctx, month=month, children=True)


async def runs_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("procurement")
    body = {"month": ctx.made["month"], "budget_id": ctx.made["budget"]}
    return [post("/api/v1/allowances/runs", headers, body) for _ in range(ctx.n)]


async def runs_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    people = ctx.made["people"]
    rows, persons, total = await _payments(ctx)
    if rows != persons:
        out.append(f"{rows} payments for {persons} people in one month")
    if persons != people:
        out.append(f"{persons} of {people} eligible people on the month's lists")
    counted = sum(o.body["paid_count"] for o in volley.outcomes if o.status == 201)
    if counted != rows:
        out.append(f"the runs answered {counted} payments, the database holds {rows}")
    committed = sum(line["committed_fen"] for line in (await _lines(ctx)).values())
    if committed != total:
        out.append(f"{committed} fen committed on the budget for {total} fen of allowances")
    return out


async def pay_prepare(ctx: Ctx) -> None:
    month = next(_pay_months)
    assert month <= 6, "more paid runs than months"
    await _allowance_budget(ctx, month=month, children=False)
    r = await api(
        ctx,
        "POST",
        "/api/v1/allowances/runs",
        "procurement",
        json={"month": ctx.made["month"], "budget_id": ctx.made["budget"]},
    )
    assert r.status_code == 201, r.text
    run = r.json()
    s = await api(ctx, "POST", f"/api/v1/allowances/runs/{run['id']}/sign-off", "admin", json={})
    assert s.status_code == 201, s.text
    ctx.made.update(run=run["id"], total=run["total_fen"])


async def pay_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("procurement")
    return [post(f"/api/v1/allowances/runs/{ctx.made['run']}/pay", headers) for _ in range(ctx.n)]


async def pay_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    lines = await _lines(ctx)
    paid = sum(line["paid_fen"] for line in lines.values())
    if paid != ctx.made["total"]:
        out.append(f"{paid} fen paid for a run of {ctx.made['total']} fen")
    if any(line["available_fen"] < 0 for line in lines.values()):
        out.append("a budget line overspent")
    if _won(volley) != 1:
        out.append(f"the run was paid {_won(volley)} times")
    return out


# ---------------------------------------------------------------- festival plan runs

_festival_years = itertools.count(allowance.YEAR + 1)


async def festival_prepare(ctx: Ctx) -> None:
    """A plan of its own year (plans are unique per year and festival), its line, and children granted before."""
    year = next(_festival_years)
    lines = [{"code": "festival_condolence", "name": "节日慰问", "appropriation_fen": 10_000_000}]
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as client:
        budget = await procurement.make_budget(
            client, await ctx.auth("procurement"), lines=lines, year=year, name=f"慰问{ctx.tag}"
        )
    ids = await allowance.add_children(
        ctx.db, ctx.world, [(f"慰{ctx.tag}-{i}", ["orphan"], "active", allowance.KID) for i in range(KIDS)]
    )
    await allowance.grant(ctx.db, ctx.settings, ids, month=f"{allowance.YEAR}-07")
    body = {
        "year": year,
        "festival": "mid_autumn",
        "pay_date": f"{year}-09-20",
        "line_id": budget["lines"][0]["id"],
        "amounts": [{"category": "orphan", "amount_fen": 20_000}],
    }
    r = await api(ctx, "POST", "/api/v1/allowances/festival-plans", "admin", json=body)
    assert r.status_code == 201, r.text
    ctx.made.update(plan=r.json()["id"], key=f"{year}:mid_autumn", budget=budget["id"], kids=ids)


async def festival_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("admin")
    return [post(f"/api/v1/allowances/festival-plans/{ctx.made['plan']}/runs", headers) for _ in range(ctx.n)]


async def festival_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    async with ctx.db.session(write=False) as s:
        rows = (
            await s.execute(
                select(AllowancePayment.person_key, AllowancePayment.amount_fen, AllowancePayment.run_id).where(
                    AllowancePayment.festival_key == ctx.made["key"], AllowancePayment.festival_live.is_(True)
                )
            )
        ).all()
    persons = {p for p, _, _ in rows}
    if len(rows) != len(persons):
        out.append(f"{len(rows)} festival payments for {len(persons)} people")
    if not {f"child:{i}" for i in ctx.made["kids"]} <= persons:
        out.append("an eligible child of the race is not on the festival's list")
    if len({r for _, _, r in rows}) != 1:
        out.append(f"{len({r for _, _, r in rows})} runs hold the festival's payments")
    created = sum(1 for o in volley.outcomes if o.status == 201)
    answered = sum(1 for o in volley.outcomes if o.status == 200)
    if created != 1 or answered != ctx.n - 1:
        out.append(f"{created} runs created and {answered} answered with the existing run, of {ctx.n} requests")
    committed = sum(line["committed_fen"] for line in (await _lines(ctx)).values())
    if committed != sum(a for _, a, _ in rows):
        out.append(f"{committed} fen committed for {sum(a for _, a, _ in rows)} fen of festival payments")
    return out


# ---------------------------------------------------------------- a volunteer's hours: at most 24 h in a day

HOURS_EACH = 300  # minutes per request: 4 fit in a day (a mutant volley sends 12)


async def hours_prepare(ctx: Ctx) -> None:
    n = int(ctx.tag)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=n % 9000)
    first = f"440304{born:%Y%m%d}{500 + n % 400:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    number = first + "10X98765432"[sum(int(d) * w for d, w in zip(first, weights, strict=True)) % 11]
    street, community = ctx.world.streets[0], ctx.world.communities[0]
    async with ctx.db.session() as s:
        volunteer = Volunteer(
            name=f"竞速志愿者{ctx.tag}",
            id_number=number,
            id_number_hash=field_cipher(ctx.settings).lookup_hash(number),
            gender="male",
            birth_date=born,
            phone="",
            street_id=street,
            community_id=community,
            skills=[],
            registered_on=clock.today() - dt.timedelta(days=30),
        )
        place = Place(kind="children_home", street_id=street, community_id=community, name=f"儿童之家{ctx.tag}")
        s.add_all([volunteer, place])
        await s.flush()
        activity = Activity(place_id=place.id, held_on=clock.today(), kind="reading", title="共读", counts={})
        s.add(activity)
        await s.flush()
        ctx.made.update(volunteer_id=volunteer.id, activity_id=activity.id)


async def hours_volley(ctx: Ctx) -> list[Request]:
    headers = await ctx.auth("director")
    body = {"activity_id": ctx.made["activity_id"], "minutes": HOURS_EACH}
    return [post(f"/api/v1/volunteers/{ctx.made['volunteer_id']}/hours", headers, body) for _ in range(ctx.n)]


async def hours_check(ctx: Ctx, volley: Volley) -> list[str]:
    out = []
    async with ctx.db.session(write=False) as s:
        minutes = int(
            await s.scalar(
                select(func.coalesce(func.sum(Hours.minutes), 0)).where(Hours.volunteer_id == ctx.made["volunteer_id"])
            )
            or 0
        )
    if minutes > MAX_MINUTES_PER_DAY:
        out.append(f"{minutes} minutes recorded in one day (at most {MAX_MINUTES_PER_DAY})")
    if minutes != _won(volley) * HOURS_EACH:
        out.append(f"{_won(volley)} requests answered 201 but {minutes} minutes are recorded")
    r = await api(ctx, "GET", f"/api/v1/volunteers/{ctx.made['volunteer_id']}/hours", "director")
    if r.json()["total_minutes"] != minutes:
        out.append(f"the API shows {r.json()['total_minutes']} minutes, the database holds {minutes}")
    return out


# ---------------------------------------------------------------- the catalogue

RACE_N = {
    "capacity": 30,
    "disbursements": 30,
    "refunds": 30,
    "tenders": 30,
    "milestone": 30,
    "webhook": 30,
    "allowance_runs": 20,
    "resolve": 20,
    "allowance_pay": 20,
    "festival_runs": 20,
    "volunteer_hours": 20,
    "project_holds": 20,
}

RACES = {
    race.name: race
    for race in [
        Race("capacity", RACE_N["capacity"], capacity_prepare, capacity_volley, CAPACITY, capacity_check),
        Race("disbursements", RACE_N["disbursements"], disburse_prepare, disburse_volley, GIFT // PAY, disburse_check),
        Race("purpose_changes", 2 * GIFTS, purpose_prepare, purpose_volley, None, purpose_check, fixed=True),
        Race(
            "project_holds",
            RACE_N["project_holds"],
            holds_prepare,
            holds_volley,
            PROJECT_ROOM // PROJECT_HOLD,
            holds_check,
        ),
        Race("refunds", RACE_N["refunds"], refund_prepare, refund_volley, GIFT // REFUND, refund_check),
        Race("tenders", RACE_N["tenders"], tender_prepare, tender_volley, 3, tender_check),
        Race("milestone_payments", RACE_N["milestone"], milestone_prepare, milestone_volley, 2, milestone_check),
        Race("webhook", RACE_N["webhook"], webhook_prepare, webhook_volley, RACE_N["webhook"], webhook_check),
        Race(
            "allowance_runs", RACE_N["allowance_runs"], runs_prepare, runs_volley, RACE_N["allowance_runs"], runs_check
        ),
        Race("allowance_pay", RACE_N["allowance_pay"], pay_prepare, pay_volley, 1, pay_check),
        Race(
            "festival_runs",
            RACE_N["festival_runs"],
            festival_prepare,
            festival_volley,
            RACE_N["festival_runs"],
            festival_check,
        ),
        Race(
            "volunteer_hours",
            RACE_N["volunteer_hours"],
            hours_prepare,
            hours_volley,
            MAX_MINUTES_PER_DAY // HOURS_EACH,
            hours_check,
        ),
        Race("reconciliation_resolve", RACE_N["resolve"], recon_prepare, resolve_volley, 1, resolve_check),
        Race(
            "reconciliation_refunds",
            BANK_REFUNDS,
            recon_prepare,
            bank_refunds_volley,
            None,
            bank_refunds_check,
            fixed=True,
        ),
    ]
}

# One mutant per protection: the races that must catch it.
MUTATIONS: dict[Mutation, tuple[str, ...]] = {
    Mutation(
        "volunteer_day_unlocked",
        "volunteers/service.py log_hours: the volunteer's row FOR UPDATE before the day's minutes are summed",
        (
            (
                "volunteers/service.py",
                "    volunteer = await writable(session, principal, volunteer_id, lock=True)\n"
                "    if (data.activity_id is None)",
                "    volunteer = await writable(session, principal, volunteer_id, lock=False)\n"
                "    if (data.activity_id is None)",
            ),
        ),
    ): ("volunteer_hours",),
    Mutation(
        "capacity_unlocked",
        "resources/service.py book_capacity: service and month rows FOR UPDATE",
        (
            (
                "resources/service.py",
                "service = await session.scalar(select(Service).where(Service.id == service_id).with_for_update())",
                "service = await session.scalar(select(Service).where(Service.id == service_id))",
            ),
            (
                "resources/service.py",
                "ServiceCapacity.month == month)\n        .with_for_update()\n    )\n    if row is None:",
                "ServiceCapacity.month == month)\n    )\n    if row is None:",
            ),
        ),
    ): ("capacity",),
    Mutation(
        "fund_unlocked",
        "funds/service.py get_fund(lock=True): the fund's row lock",
        (
            (
                "funds/service.py",
                "        stmt = stmt.with_for_update()\n    fund = await session.scalar(stmt)",
                "        pass\n    fund = await session.scalar(stmt)",
            ),
        ),
    ): ("disbursements", "purpose_changes", "project_holds"),
    Mutation(
        "gift_unlocked",
        "funds/donations.py _lock_fund_then_donation: fund, then donation FOR UPDATE",
        (
            (
                "funds/donations.py",
                "    await get_fund(session, fund_id, lock=True)\n"
                "    return await get_donation(session, donation_id, lock=True)",
                "    await get_fund(session, fund_id)\n    return await get_donation(session, donation_id)",
            ),
        ),
    ): ("refunds",),
    Mutation(
        "budget_line_unlocked",
        "procurement/budget.py lock_lines: budget lines FOR UPDATE",
        (
            (
                "procurement/budget.py",
                "            .order_by(BudgetLine.id)\n            .with_for_update()\n",
                "            .order_by(BudgetLine.id)\n",
            ),
        ),
    ): ("tenders", "milestone_payments"),
    Mutation(
        "stripe_gift_unlocked",
        "funds/stripe_events.py _find_donation: fund, then donation FOR UPDATE before a notice is applied",
        (
            (
                "funds/stripe_events.py",
                "    await get_fund(session, donation.fund_id, lock=True)\n"
                "    return await gifts.get_donation(session, donation_id, lock=True)",
                "    return donation",
            ),
        ),
    ): ("webhook",),
    # Paying a run once has two layers, each enough alone (a mutant without the run's lock is still held by the
    # line's): the run's row lock before its status is read, and the line lock under which ``budget.pay`` refuses
    # more than the unpaid commitment. The mutant takes both away.
    Mutation(
        "allowance_pay_unguarded",
        "procurement/allowances.py _run(lock=True) and procurement/budget.py lock_lines: run row, then budget lines",
        (
            (
                "procurement/allowances.py",
                "    if lock:\n        stmt = stmt.with_for_update()\n    run = await session.scalar(stmt)",
                "    run = await session.scalar(stmt)",
            ),
            (
                "procurement/budget.py",
                "            .order_by(BudgetLine.id)\n            .with_for_update()\n",
                "            .order_by(BudgetLine.id)\n",
            ),
        ),
    ): ("allowance_pay",),
    Mutation(
        "bank_refund_unlocked",
        "funds/corrections.py apply (refund): fund, then gift FOR UPDATE before what is left is compared",
        (
            (
                "funds/corrections.py",
                "        await get_fund(session, recon.fund_id, lock=True)\n"
                "        gift = await gifts.get_donation(session, gift.id, lock=True)\n",
                "",
            ),
        ),
    ): ("reconciliation_refunds",),
    Mutation(
        "festival_plan_unlocked",
        "procurement/festivals.py _plan(lock=True): the plan's row FOR UPDATE before who is paid is read",
        (
            (
                "procurement/festivals.py",
                "        stmt = stmt.with_for_update().execution_options(populate_existing=True)\n",
                "        pass\n",
            ),
        ),
    ): ("festival_runs",),
}
