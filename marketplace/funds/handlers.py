"""Outbox handlers of the fund: Stripe events, and fees whose fetch from Stripe has to be retried."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.funds import stripe_events


@outbox.handler(stripe_events.TOPIC)
async def on_stripe_event(session: AsyncSession, payload: dict[str, Any]) -> None:
    await stripe_events.process_inbox_row(session, int(payload["stripe_event_id"]))


@outbox.handler(stripe_events.FEE_TOPIC)
async def on_stripe_fee(session: AsyncSession, payload: dict[str, Any]) -> None:
    await stripe_events.fetch_fee(session, payload)
