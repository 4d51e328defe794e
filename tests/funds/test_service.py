from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.errors import Conflict, Forbidden
from marketplace.funds import donations as gifts
from marketplace.funds import runtime, stripe_events
from marketplace.funds import service as funds
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import Donation
from tests.conftest import BACKEND
from tests.funds.support import FakeChannel, event, intent_succeeded
from tests.support.world import World

FM = Principal(user_id=1, username="fund", role="fund_manager")


async def _gift(s, fund_id: int, amount: int, designation: gifts.Designation | None) -> None:
    await gifts.record_offline(
        s,
        FM,
        fund_id=fund_id,
        amount_fen=amount,
        channel="cash",
        donor=gifts.DonorInput(name="捐赠人"),
        designation=designation,
        received_on=clock.today(),
        reference=None,
    )


async def test_funding_available_puts_matching_restricted_money_first(db: Database, world: World, fund_id: int) -> None:
    street, other_street = world.streets
    service = world.services[0]
    async with db.session() as s:
        await _gift(s, fund_id, 50_000, None)
        await _gift(s, fund_id, 30_000, gifts.Designation(category="psych_counselling"))
        await _gift(s, fund_id, 20_000, gifts.Designation(street_id=street))
        await _gift(s, fund_id, 10_000, gifts.Designation(service_id=service))
        await _gift(s, fund_id, 99_000, gifts.Designation(street_id=other_street))
        await _gift(s, fund_id, 7_000, gifts.Designation(category="legal_aid"))
        # The counselling service lists the street: the street's money may pay it.
        await funds.disburse(s, FM, fund_id, amount_fen=20_000, purpose=f"street:{street}", service_id=service)
    async with db.session(write=False) as s:
        options = await funds.funding_available(s, category="psych_counselling", street_id=street, service_id=service)
        assert [(o.purpose, o.available_fen) for o in options] == [
            (f"service:{service}", 10_000),
            ("category:psych_counselling", 30_000),
            ("unrestricted", 50_000),
        ]  # the street's restricted money is spent, and nothing restricted elsewhere is offered
        assert all(o.fund_id == fund_id for o in options) and options[0].restricted and not options[-1].restricted
        only = await funds.funding_available(s, category=None, street_id=None, service_id=None)
        assert [o.purpose for o in only] == ["unrestricted"]


async def test_roles_are_checked_in_the_service(db: Database, world: World, fund_id: int) -> None:
    async with db.session() as s:
        for role in ("district_admin", "auditor", "child_director", "org_staff"):
            with pytest.raises(Forbidden):
                await funds.disburse(s, Principal(2, "x", role), fund_id, amount_fen=1, purpose="unrestricted")
        for role in ("child_director", "org_staff", "procurement_officer", "child_supervisor"):
            with pytest.raises(Forbidden):
                await funds.read_fund(s, Principal(2, "x", role), fund_id)


async def test_fee_is_fetched_from_the_balance_transaction_or_queued(
    db: Database, world: World, fund_id: int, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.remember(settings)
    calls: list[str] = []

    async def bt_of_charge(self: StripeChannel, charge_id: str) -> str:
        calls.append(charge_id)
        if charge_id.endswith("down"):
            raise OSError("stripe unreachable")
        return f"txn_{charge_id}"

    async def fee_of(self: StripeChannel, txn: str) -> int:
        return 321

    # On the fake channel: Stripe unreachable for one charge's fee and a fee of 321 fen for the other, which
    # localstripe (no fees, always reachable) cannot produce.

    monkeypatch.setattr(StripeChannel, "balance_transaction_of_charge", bt_of_charge)
    monkeypatch.setattr(StripeChannel, "fee_of", fee_of)
    channel = FakeChannel()
    ids = []
    async with db.session() as s:
        for _ in range(2):
            started = await gifts.start_online(
                s, channel, fund_id=fund_id, amount_fen=10_000, donor=gifts.DonorInput(name="x"), designation=None
            )
            ids.append((started.donation.id, started.donation.external_id or ""))
    for (donation_id, intent), charge in zip(ids, ["ch_ok", "ch_down"], strict=True):
        obj = intent_succeeded(donation_id, intent, 10_000)
        obj["latest_charge"] = charge  # what Stripe really sends: an id, not the expanded charge
        async with db.session() as s:
            await stripe_events.store_event(s, event(f"evt_{charge}", "payment_intent.succeeded", obj))
        async with db.session() as s:
            row = await s.scalar(
                select(stripe_events.StripeEvent).where(stripe_events.StripeEvent.event_id == f"evt_{charge}")
            )
            await stripe_events.process_inbox_row(s, row.id)
    async with db.session(write=False) as s:
        ok, down = (await s.get(Donation, ids[0][0])), (await s.get(Donation, ids[1][0]))
        assert ok.fee_fen == 321 and ok.charge_id == "ch_ok" and ok.status == "succeeded"
        assert down.fee_fen == 0 and down.status == "succeeded"  # the payment is recorded all the same
        queued = (
            await s.scalars(select(outbox.OutboxEvent).where(outbox.OutboxEvent.topic == stripe_events.FEE_TOPIC))
        ).all()
        assert [e.payload for e in queued] == [{"donation_id": ids[1][0], "charge_id": "ch_down"}]
    # Stripe is back: the retried job posts the fee once, however often it runs.
    monkeypatch.setattr(StripeChannel, "balance_transaction_of_charge", lambda self, c: _txn(c))
    for _ in range(2):
        async with db.session() as s:
            await stripe_events.fetch_fee(s, queued[0].payload)
    async with db.session(write=False) as s:
        assert (await s.get(Donation, ids[1][0])).fee_fen == 321
        b = await funds.fund_balances(s, await funds.get_fund(s, fund_id))
        assert b.fees_fen == 642 and b.cash_fen == 20_000 - 642


async def _txn(charge_id: str) -> str:
    return f"txn_{charge_id}"


async def test_refund_of_spent_restricted_money_and_purpose_change_limits(
    db: Database, world: World, fund_id: int
) -> None:
    async with db.session() as s:
        d = await gifts.record_offline(
            s,
            FM,
            fund_id=fund_id,
            amount_fen=10_000,
            channel="bank_transfer",
            donor=gifts.DonorInput(name="y"),
            designation=gifts.Designation(category="education_aid"),
            received_on=clock.today(),
            reference="T-1",
        )
        await funds.disburse(
            s, FM, fund_id, amount_fen=6_000, purpose="category:education_aid", service_id=world.services[1]
        )
        with pytest.raises(Conflict):  # 6,000 of it is spent: it cannot be re-designated any more
            await gifts.change_purpose(s, FM, d.id, purpose="unrestricted", consent_note="同意", consent_reference="函")
        with pytest.raises(Conflict):
            await gifts.refund_offline(s, FM, d.id, amount_fen=10_001, reference="RT-1", reason="x")
        await gifts.refund_offline(s, FM, d.id, amount_fen=4_000, reference="RT-1", reason="部分退回")
        with pytest.raises(Conflict):
            await gifts.refund_offline(s, FM, d.id, amount_fen=1, reference="RT-1", reason="重复")
        assert await funds.purpose_available(s, fund_id, "category:education_aid") == 0


async def test_concurrent_disbursements_never_overspend(db: Database, world: World, fund_id: int) -> None:
    """Six fund managers pay 30,000 each out of 100,000 at the same moment: exactly three succeed."""
    import asyncio

    async with db.session() as s:
        await _gift(s, fund_id, 100_000, None)

    async def pay() -> str:
        try:
            async with db.session() as s:
                await funds.disburse(s, FM, fund_id, amount_fen=30_000, purpose="unrestricted")
                await asyncio.sleep(0.05)  # hold the transaction open so the others really overlap
            return "paid"
        except Conflict:
            return "refused"

    outcomes = sorted(await asyncio.gather(*(pay() for _ in range(6))))
    assert outcomes == ["paid"] * 3 + ["refused"] * 3
    async with db.session(write=False) as s:
        assert await funds.purpose_available(s, fund_id, "unrestricted") == 10_000


async def _payment_and_refund(db: Database, fund_id: int, suffix: str) -> tuple[int, dict, dict]:
    """A Stripe donation of 90 yuan started, with its payment notice and a 10-yuan refund notice (not delivered)."""
    from tests.funds.support import refund

    async with db.session() as s:
        started = await gifts.start_online(
            s,
            StripeChannel(db.settings),
            fund_id=fund_id,
            amount_fen=9_000,
            donor=gifts.DonorInput(name="z"),
            designation=None,
        )
    donation_id, intent = started.donation.id, started.donation.external_id or ""
    pay = event(f"evt_pay{suffix}", "payment_intent.succeeded", intent_succeeded(donation_id, intent, 9_000, fee=90))
    back = event(f"evt_back{suffix}", "refund.created", refund(f"re_{suffix}", intent, f"ch_{intent[3:]}", 1_000))
    return donation_id, pay, back


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks: SQLite serialises whole transactions instead")
async def test_a_payment_does_not_wait_for_a_refund_notice_another_transaction_is_handling(
    db: Database, world: World, fund_id: int
) -> None:
    """A payment's notice applies the refund notices that overtook it, but skips one whose row another transaction
    holds (that one is handling it and will find the donation paid): waiting for it was a deadlock, since that
    transaction waits for the fund this one holds."""
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession

    from marketplace.funds.models import StripeEvent

    donation_id, pay, back = await _payment_and_refund(db, fund_id, "held")
    async with db.session() as s:
        back_row, _ = await stripe_events.store_event(s, back)
        pay_row, _ = await stripe_events.store_event(s, pay)
    async with db.session() as s:
        await stripe_events.process_inbox_row(s, back_row.id)  # overtook the payment: deferred
    holder: AsyncSession
    async with db.sessionmaker() as holder:
        # Another delivery of the refund notice is being handled: its transaction holds the row.
        await holder.scalar(select(StripeEvent).where(StripeEvent.id == back_row.id).with_for_update())

        async def pay_now() -> None:
            async with db.session() as s:
                await stripe_events.process_inbox_row(s, pay_row.id)

        await asyncio.wait_for(pay_now(), timeout=10)  # would wait for the holder (a deadlock in real life)
        await holder.rollback()
    async with db.session() as s:
        await stripe_events.process_inbox_row(s, back_row.id)  # the other delivery goes on and applies it
    async with db.session(write=False) as s:
        d = await s.get(Donation, donation_id)
        assert d is not None and (d.status, d.refunded_fen) == ("partially_refunded", 1_000)
        rows = (await s.scalars(select(StripeEvent).where(StripeEvent.id.in_([back_row.id, pay_row.id])))).all()
        assert all(r.processed_at is not None for r in rows)


async def test_same_event_delivered_concurrently_is_counted_once(db: Database, world: World, fund_id: int) -> None:
    """Concurrent copies of one event and its sibling notices, each in its own transaction (truly parallel on
    PostgreSQL): one inbox row per event id, one payment, one fee, one refund."""
    import asyncio

    donation_id, pay, back = await _payment_and_refund(db, fund_id, "z")

    async def deliver(evt: dict) -> None:
        async with db.session() as s:
            await stripe_events.store_event(s, evt)
            await asyncio.sleep(0.02)
        async with db.session() as s:
            rows = await s.scalars(
                select(stripe_events.StripeEvent.id).where(stripe_events.StripeEvent.processed_at.is_(None))
            )
            ids = list(rows.all())
        for row_id in ids:
            async with db.session() as s:
                await stripe_events.process_inbox_row(s, row_id)

    await asyncio.gather(*(deliver(e) for e in [pay, back, pay, back, pay, pay, back]))
    async with db.session(write=False) as s:
        d = await s.get(Donation, donation_id)
        assert d is not None and (d.status, d.refunded_fen, d.fee_fen) == ("partially_refunded", 1_000, 90)
        events = (await s.scalars(select(stripe_events.StripeEvent))).all()
        assert len(events) == 2 and all(e.processed_at is not None for e in events)
        b = await funds.fund_balances(s, await funds.get_fund(s, fund_id))
        assert (b.income_fen, b.fees_fen, b.cash_fen) == (8_000, 90, 7_910)
