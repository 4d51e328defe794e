"""Stripe's notices in every order (issue #17): for a payment, a refund and a dispute, each permutation of the
notices Stripe sends, with one of them delivered twice, signed with the webhook secret the way Stripe signs and
posted to the webhook endpoint, must leave the gift's state and its ledger postings exactly as the canonical order
does. The sibling notices (``charge.succeeded`` beside ``payment_intent.succeeded``; ``charge.refunded`` beside
``refund.created`` / ``refund.updated``) carry the same money: only the guards keep it from counting twice."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import (
    Donation,
    JournalEntry,
    LedgerAccount,
    Posting,
    Receipt,
    StripeEvent,
)
from tests.funds.support import body, event, intent_succeeded, sign

SECRET = "whsec_test_secret"
AMOUNT = 10_000
FEE = 300
REFUND = 4_000

Notice = dict[str, Any]


def _charge(donation_id: int, intent: str, **extra: Any) -> dict[str, Any]:
    charge = f"ch_{intent[3:]}"
    return {
        "id": charge,
        "object": "charge",
        "amount": AMOUNT,
        "amount_captured": AMOUNT,
        "captured": True,
        "status": "succeeded",
        "paid": True,
        "payment_intent": intent,
        "metadata": {"donation_id": str(donation_id)},
        "balance_transaction": {"id": f"txn_{charge}", "object": "balance_transaction", "fee": FEE},
        **extra,
    }


def _refund(intent: str, status: str) -> dict[str, Any]:
    return {
        "id": f"re_{intent[3:]}",
        "object": "refund",
        "amount": REFUND,
        "charge": f"ch_{intent[3:]}",
        "payment_intent": intent,
        "status": status,
    }


def _dispute(intent: str, status: str) -> dict[str, Any]:
    return {
        "id": f"dp_{intent[3:]}",
        "object": "dispute",
        "amount": AMOUNT,
        "charge": f"ch_{intent[3:]}",
        "payment_intent": intent,
        "reason": "fraudulent",
        "status": status,
    }


def payment(donation_id: int, intent: str) -> list[Notice]:
    return [
        event(f"evt_pi_{intent}", "payment_intent.succeeded", intent_succeeded(donation_id, intent, AMOUNT, fee=FEE)),
        event(f"evt_ch_{intent}", "charge.succeeded", _charge(donation_id, intent)),
    ]


def refund(donation_id: int, intent: str) -> list[Notice]:
    refunded = _charge(
        donation_id,
        intent,
        amount_refunded=REFUND,
        refunded=False,
        refunds={"object": "list", "data": [_refund(intent, "succeeded")]},
    )
    return [
        *payment(donation_id, intent),
        event(f"evt_chr_{intent}", "charge.refunded", refunded),
        event(f"evt_rc_{intent}", "refund.created", _refund(intent, "succeeded")),
        event(f"evt_ru_{intent}", "refund.updated", _refund(intent, "succeeded")),
    ]


def dispute(donation_id: int, intent: str) -> list[Notice]:
    return [
        *payment(donation_id, intent),
        event(f"evt_dc_{intent}", "charge.dispute.created", _dispute(intent, "needs_response")),
        event(f"evt_dx_{intent}", "charge.dispute.closed", _dispute(intent, "lost")),
    ]


SCENARIOS: dict[str, Callable[[int, str], list[Notice]]] = {"payment": payment, "refund": refund, "dispute": dispute}


async def _pledges(db: Database, fund_id: int, n: int) -> list[tuple[int, str]]:
    """The gifts, started through the app's own Stripe channel at localstripe; their notices here are recorded
    fixtures with a fee (localstripe takes none: test_stripe_orderings_localstripe.py replays its own)."""
    channel = StripeChannel(db.settings)
    made = []
    async with db.session() as s:
        for i in range(n):
            started = await gifts.start_online(
                s,
                channel,
                fund_id=fund_id,
                amount_fen=AMOUNT,
                donor=gifts.DonorInput(name=f"捐赠人{i}"),
                designation=None,
            )
            made.append((started.donation.id, started.donation.external_id or ""))
    return made


async def _snapshot(db: Database, donation_id: int) -> tuple[Any, ...]:
    """What the books and the gift say about one donation: its state, the current receipt's amount, and the sum
    its entries posted to each account."""
    async with db.session(write=False) as s:
        d = await s.get(Donation, donation_id)
        assert d is not None
        receipt = await s.scalar(
            select(Receipt.amount_fen).where(Receipt.donation_id == donation_id, Receipt.voided_at.is_(None))
        )
        rows = await s.execute(
            select(LedgerAccount.code, func.sum(Posting.amount_fen))
            .join(Posting, Posting.account_id == LedgerAccount.id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.memo.startswith(f"捐赠 #{donation_id} "))
            .group_by(LedgerAccount.code)
        )
        books = {code: int(total) for code, total in rows.all() if int(total)}
        return (d.status, d.amount_fen, d.refunded_fen, d.fee_fen, receipt, tuple(sorted(books.items())))


def _orders(notices: list[Notice]) -> list[list[Notice]]:
    """Every permutation, each with one notice delivered a second time (which one, and where, rotates)."""
    out = []
    for i, order in enumerate(itertools.permutations(notices)):
        again = order[i % len(order)]
        at = (i * 7) % (len(order) + 1)
        out.append([*order[:at], again, *order[at:]])
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_order_and_duplication_of_stripes_notices_leaves_the_same_books(
    client: Any, db: Database, fund_id: int, scenario: str
) -> None:
    build = SCENARIOS[scenario]
    n = len(build(0, "pi_x"))
    orders = itertools.permutations(range(n))
    count = sum(1 for _ in orders)
    pledges = await _pledges(db, fund_id, count + 1)

    async def deliver(notices: list[Notice]) -> None:
        for evt in notices:
            raw = body(evt)
            r = await client.post(
                "/api/v1/webhooks/stripe",
                content=raw,
                headers={"stripe-signature": sign(raw, SECRET), "content-type": "application/json"},
            )
            assert r.status_code == 200, r.text

    canonical_id, canonical_intent = pledges[0]
    await deliver(build(canonical_id, canonical_intent))
    canonical = await _snapshot(db, canonical_id)
    assert canonical[0] == {"payment": "succeeded", "refund": "partially_refunded", "dispute": "refunded"}[scenario]
    assert canonical[3] == FEE

    differ = []
    for (donation_id, intent), order in zip(pledges[1:], _orders(build(0, "pi_x")), strict=True):
        # The same order of the same kinds of notice, for this gift's own ids.
        own = {e["type"]: e for e in build(donation_id, intent)}
        notices = [own[e["type"]] for e in order]
        await deliver(notices)
        got = await _snapshot(db, donation_id)
        if got != canonical:
            differ.append(([e["type"] for e in notices], got))
    assert differ == [], f"{len(differ)} of {count} orders differ from {canonical}: {differ[:3]}"

    async with db.session(write=False) as s:
        left = await s.scalar(select(func.count()).where(StripeEvent.processed_at.is_(None)))
        balance = await s.scalar(
            select(func.sum(Posting.amount_fen)).join(LedgerAccount).where(LedgerAccount.code == f"fund:{fund_id}:cash")
        )
    assert left == 0  # no notice left waiting (a refund that overtook its payment was applied with it)
    cash = dict(canonical[5]).get(f"fund:{fund_id}:cash", 0)
    assert balance == cash * (count + 1)
