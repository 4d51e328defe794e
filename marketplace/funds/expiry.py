"""Pending online gifts expire: a pledge nobody paid within ``pending_donation_hours`` stops counting as pending.

The periodic job ``funds.expire_pending_donations`` takes each online gift still ``pending`` (or ``failed``: the
donor's card was refused and nothing more happened) created before the cut-off, cancels its Stripe PaymentIntent
through the channel and marks it ``expired`` (transition ``expire``). Nothing was posted for it, so nothing is
reversed: the ledger is untouched. One transaction per gift, each under the fund's then the donation's lock, the
same order as the webhook's.

Money is never lost: if Stripe refuses the cancellation because the intent has been paid meanwhile, the gift is
left as it is and the success notice records the money. If a success notice arrives for a gift already expired
(Stripe settled it after all), it is revived to ``succeeded`` like any late success, with a note on the gift
(``donations.mark_succeeded``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from marketplace import clock
from marketplace.db import Database
from marketplace.funds import donations as gifts
from marketplace.funds import runtime
from marketplace.funds.channels import ChannelUnavailable, PaymentChannel, online_channel
from marketplace.funds.models import Donation
from marketplace.funds.service import get_fund

log = logging.getLogger("marketplace.funds")
EXPIRABLE = ("pending", "failed")


@dataclass
class ExpiryRun:
    expired: list[int] = field(default_factory=list)
    # Left for the next run: the channel could not be reached, or Stripe says the intent is no longer cancellable.
    kept: list[int] = field(default_factory=list)


def cutoff(hours: int) -> dt.datetime:
    return clock.now() - dt.timedelta(hours=hours)


async def expire_pending(db: Database, channel: PaymentChannel | None = None, *, batch: int = 200) -> ExpiryRun:
    """Expire the online gifts unpaid since before the cut-off; returns which were expired and which were kept."""
    settings = db.settings
    runtime.remember(settings)
    channel = channel or online_channel(settings)
    before = cutoff(settings.pending_donation_hours)
    async with db.session(write=False) as session:
        ids = list(
            (
                await session.scalars(
                    select(Donation.id)
                    .where(
                        Donation.channel == channel.code,
                        Donation.status.in_(EXPIRABLE),
                        Donation.created_at < before,
                    )
                    .order_by(Donation.id)
                    .limit(batch)
                )
            ).all()
        )
    run = ExpiryRun()
    for donation_id in ids:
        if await _expire_one(db, channel, donation_id, before):
            run.expired.append(donation_id)
        else:
            run.kept.append(donation_id)
    return run


async def _expire_one(db: Database, channel: PaymentChannel, donation_id: int, before: dt.datetime) -> bool:
    async with db.session() as session:
        fund_id = (await gifts.get_donation(session, donation_id)).fund_id
        await get_fund(session, fund_id, lock=True)
        donation = await gifts.get_donation(session, donation_id, lock=True)
        if donation.status not in EXPIRABLE or donation.created_at >= before:
            return False  # paid, or moved on, since the list was read
        if donation.external_id:
            try:
                await channel.cancel_payment(donation.external_id)
            except ChannelUnavailable as exc:
                log.warning("donation %s not expired now: %s", donation_id, exc.detail)
                return False
        donation.status = gifts.DONATION_LIFECYCLE.target(donation.status, "expire")
        hours = db.settings.pending_donation_hours
        donation.note = f"{donation.note} [超过 {hours} 小时未支付，已过期]".strip()[:500]
        await session.flush()
        return True
