"""Property test: whatever happens, in whatever order, the books balance and agree with the money.

Hypothesis drives donations (online and offline), Stripe notices (success, refund) delivered late, twice or
out of order, offline refunds, disbursements and their reversals against a fresh database per example. At
every step the ledger balances and its income less spending equals what the donation, refund and
disbursement records say; once every notice is in, it also equals what "Stripe" (the model) knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.errors import Conflict
from marketplace.funds import donations as gifts
from marketplace.funds import ledger, stripe_events
from marketplace.funds import service as funds
from marketplace.funds.models import Disbursement, Donation, DonationRefund, Receipt
from tests.funds.support import FakeChannel, event, intent_succeeded, refund
from tests.support.databases import test_settings as make_settings
from tests.support.world import build_world

FM = Principal(user_id=1, username="fund", role="fund_manager")
PURPOSES = ["unrestricted", "category:psych_counselling", "category:education_aid"]
amounts = st.integers(min_value=100, max_value=50_000)


class Books(RuleBasedStateMachine):
    template: Any = None
    root: Path | None = None
    counter = itertools.count()

    pledges = Bundle("pledges")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        n = next(self.counter)
        tmp = self.root / f"ex{n}"  # type: ignore[operator]
        tmp.mkdir()
        self.url = self.template.new_database(tmp)
        self.db = Database(make_settings(self.url, tmp))
        # The fake channel: this machine models Stripe's side itself, fees included, which localstripe (every fee
        # 0) cannot produce; it only starts the pledges.
        self.channel = FakeChannel()
        self.queue: list[dict[str, Any]] = []  # notices Stripe has sent and we may still (re)receive
        self.stripe_paid: dict[int, int] = {}  # donation -> amount Stripe took
        self.stripe_refunded: dict[int, int] = {}
        self.stripe_fees = 0
        self.intents: dict[int, str] = {}
        self.fee_of: dict[int, int] = {}
        self.offline_ids: list[int] = []
        self.events = itertools.count(1)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @initialize()
    def setup(self) -> None:
        async def go() -> int:
            async with self.db.session() as s:
                world = await build_world(s)
                fund = await funds.ensure_fund(s, code="f", name="基金")
                # What each purpose pays: a service it may pay (the world's counselling and education-aid services).
                self.payee = {
                    "unrestricted": None,
                    "category:psych_counselling": world.services[0],
                    "category:education_aid": world.services[1],
                }
                return fund.id

        self.fund_id = self.run(go())

    def teardown(self) -> None:
        try:
            while self.queue:
                self._deliver(self.queue.pop(0))
            self.run(self._check_against_stripe())
        finally:
            self.run(self.db.dispose())
            self.loop.close()
            if hasattr(self.template, "drop"):
                self.template.drop(self.url)

    # ------------------------------------------------------------ rules

    @rule(target=pledges, amount=amounts, purpose=st.sampled_from(PURPOSES))
    def pledge(self, amount: int, purpose: str) -> int:
        kind, _, value = purpose.partition(":")
        designation = gifts.Designation(category=value) if kind == "category" else None

        async def go() -> int:
            async with self.db.session() as s:
                started = await gifts.start_online(
                    s,
                    self.channel,
                    fund_id=self.fund_id,
                    amount_fen=amount,
                    donor=gifts.DonorInput(name="捐赠人"),
                    designation=designation,
                )
                self.intents[started.donation.id] = started.donation.external_id or ""
                return started.donation.id

        return int(self.run(go()))

    @rule(donation=pledges, fee=st.integers(min_value=0, max_value=90))
    def stripe_takes_payment(self, donation: int, fee: int) -> None:
        if donation in self.stripe_paid:
            return

        async def amount() -> int:
            async with self.db.session(write=False) as s:
                return int((await s.get(Donation, donation)).amount_fen)  # type: ignore[union-attr]

        paid = self.run(amount())
        self.stripe_paid[donation] = paid
        self.stripe_fees += fee
        self.fee_of[donation] = fee
        obj = intent_succeeded(donation, self.intents[donation], paid, fee=fee)
        self.queue.append(event(f"evt_{next(self.events)}", "payment_intent.succeeded", obj))

    @rule(donation=pledges, kind=st.sampled_from(["charge.succeeded", "payment_intent.processing"]))
    def stripe_sends_related_notice(self, donation: int, kind: str) -> None:
        """Stripe reports one payment through several events (a charge event, a late 'processing')."""
        paid = self.stripe_paid.get(donation)
        if paid is None:
            return
        intent = self.intents[donation]
        obj = intent_succeeded(donation, intent, paid)
        if kind == "charge.succeeded":
            charge = dict(obj["latest_charge"])
            charge["balance_transaction"] = obj["latest_charge"]["balance_transaction"]
            # Same balance transaction as the intent's: its fee must not be counted twice.
            charge["balance_transaction"] = {**charge["balance_transaction"], "fee": self.fee_of[donation]}
            self.queue.append(event(f"evt_{next(self.events)}", kind, charge))
        else:
            obj["status"] = "processing"
            self.queue.append(event(f"evt_{next(self.events)}", kind, obj))

    @rule(donation=pledges, share=st.floats(min_value=0.05, max_value=1.0))
    def stripe_refunds(self, donation: int, share: float) -> None:
        left = self.stripe_paid.get(donation, 0) - self.stripe_refunded.get(donation, 0)
        if left <= 0:
            return
        amount = max(1, min(left, int(self.stripe_paid[donation] * share)))
        self.stripe_refunded[donation] = self.stripe_refunded.get(donation, 0) + amount
        intent = self.intents[donation]
        n = next(self.events)
        obj = refund(f"re_{n}", intent, f"ch_{intent[3:]}", amount)
        self.queue.append(event(f"evt_{n}", "refund.created", obj))

    @precondition(lambda self: bool(self.queue))
    @rule(pick=st.integers(min_value=0, max_value=10_000), again=st.booleans())
    def deliver(self, pick: int, again: bool) -> None:
        """Deliver any queued notice (so order is arbitrary); keep it queued to deliver it again later."""
        evt = self.queue[pick % len(self.queue)]
        if not again:
            self.queue.remove(evt)
        self._deliver(evt)

    @rule(amount=amounts, purpose=st.sampled_from(PURPOSES), channel=st.sampled_from(["bank_transfer", "cash"]))
    def offline_gift(self, amount: int, purpose: str, channel: str) -> None:
        kind, _, value = purpose.partition(":")
        designation = gifts.Designation(category=value) if kind == "category" else None

        async def go() -> int:
            async with self.db.session() as s:
                d = await gifts.record_offline(
                    s,
                    FM,
                    fund_id=self.fund_id,
                    amount_fen=amount,
                    channel=channel,
                    donor=gifts.DonorInput(name="线下"),
                    designation=designation,
                    received_on=clock.today(),
                    reference=f"B{next(self.events)}",
                )
                return d.id

        self.offline_ids.append(self.run(go()))

    @precondition(lambda self: bool(self.offline_ids))
    @rule(pick=st.integers(min_value=0, max_value=1000), amount=amounts)
    def offline_refund(self, pick: int, amount: int) -> None:
        donation = self.offline_ids[pick % len(self.offline_ids)]

        async def go() -> None:
            async with self.db.session() as s:
                d = await gifts.get_donation(s, donation)
                left = d.amount_fen - d.refunded_fen
                try:
                    await gifts.refund_offline(
                        s, FM, donation, amount_fen=amount, reference=f"R{next(self.events)}", reason="退回"
                    )
                except Conflict:
                    assert amount > left or left == 0
                    raise
                assert amount <= left

        with contextlib.suppress(Conflict):
            self.run(go())

    @rule(amount=amounts, purpose=st.sampled_from(PURPOSES))
    def disburse(self, amount: int, purpose: str) -> None:
        async def go() -> None:
            async with self.db.session() as s:
                left = await funds.purpose_available(s, self.fund_id, purpose)
                try:
                    await funds.disburse(
                        s, FM, self.fund_id, amount_fen=amount, purpose=purpose, service_id=self.payee[purpose]
                    )
                except Conflict:
                    assert amount > left
                    raise
                assert amount <= left

        with contextlib.suppress(Conflict):
            self.run(go())

    @rule(pick=st.integers(min_value=0, max_value=1000))
    def reverse_disbursement(self, pick: int) -> None:
        async def go() -> None:
            async with self.db.session() as s:
                ids = list((await s.scalars(select(Disbursement.id).order_by(Disbursement.id))).all())
                if not ids:
                    return
                target = ids[pick % len(ids)]
                try:
                    await funds.cancel_disbursement(s, FM, target, "更正")
                except Conflict:
                    row = await s.get(Disbursement, target)
                    assert row is not None and row.status == "reversed"
                    raise

        with contextlib.suppress(Conflict):
            self.run(go())

    # ------------------------------------------------------------ helpers and invariants

    def _deliver(self, evt: dict[str, Any]) -> None:
        async def go() -> None:
            async with self.db.session() as s:
                await stripe_events.store_event(s, evt)
                pending = outbox.take_pending(s)
            # take_pending ran before commit here, so look the ids up again after it.
            del pending
            async with self.db.session(write=False) as s:
                ids = list(
                    (
                        await s.scalars(select(outbox.OutboxEvent.id).where(outbox.OutboxEvent.processed_at.is_(None)))
                    ).all()
                )
            await outbox.relay(self.db, ids, None)

        self.run(go())

    async def _tables(self) -> dict[str, int]:
        async with self.db.session(write=False) as s:
            paid = await s.scalar(
                select(func.coalesce(func.sum(Donation.amount_fen), 0)).where(Donation.status.in_(gifts.PAID))
            )
            refunded = await s.scalar(select(func.coalesce(func.sum(DonationRefund.amount_fen), 0)))
            disbursed = await s.scalar(
                select(func.coalesce(func.sum(Disbursement.amount_fen), 0)).where(Disbursement.status == "paid")
            )
            b = await funds.fund_balances(s, await funds.get_fund(s, self.fund_id))
            return {
                "paid": int(paid or 0),
                "refunded": int(refunded or 0),
                "disbursed": int(disbursed or 0),
                "income": b.income_fen,
                "spent": b.spent_fen,
                "cash": b.cash_fen,
                "fees": b.fees_fen,
                "trial": await ledger.trial_balance(s),
            }

    @invariant()
    def books_balance_and_match_records(self) -> None:
        if not hasattr(self, "fund_id"):
            return
        t = self.run(self._tables())
        assert t["trial"] == 0
        assert t["income"] - t["spent"] == t["paid"] - t["refunded"] - t["disbursed"]
        assert t["cash"] == t["paid"] - t["refunded"] - t["disbursed"] - t["fees"]

    async def _check_against_stripe(self) -> None:
        t = await self._tables()
        async with self.db.session(write=False) as s:
            offline = await s.scalar(
                select(func.coalesce(func.sum(Donation.amount_fen), 0)).where(Donation.channel != "stripe")
            )
            offline_refunds = await s.scalar(
                select(func.coalesce(func.sum(DonationRefund.amount_fen), 0))
                .join(Donation, Donation.id == DonationRefund.donation_id)
                .where(Donation.channel != "stripe")
            )
            # Receipts: one live receipt per gift with money kept, numbered 1..N without gaps.
            seqs = sorted((await s.scalars(select(Receipt.seq))).all())
            assert seqs == list(range(1, len(seqs) + 1))
            live = await s.scalar(select(func.count()).where(Receipt.voided_at.is_(None)))
            kept = await s.scalar(
                select(func.count()).where(Donation.status.in_(gifts.PAID), Donation.amount_fen > Donation.refunded_fen)
            )
            assert live == kept
        assert t["paid"] == sum(self.stripe_paid.values()) + int(offline or 0)
        assert t["refunded"] == sum(self.stripe_refunded.values()) + int(offline_refunds or 0)
        assert t["fees"] == self.stripe_fees
        assert t["income"] - t["spent"] == t["paid"] - t["refunded"] - t["disbursed"]


def test_books_always_balance(db_template: Any, tmp_path: Path) -> None:
    Books.template = db_template
    Books.root = tmp_path
    run_state_machine_as_test(
        Books,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.fixture(autouse=True)
def _quiet_outbox_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="marketplace.outbox")
