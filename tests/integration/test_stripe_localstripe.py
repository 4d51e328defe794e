"""The official stripe library against localstripe, with localstripe's own signed webhooks delivered to the
app on a real port.

What localstripe does not cover, and how this test bridges it: it sends no refund events (refund.created,
charge.refunded), so after creating a refund through the API the test fetches it from localstripe and
delivers a refund.created event itself, signed with the same secret; its fees are always 0; it rejects the
``created`` filter on balance transactions (the app lists and filters itself when STRIPE_API_BASE is set).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import stripe

from marketplace import clock
from marketplace.db import Database
from marketplace.funds import service as funds
from tests.funds.support import event, sign
from tests.integration.conftest_stripe import WEBHOOK_SECRET, LiveApp, localstripe, stripe_app
from tests.support.world import PASSWORD

pytestmark = pytest.mark.integration
__all__ = ["localstripe", "stripe_app"]


def _wait(fn: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.2)


@pytest.fixture
async def fund_id(db: Database) -> int:
    async with db.session() as s:
        return (await funds.ensure_fund(s, code="futian_public_welfare", name="福田区未成年人保护公益基金")).id


def test_donation_through_localstripe_webhooks_refund_and_reconcile(stripe_app: LiveApp, fund_id: int) -> None:
    api = httpx.Client(base_url=stripe_app.url, timeout=15)
    token = api.post("/api/v1/auth/login", json={"username": "fund", "password": PASSWORD}).json()["access_token"]
    fm = {"Authorization": f"Bearer {token}"}

    r = api.post(
        "/api/v1/donations",
        json={
            "fund_id": fund_id,
            "amount_fen": 88_800,
            "donor": {"name": "线上爱心人士", "email": "a@example.com"},
            "designation": {"category": "education_aid"},
        },
    )
    assert r.status_code == 201, r.text + stripe_app.log.read_text(errors="replace")[-2000:]
    started = r.json()
    donation_id, intent_id = started["donation_id"], started["payment_intent_id"]
    assert intent_id.startswith("pi_") and started["client_secret"].startswith(intent_id)

    client = stripe.StripeClient("sk_test_local", base_addresses={"api": stripe_app.settings.stripe_api_base})  # type: ignore[typeddict-item]
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert intent.amount == 88_800 and intent.currency == "cny"
    assert intent.metadata.to_dict() == {
        "donation_id": str(donation_id),
        "fund_id": str(fund_id),
        "purpose": "category:education_aid",
    }

    # The donor pays (what Stripe.js would do in the browser).
    pm = client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}  # type: ignore[typeddict-item]
    )
    # localstripe takes the payment method by update, not as a confirm parameter.
    client.v1.payment_intents.update(intent_id, {"payment_method": pm.id})
    client.v1.payment_intents.confirm(intent_id)

    # localstripe signs payment_intent.succeeded and posts it to the app.
    donation = _wait(
        lambda: (d := api.get(f"/api/v1/donations/{donation_id}", headers=fm).json())["status"] == "succeeded" and d
    )
    year = clock.today().year
    assert donation["receipt_no"] == f"FT-{year}-000001"
    fund = api.get(f"/api/v1/funds/{fund_id}", headers=fm).json()
    assert fund["balance_fen"] == 88_800 and fund["restricted_balance_fen"] == 88_800

    # A partial refund through the API; localstripe sends no refund webhook, so deliver its event ourselves.
    refund = client.v1.refunds.create({"payment_intent": intent_id, "amount": 8_800})
    refund_obj = refund.to_dict()
    evt = event(f"evt_{refund.id}", "refund.created", refund_obj)
    raw = json.dumps(evt).encode()
    for _ in range(2):
        r = api.post("/api/v1/webhooks/stripe", content=raw, headers={"stripe-signature": sign(raw, WEBHOOK_SECRET)})
        assert r.status_code == 200
    donation = api.get(f"/api/v1/donations/{donation_id}", headers=fm).json()
    assert donation["status"] == "partially_refunded" and donation["refunded_fen"] == 8_800
    assert donation["receipt_no"] == f"FT-{year}-000002"

    # Reconcile today against localstripe's balance transactions: the charge and the refund both match.
    today = clock.today().isoformat()
    r = api.post(
        "/api/v1/reconciliations",
        json={"fund_id": fund_id, "source": "stripe", "since": today, "until": today},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    recon = r.json()
    ours = {d["external_id"] for d in recon["differences"]}
    assert donation["external_id"] == intent_id
    assert recon["matched"] == 2, (recon["differences"], recon["ours_count"], recon["theirs_count"])
    # Anything else localstripe holds (other tests' payments in the same server) is listed, never ours.
    assert all(d["kind"] == "missing_here" for d in recon["differences"]), ours

    # A tampered copy of a real localstripe-shaped event is refused.
    bad = raw.replace(b"8800", b"1")
    r = api.post("/api/v1/webhooks/stripe", content=bad, headers={"stripe-signature": sign(raw, WEBHOOK_SECRET)})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
