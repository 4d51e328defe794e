"""Pending gifts expire against the Stripe fake (localstripe): the real client cancels the PaymentIntent; one
paid meanwhile cannot be cancelled and the gift is kept for its success notice."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import stripe

from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds import expiry
from marketplace.funds import service as funds
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import Donation
from marketplace.settings import Settings
from tests.integration.conftest_stripe import localstripe

pytestmark = pytest.mark.integration
__all__ = ["localstripe"]


async def test_expiry_cancels_the_payment_intent_in_stripe(
    settings: Settings, localstripe: str, frozen_clock: Any
) -> None:
    live = dataclasses.replace(settings, stripe_api_base=localstripe, stripe_api_key="sk_test_local")
    db = Database(live)
    channel = StripeChannel(live)
    start = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    frozen_clock(start)
    try:
        async with db.session() as s:
            fund = await funds.ensure_fund(s, code="futian_public_welfare", name="福田区未成年人保护公益基金")
            unpaid, paid = [
                (
                    await gifts.start_online(
                        s,
                        channel,
                        fund_id=fund.id,
                        amount_fen=5_000,
                        donor=gifts.DonorInput(name=f"线上爱心人士{n}"),
                        designation=None,
                    )
                ).donation
                for n in range(2)
            ]
            ids = {unpaid.id: unpaid.external_id, paid.id: paid.external_id}
        client = stripe.StripeClient("sk_test_local", base_addresses={"api": localstripe})  # type: ignore[typeddict-item]
        pm = client.v1.payment_methods.create(
            {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}  # type: ignore[typeddict-item]
        )
        client.v1.payment_intents.update(str(ids[paid.id]), {"payment_method": pm.id})
        client.v1.payment_intents.confirm(str(ids[paid.id]))

        frozen_clock(start + dt.timedelta(hours=live.pending_donation_hours, minutes=1))
        run = await expiry.expire_pending(db, channel)
        assert run.expired == [unpaid.id] and run.kept == [paid.id]
        assert client.v1.payment_intents.retrieve(str(ids[unpaid.id])).status == "canceled"
        assert client.v1.payment_intents.retrieve(str(ids[paid.id])).status == "succeeded"
        async with db.session(write=False) as s:
            assert (await s.get(Donation, unpaid.id)).status == "expired"  # type: ignore[union-attr]
            assert (await s.get(Donation, paid.id)).status == "pending"  # type: ignore[union-attr]
        # Cancelling again (a second run racing the first) is harmless.
        await channel.cancel_payment(str(ids[unpaid.id]))
    finally:
        await db.dispose()
