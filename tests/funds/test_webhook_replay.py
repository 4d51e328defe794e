"""Stripe's worst day: 200 events, each delivered 1-5 times, shuffled and concurrent, plus forgeries.

Nothing may be lost, nothing counted twice, forgeries and stale replays are refused with a 400 problem,
and at the end the ledger equals Stripe's own totals.
"""

from __future__ import annotations

import asyncio
import random
import time

from sqlalchemy import func, select

from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds import ledger
from marketplace.funds import service as funds
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import Donation, DonationRefund, Receipt, StripeEvent
from tests.funds.support import body, event, intent_succeeded, refund, sign

SECRET = "whsec_test_secret"


async def test_two_hundred_events_replayed_shuffled_and_concurrent(client, db: Database, fund_id: int) -> None:
    rng = random.Random(4)
    channel = StripeChannel(db.settings)  # the pledges start at localstripe; the notices model Stripe's fees
    pledges: list[tuple[int, str, int]] = []
    async with db.session() as s:
        for i in range(120):
            amount = rng.randrange(1_000, 200_000)
            started = await gifts.start_online(
                s,
                channel,
                fund_id=fund_id,
                amount_fen=amount,
                donor=gifts.DonorInput(name=f"捐赠人{i}"),
                designation=None,
            )
            pledges.append((started.donation.id, started.donation.external_id or "", amount))

    events: list[dict] = []
    paid = fees = refunded = 0
    for i, (donation_id, intent, amount) in enumerate(pledges):
        fee = amount * 3 // 100
        events.append(
            event(f"evt_pay_{i}", "payment_intent.succeeded", intent_succeeded(donation_id, intent, amount, fee=fee))
        )
        paid += amount
        fees += fee
    # 80 refunds over 60 donations: 20 of them get two partial refunds of equal amount.
    for j, (_, intent, amount) in enumerate(pledges[:60]):
        charge = f"ch_{intent[3:]}"
        if j < 20:
            half = amount // 4
            events.append(event(f"evt_ref_{j}_a", "refund.created", refund(f"re_{j}_a", intent, charge, half)))
            events.append(event(f"evt_ref_{j}_b", "refund.created", refund(f"re_{j}_b", intent, charge, half)))
            refunded += 2 * half
        else:
            events.append(event(f"evt_ref_{j}", "refund.created", refund(f"re_{j}", intent, charge, amount)))
            refunded += amount
    assert len(events) == 200

    now = int(time.time())  # noqa: TID251 - Stripe signatures are checked against the real time
    deliveries: list[tuple[bytes, str, int]] = []  # (body, signature header, expected status)
    for evt in events:
        raw = body(evt)
        for _ in range(rng.randint(1, 5)):
            deliveries.append((raw, sign(raw, SECRET, now), 200))
        if rng.random() < 0.15:
            forged = raw.replace(b'"amount":', b'"amount":1', 1)
            deliveries.append((forged, sign(raw, SECRET, now), 400))  # body changed after signing
        if rng.random() < 0.1:
            deliveries.append((raw, sign(raw, SECRET, now - 3_600), 400))  # a stale replay
        if rng.random() < 0.05:
            deliveries.append((raw, sign(raw, "whsec_someone_else", now), 400))
    rng.shuffle(deliveries)

    gate = asyncio.Semaphore(4)

    async def send(raw: bytes, header: str) -> tuple[int, str]:
        async with gate:
            r = await client.post(
                "/api/v1/webhooks/stripe",
                content=raw,
                headers={"stripe-signature": header, "content-type": "application/json"},
            )
            return r.status_code, r.headers.get("content-type", "")

    results = await asyncio.gather(*(send(raw, header) for raw, header, _ in deliveries))
    for (status, ctype), (_, _, expected) in zip(results, deliveries, strict=True):
        assert status == expected
        if expected == 400:
            assert ctype.startswith("application/problem+json")
    assert sum(1 for _, _, e in deliveries if e == 400) > 10

    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(StripeEvent)) == 200
        unprocessed = await s.scalar(select(func.count()).where(StripeEvent.processed_at.is_(None)))
        assert unprocessed == 0
        assert await s.scalar(select(func.count()).select_from(DonationRefund)) == 80
        assert await ledger.trial_balance(s) == 0
        b = await funds.fund_balances(s, await funds.get_fund(s, fund_id))
        assert b.income_fen == paid - refunded
        assert b.fees_fen == fees
        assert b.cash_fen == paid - refunded - fees
        statuses = dict((await s.execute(select(Donation.status, func.count()).group_by(Donation.status))).all())
        assert statuses == {"succeeded": 60, "partially_refunded": 20, "refunded": 40}
        # Receipts: one live per gift with money kept, consecutive numbers, voided ones for every refund.
        live = await s.scalar(select(func.count()).where(Receipt.voided_at.is_(None)))
        assert live == 80
        seqs = sorted((await s.scalars(select(Receipt.seq))).all())
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 120 + 20 * 2
