"""Pending online gifts expire (issue #17: "pending gifts never expire"); a late payment still lands."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace.db import Database
from marketplace.funds import channels, jobs
from marketplace.funds.models import Donation, JournalEntry
from marketplace.tasks import JOBS
from tests.conftest import Auth
from tests.funds.live import LiveStripe, unreachable_channel
from tests.funds.support import FakeChannel, body, event, intent_succeeded, sign
from tests.support.servers import free_port
from workers.beat import BEAT_SCHEDULE

START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


async def pledge(client: Any, fund_id: int, n: int) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/donations", json={"fund_id": fund_id, "amount_fen": 10_000 + n, "donor": {"name": f"捐赠人{n}"}}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def entries(db: Database) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(JournalEntry)) or 0)


async def statuses(db: Database) -> dict[int, tuple[str, str]]:
    async with db.session(write=False) as s:
        return {d.id: (d.status, d.note) for d in (await s.scalars(select(Donation))).all()}


async def test_unpaid_gifts_expire_after_the_setting_without_touching_the_books(
    client: Any, auth: Auth, db: Database, fund_id: int, stripe_live: LiveStripe, frozen_clock: Any, monkeypatch: Any
) -> None:
    assert JOBS["funds.expire_pending_donations"] is jobs.expire_pending_donations
    assert any(e.get("args") == ["funds.expire_pending_donations"] for e in BEAT_SCHEDULE.values())
    frozen_clock(START)
    old = await pledge(client, fund_id, 1)
    stuck = await pledge(client, fund_id, 2)  # paid at Stripe, its notice not here yet: Stripe refuses to cancel it
    paid = await pledge(client, fund_id, 3)
    stripe_live.pay(stuck["payment_intent_id"])
    stripe_live.pay(paid["payment_intent_id"])
    await stripe_live.deliver(client, stripe_live.succeeded(paid["payment_intent_id"]))
    frozen_clock(START + dt.timedelta(hours=23))
    young = await pledge(client, fund_id, 4)
    books = await entries(db)

    frozen_clock(START + dt.timedelta(hours=24, minutes=1))
    assert await jobs.expire_pending_donations(db) == [old["donation_id"]]
    state = await statuses(db)
    assert state[old["donation_id"]][0] == "expired" and "已过期" in state[old["donation_id"]][1]
    assert state[stuck["donation_id"]][0] == "pending"  # kept: its money is on its way
    assert state[paid["donation_id"]][0] == "succeeded"
    assert state[young["donation_id"]][0] == "pending"
    at_stripe = {g["donation_id"]: stripe_live.intent(g["payment_intent_id"])["status"] for g in (old, stuck, young)}
    assert at_stripe == {
        old["donation_id"]: "canceled",
        stuck["donation_id"]: "succeeded",
        young["donation_id"]: "requires_payment_method",
    }
    assert await entries(db) == books  # no ledger effect
    # Stripe's notice of the cancellation we asked for changes nothing either (localstripe does not send it).
    canceled = stripe_live.intent(old["payment_intent_id"])
    await stripe_live.deliver(client, stripe_live.notice("payment_intent.canceled", canceled))
    assert (await statuses(db))[old["donation_id"]][0] == "expired"
    # A second run changes nothing (the job is idempotent); the stuck gift's notice lands it.
    assert await jobs.expire_pending_donations(db) == []
    await stripe_live.deliver(client, stripe_live.succeeded(stuck["payment_intent_id"]))
    assert (await statuses(db))[stuck["donation_id"]][0] == "succeeded"

    # Stripe unreachable (the real channel pointed at a closed port): nothing is expired, tried again next run.
    frozen_clock(START + dt.timedelta(hours=47, minutes=1))
    with monkeypatch.context() as m:
        m.setitem(channels.ONLINE_CHANNELS, "stripe", lambda s: unreachable_channel(s, free_port()))
        assert await jobs.expire_pending_donations(db) == []
    assert stripe_live.intent(young["payment_intent_id"])["status"] == "requires_payment_method"
    assert await jobs.expire_pending_donations(db) == [young["donation_id"]]
    assert stripe_live.intent(young["payment_intent_id"])["status"] == "canceled"

    fm = await auth("fund")
    listed = (await client.get("/api/v1/donations?status=expired", headers=fm)).json()
    assert {d["id"] for d in listed["items"]} == {old["donation_id"], young["donation_id"]}
    assert {d["status_label"] for d in listed["items"]} == {"已过期"}


async def test_a_late_payment_of_an_expired_gift_is_recorded(
    client: Any, auth: Auth, db: Database, fund_id: int, fake_channel: FakeChannel, frozen_clock: Any
) -> None:
    """On the fake channel: the provider settling a payment it had agreed to cancel, which localstripe (like
    Stripe's API) never does once an intent is canceled; the app must still book the money if the notice comes."""
    frozen_clock(START)
    gift = await pledge(client, fund_id, 7)
    frozen_clock(START + dt.timedelta(hours=30))
    assert await jobs.expire_pending_donations(db) == [gift["donation_id"]]
    books = await entries(db)

    evt = event(
        "evt_late",
        "payment_intent.succeeded",
        intent_succeeded(gift["donation_id"], gift["payment_intent_id"], 10_007, fee=300),
    )
    for _ in range(2):  # a redelivery changes nothing more
        raw = body(evt)
        r = await client.post(
            "/api/v1/webhooks/stripe",
            content=raw,
            headers={"stripe-signature": sign(raw, "whsec_test_secret"), "content-type": "application/json"},
        )
        assert r.status_code == 200
    fm = await auth("fund")
    d = (await client.get(f"/api/v1/donations/{gift['donation_id']}", headers=fm)).json()
    assert d["status"] == "succeeded" and d["receipt_no"] and d["fee_fen"] == 300
    assert "已过期后仍收到付款" in d["note"]
    assert await entries(db) == books + 2  # the gift and its fee
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 10_007 - 300


async def test_expiry_racing_the_payment_loses_no_money(
    client: Any, auth: Auth, db: Database, fund_id: int, stripe_live: LiveStripe, frozen_clock: Any
) -> None:
    frozen_clock(START)
    made = [await pledge(client, fund_id, n) for n in range(8)]
    for g in made:
        stripe_live.pay(g["payment_intent_id"])
    notices = [stripe_live.succeeded(g["payment_intent_id"]) for g in made]
    frozen_clock(START + dt.timedelta(hours=25))

    await asyncio.gather(
        jobs.expire_pending_donations(db), *(stripe_live.deliver(client, stripe_live.resigned(n)) for n in notices)
    )
    state = await statuses(db)
    assert {state[g["donation_id"]][0] for g in made} == {"succeeded"}
    fm = await auth("fund")
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == sum(10_000 + n for n in range(8))
