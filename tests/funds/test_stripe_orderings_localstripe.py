"""Stripe's notices in every order, taken from localstripe (issue #17): the variant of test_stripe_orderings.py
whose payments, charges and refunds are real objects of the Stripe fake, paid and refunded through the official
stripe library. Each gift is started by the app's own Stripe channel; its ``payment_intent.succeeded`` is the
one localstripe signed and sent; the notices localstripe does not send are made of its objects as it holds them
(``charge.succeeded`` of the paid charge, ``refund.created``/``refund.updated`` of the refund, ``charge.refunded``
of the charge once refunded); a dispute, which localstripe does not have, is a dispute object around localstripe's
charge. Every notice is signed again with the webhook secret for each delivery (as Stripe does on a retry) and
posted to the webhook endpoint, in every permutation with one of them delivered twice. The books and the gift's
state must be the same as after the canonical order; the numbers go to the reliability table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace import clock
from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import StripeEvent
from tests.funds.live import SUITE, LiveStripe
from tests.funds.test_stripe_orderings import _orders, _snapshot
from tests.support import figures

AMOUNT = 10_000
REFUND = 4_000


@dataclass(frozen=True)
class Sent:
    """localstripe's own signed ``payment_intent.succeeded`` for an intent, fetched when it is delivered (localstripe
    sends it about a second after the payment; the payments of a test are all made first, so those seconds overlap)."""

    intent: str


Notice = Sent | dict[str, Any]
Build = Callable[[LiveStripe, int, str], list[tuple[str, Notice]]]


def _dispute(charge: dict[str, Any], status: str) -> dict[str, Any]:
    """localstripe has no disputes: Stripe's dispute object about localstripe's own charge."""
    return {
        "id": f"dp_{charge['id'][3:]}",
        "object": "dispute",
        "amount": charge["amount"],
        "currency": charge["currency"],
        "charge": charge["id"],
        "payment_intent": charge["payment_intent"],
        "reason": "fraudulent",
        "status": status,
        "created": int(clock.timestamp()),
    }


def payment(live: LiveStripe, donation_id: int, intent: str) -> list[tuple[str, Notice]]:
    charge = live.pay(intent)
    assert charge["amount"] == AMOUNT and charge["payment_intent"] == intent
    return [
        ("payment_intent.succeeded", Sent(intent)),
        ("charge.succeeded", live.notice("charge.succeeded", charge)),
    ]


def refund(live: LiveStripe, donation_id: int, intent: str) -> list[tuple[str, Notice]]:
    notices = payment(live, donation_id, intent)
    made = live.refund(intent, REFUND)
    charge = live.charge(made["charge"])
    assert charge["amount_refunded"] == REFUND and charge["refunds"]["data"][0]["id"] == made["id"]
    return [
        *notices,
        ("charge.refunded", live.notice("charge.refunded", charge)),
        ("refund.created", live.notice("refund.created", made)),
        ("refund.updated", live.notice("refund.updated", made)),
    ]


def _dispute_closed(outcome: str) -> Build:
    def build(live: LiveStripe, donation_id: int, intent: str) -> list[tuple[str, Notice]]:
        notices = payment(live, donation_id, intent)
        charge = live.charge(live.intent(intent)["latest_charge"]["id"])
        opened, closed = _dispute(charge, "needs_response"), _dispute(charge, outcome)
        return [
            *notices,
            ("charge.dispute.created", live.notice("charge.dispute.created", opened)),
            ("charge.dispute.closed", live.notice("charge.dispute.closed", closed)),
        ]

    return build


SCENARIOS: dict[str, tuple[Build, str]] = {
    "payment": (payment, "succeeded"),
    "refund": (refund, "partially_refunded"),
    "dispute_lost": (_dispute_closed("lost"), "refunded"),
    "dispute_won": (_dispute_closed("won"), "succeeded"),
}


async def _pledges(db: Database, n: int, fund_id: int) -> list[tuple[int, str]]:
    """``n`` gifts started through the app's own Stripe channel (each a PaymentIntent at localstripe)."""
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


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_order_of_localstripes_notices_leaves_the_same_books(
    client: Any, db: Database, fund_id: int, stripe_live: LiveStripe, scenario: str
) -> None:
    build, final = SCENARIOS[scenario]
    pledges = await _pledges(db, 1, fund_id)
    canonical_id, canonical_intent = pledges[0]
    canonical_notices = build(stripe_live, canonical_id, canonical_intent)
    kinds = [kind for kind, _ in canonical_notices]
    orders = _orders([{"type": kind} for kind in kinds])
    pledges += await _pledges(db, len(orders), fund_id)

    async def deliver(notices: list[Notice]) -> None:
        for notice in notices:
            if isinstance(notice, Sent):
                signed = stripe_live.resigned(stripe_live.succeeded(notice.intent))
            else:
                signed = stripe_live.signed(notice)
            await stripe_live.deliver(client, signed)

    await deliver([n for _, n in canonical_notices])
    canonical = await _snapshot(db, canonical_id)
    assert canonical[0] == final
    assert canonical[3] == 0  # localstripe takes no fee: the fee fetched from it is 0

    # Every gift paid (and refunded, disputed) at localstripe first, then each one's notices in its order.
    made = [dict(build(stripe_live, donation_id, intent)) for donation_id, intent in pledges[1:]]
    differ = []
    for (donation_id, _), own, order in zip(pledges[1:], made, orders, strict=True):
        notices = [own[e["type"]] for e in order]
        await deliver(notices)
        got = await _snapshot(db, donation_id)
        if got != canonical:
            differ.append(([e["type"] for e in order], got))
    figures.record(SUITE, "event orderings replayed", len(orders))
    figures.record(SUITE, "books differing after a reordering", len(differ))
    assert differ == [], f"{len(differ)} of {len(orders)} orders differ from {canonical}: {differ[:3]}"
    assert len(orders) == len(list(itertools.permutations(kinds)))

    async with db.session(write=False) as s:
        left = await s.scalar(select(func.count()).where(StripeEvent.processed_at.is_(None)))
    assert left == 0  # no notice left waiting (a refund that overtook its payment was applied with it)
