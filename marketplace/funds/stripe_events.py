"""Stripe's webhook events: an inbox keyed by event id, and how each event moves a donation.

The webhook endpoint only verifies, stores and acknowledges; the work happens in an outbox handler, after
commit, in its own transaction. Events may arrive twice, late or out of order: an event id is stored once,
every ledger posting is keyed by the Stripe object it records (PaymentIntent, refund, balance transaction),
and status only moves forward, so any delivery order ends in the same books (tests/funds/test_stripe_orderings.py
sends every order of a payment's, a refund's and a dispute's notices, with a duplicate). A dispute the fund lost
(``charge.dispute.closed``, status ``lost``) takes the money back like a refund keyed by the dispute's id; one that
overtakes its payment's notice waits, as a refund does.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, outbox
from marketplace.funds import channels, runtime
from marketplace.funds import donations as gifts
from marketplace.funds.models import Donation, StripeEvent
from marketplace.funds.service import get_fund

log = logging.getLogger("marketplace.funds")
TOPIC = "funds.stripe_event"
DEFERRED = "deferred: refund before payment"
FEE_TOPIC = "funds.stripe_fee"


async def store_event(session: AsyncSession, event: dict[str, Any]) -> tuple[StripeEvent, bool]:
    """Put a verified event in the inbox; (row, True) the first time, (row, False) on a redelivery."""
    event_id = str(event["id"])[:120]
    existing = await session.scalar(select(StripeEvent).where(StripeEvent.event_id == event_id))
    if existing is not None:
        return existing, False
    row = StripeEvent(event_id=event_id, type=str(event["type"])[:80], payload=event)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # A concurrent delivery of the same event won the race (PostgreSQL).
        existing = await session.scalar(select(StripeEvent).where(StripeEvent.event_id == event_id))
        assert existing is not None
        return existing, False
    outbox.emit(session, TOPIC, {"stripe_event_id": row.id})
    return row, True


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _day(epoch: Any) -> dt.date:
    if isinstance(epoch, int | float) and epoch > 0:
        return dt.datetime.fromtimestamp(epoch, tz=clock.DISTRICT_TZ).date()
    return clock.today()


async def _find_donation(session: AsyncSession, obj: dict[str, Any]) -> Donation | None:
    """The donation a Stripe object is about: by PaymentIntent, charge, or our own id in the metadata."""
    intent = obj.get("id") if obj.get("object") == "payment_intent" else _id(obj.get("payment_intent"))
    charge = obj.get("id") if obj.get("object") == "charge" else _id(obj.get("charge"))
    clauses = []
    if intent:
        clauses.append(Donation.external_id == intent)
    if charge:
        clauses.append(Donation.charge_id == charge)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and str(metadata.get("donation_id", "")).isdigit():
        clauses.append(Donation.id == int(metadata["donation_id"]))
    if not clauses:
        return None
    donation_id = await session.scalar(
        select(Donation.id).where(Donation.channel == "stripe", or_(*clauses)).order_by(Donation.id).limit(1)
    )
    if donation_id is None:
        return None
    donation = await gifts.get_donation(session, donation_id)
    # Lock order everywhere: the fund, then the donation.
    await get_fund(session, donation.fund_id, lock=True)
    return await gifts.get_donation(session, donation_id, lock=True)


async def _succeed(session: AsyncSession, donation: Donation, *, intent_id: str | None, amount: int, when: Any) -> None:
    if intent_id and donation.external_id is None:
        donation.external_id = intent_id
    landed = await gifts.mark_succeeded(
        session,
        donation,
        amount_fen=amount,
        event_key=f"stripe:payment:{donation.external_id or donation.id}",
        received_on=_day(when),
    )
    if landed:
        await _apply_deferred_refunds(session, donation)


async def _apply_deferred_refunds(session: AsyncSession, donation: Donation) -> None:
    """Refund notices that overtook this payment's success notice: apply them now, in the same transaction.

    A notice whose row another transaction holds is being handled right now: that transaction locked the row
    first and waits for the fund's lock this one holds, and once it has it, it finds the donation paid and applies
    the refund itself. So such rows are skipped (``SKIP LOCKED``), not waited for: waiting would be a deadlock
    (this one holds the fund and wants the row; that one holds the row and wants the fund)."""
    rows = await session.scalars(
        select(StripeEvent)
        .where(StripeEvent.processed_at.is_(None), StripeEvent.outcome == DEFERRED)
        .order_by(StripeEvent.id)
        .with_for_update(skip_locked=True)
    )
    for row in rows.all():
        obj = row.payload.get("data", {}).get("object", {})
        if not isinstance(obj, dict):
            continue
        if _id(obj.get("payment_intent")) != donation.external_id and _id(obj.get("charge")) != donation.charge_id:
            continue
        if obj.get("object") == "dispute":
            await _dispute_lost(session, donation, obj)
        else:
            await _refund(session, donation, obj)
        row.outcome = f"applied to donation {donation.id} after its payment"
        row.processed_at = clock.now()


async def _charge_seen(session: AsyncSession, donation: Donation, charge: Any) -> None:
    """Note the charge id and its fee. Events never expand the balance transaction, so the fee is usually
    fetched from Stripe here; if Stripe cannot be reached the fetch is queued to retry, and the payment
    itself stays recorded either way."""
    charge_id = _id(charge)
    if charge_id and donation.charge_id is None:
        donation.charge_id = charge_id
    txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
    if isinstance(txn, dict) and isinstance(txn.get("fee"), int):
        await gifts.record_fee(session, donation, fee_fen=int(txn["fee"]), key=f"stripe:fee:{txn.get('id')}")
        return
    payload: dict[str, Any] = {"donation_id": donation.id}
    if isinstance(txn, str):
        payload["balance_transaction"] = txn
    elif charge_id:
        payload["charge_id"] = charge_id
    else:
        return
    try:
        await fetch_fee(session, payload)
    except Exception:
        log.warning("fee of donation %s not fetched now; queued to retry", donation.id, exc_info=True)
        outbox.emit(session, FEE_TOPIC, payload)


async def fetch_fee(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Read the fee Stripe took from the charge's balance transaction and post it (once per transaction)."""
    channel = channels.StripeChannel(runtime.settings_for(session))
    txn_id = payload.get("balance_transaction")
    if not txn_id and payload.get("charge_id"):
        txn_id = await channel.balance_transaction_of_charge(str(payload["charge_id"]))
    if not txn_id:
        return
    fee = await channel.fee_of(str(txn_id))
    donation = await gifts.get_donation(session, int(payload["donation_id"]), lock=True)
    await gifts.record_fee(session, donation, fee_fen=fee, key=f"stripe:fee:{txn_id}")


async def _refunds_of_charge(session: AsyncSession, donation: Donation, charge: dict[str, Any]) -> None:
    refunds = charge.get("refunds")
    items = refunds.get("data") if isinstance(refunds, dict) else None
    for refund in items or []:
        if isinstance(refund, dict):
            await _refund(session, donation, refund)


async def _refund(session: AsyncSession, donation: Donation, refund: dict[str, Any]) -> None:
    refund_id = _id(refund)
    amount = refund.get("amount")
    if not refund_id or not isinstance(amount, int) or amount <= 0 or refund.get("status") not in (None, "succeeded"):
        return
    await gifts.record_refund(session, donation, refund_id=refund_id, amount_fen=amount, on=_day(refund.get("created")))


async def _dispute_lost(session: AsyncSession, donation: Donation, dispute: dict[str, Any]) -> None:
    """A dispute the fund lost takes the disputed money back: recorded like a refund, keyed by the dispute's id
    (a won dispute, or one still open, changes nothing: Stripe returns what it withheld)."""
    dispute_id = _id(dispute)
    amount = dispute.get("amount")
    if not dispute_id or not isinstance(amount, int) or amount <= 0 or dispute.get("status") != "lost":
        return
    left = donation.amount_fen - donation.refunded_fen
    if left <= 0:
        return
    await gifts.record_refund(
        session, donation, refund_id=dispute_id, amount_fen=min(amount, left), on=_day(dispute.get("created"))
    )


async def apply_event(session: AsyncSession, event: dict[str, Any]) -> str:
    """Move the books as the event says; returns a short outcome for the inbox row."""
    kind = str(event.get("type", ""))
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return "ignored: no object"
    donation = await _find_donation(session, obj)
    if donation is None:
        return "ignored: not one of our donations"
    if kind == "payment_intent.succeeded":
        amount = obj.get("amount_received") or obj.get("amount")
        if not isinstance(amount, int) or amount <= 0:
            return "ignored: no amount"
        # The day the money moved: the charge's, else the event's (an intent may be days older than its payment).
        charge = obj.get("latest_charge")
        when = charge.get("created") if isinstance(charge, dict) and charge.get("created") else event.get("created")
        await _succeed(session, donation, intent_id=_id(obj), amount=amount, when=when)
        if obj.get("latest_charge"):
            await _charge_seen(session, donation, obj["latest_charge"])
    elif kind in ("charge.succeeded", "charge.captured", "charge.refunded", "charge.updated"):
        if obj.get("status") != "succeeded" or not obj.get("captured", True):
            return "ignored: charge not succeeded"
        amount = obj.get("amount_captured") or obj.get("amount")
        if not isinstance(amount, int) or amount <= 0:
            return "ignored: no amount"
        # A refund notice can overtake the success notice: a refunded charge had succeeded.
        await _succeed(
            session, donation, intent_id=_id(obj.get("payment_intent")), amount=amount, when=obj.get("created")
        )
        await _charge_seen(session, donation, obj)
        if kind == "charge.refunded":
            await _refunds_of_charge(session, donation, obj)
    elif kind in ("refund.created", "refund.updated", "charge.refund.updated"):
        if donation.status not in gifts.PAID:
            return DEFERRED
        await _refund(session, donation, obj)
    elif kind == "charge.dispute.closed":
        if obj.get("status") != "lost":
            return f"noted: dispute {obj.get('status')}"
        if donation.status not in gifts.PAID:
            return DEFERRED
        await _dispute_lost(session, donation, obj)
    elif kind == "payment_intent.processing":
        gifts.move_forward(donation, "process")
    elif kind == "payment_intent.payment_failed":
        gifts.move_forward(donation, "fail")
        # Keep the failed charge's id: if Stripe later settles it anyway, reconciliation shows the status gap.
        charge_id = _id(obj.get("latest_charge"))
        if charge_id and donation.charge_id is None:
            donation.charge_id = charge_id
    elif kind == "payment_intent.canceled":
        gifts.move_forward(donation, "cancel")
    else:
        return f"ignored: {kind}"
    await session.flush()
    return f"applied to donation {donation.id}: {donation.status}"


async def process_inbox_row(session: AsyncSession, stripe_event_id: int) -> None:
    row = await session.scalar(
        select(StripeEvent)
        .where(StripeEvent.id == stripe_event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.processed_at is not None:
        return
    outcome = await apply_event(session, dict(row.payload))
    row.outcome = outcome[:300]
    if outcome != DEFERRED:
        # A deferred refund stays unprocessed until its payment's notice applies it.
        row.processed_at = clock.now()
