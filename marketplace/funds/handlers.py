"""Outbox handlers of the fund: Stripe events, and fees whose fetch from Stripe has to be retried."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.funds import stripe_events

# The fund's ledger and its disclosures are the record of these; nothing else follows from them (yet): the rows
# mark the moment for whoever reads the outbox (a future notification to donors would become their handler).
outbox.record_only("funds.disbursed", "the disbursement is in the ledger and the fund's disclosures; nothing follows")
outbox.record_only("funds.donation_succeeded", "the gift is in the ledger and its receipt is printed on demand")


@outbox.handler(stripe_events.TOPIC)
async def on_stripe_event(session: AsyncSession, payload: dict[str, Any]) -> None:
    await stripe_events.process_inbox_row(session, int(payload["stripe_event_id"]))


@outbox.handler(stripe_events.FEE_TOPIC)
async def on_stripe_fee(session: AsyncSession, payload: dict[str, Any]) -> None:
    await stripe_events.fetch_fee(session, payload)
