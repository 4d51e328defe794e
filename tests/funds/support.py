"""Helpers for the fund's tests: a fake online channel, Stripe-shaped events and their signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from marketplace import clock
from marketplace.funds.channels import PaymentStart
from marketplace.funds.reconciliation import Record

_ids = itertools.count(1)


class FakeChannel:
    """Stands in for Stripe in API tests: remembers what it was asked, settles what a test tells it to."""

    code = "stripe"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.settled: list[Record] = []
        self.down = False
        self.canceled: list[str] = []
        self.uncancellable: set[str] = set()

    async def start_payment(
        self, *, amount_fen: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> PaymentStart:
        from marketplace.funds.channels import ChannelUnavailable, allowed_metadata

        if self.down:
            raise ChannelUnavailable("支付通道暂不可用 (test: channel down)")
        self.calls.append(
            {"amount": amount_fen, "currency": currency, "key": idempotency_key, "metadata": allowed_metadata(metadata)}
        )
        n = next(_ids)
        return PaymentStart(f"pi_fake_{n}", f"pi_fake_{n}_secret_x", "requires_payment_method")

    async def settlement_records(self, since: Any, until: Any) -> list[Record]:
        return list(self.settled)

    async def cancel_payment(self, external_id: str) -> None:
        from marketplace.funds.channels import ChannelUnavailable

        if self.down or external_id in self.uncancellable:
            raise ChannelUnavailable("无法取消支付 (test: refused)")
        self.canceled.append(external_id)

    def verify_notification(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    # Stripe checks a signature against the real time (its tolerance window), not the app's clock.
    t = int(time.time()) if timestamp is None else timestamp  # noqa: TID251
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_id: str, kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created or int(clock.timestamp()),
        "livemode": False,
        "data": {"object": obj},
    }


def intent_succeeded(
    donation_id: int, intent: str, amount: int, *, fee: int = 0, charge: str | None = None
) -> dict[str, Any]:
    charge_id = charge or f"ch_{intent[3:]}"
    return {
        "id": intent,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "cny",
        "status": "succeeded",
        "created": int(clock.timestamp()),
        "metadata": {"donation_id": str(donation_id)},
        "latest_charge": {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "status": "succeeded",
            "payment_intent": intent,
            "balance_transaction": {"id": f"txn_{charge_id}", "object": "balance_transaction", "fee": fee},
        },
    }


def intent_status(donation_id: int, intent: str, amount: int, status: str) -> dict[str, Any]:
    return {
        "id": intent,
        "object": "payment_intent",
        "amount": amount,
        "currency": "cny",
        "status": status,
        "metadata": {"donation_id": str(donation_id)},
        "latest_charge": None,
    }


def refund(refund_id: str, intent: str, charge: str, amount: int) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "payment_intent": intent,
        "status": "succeeded",
        "created": int(clock.timestamp()),
    }


def body(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


async def offline_gift(client: Any, headers: dict[str, str], fund_id: int, ref: str, fen: int, day: dt.date) -> int:
    """An offline bank-transfer gift recorded through the API (an enterprise donor named after the reference)."""
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": fen,
            "channel": "bank_transfer",
            "reference": ref,
            "received_on": day.isoformat(),
            "donor": {"name": f"单位{ref}", "kind": "enterprise"},
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
