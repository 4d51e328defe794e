"""The real payment channel for the fund's tests: the app's ``StripeChannel`` (the official ``stripe`` library)
talking to localstripe (the Stripe fake from PyPI, a real server), and Stripe's notices signed with the webhook
secret and posted to ``/api/v1/webhooks/stripe``.

localstripe signs and sends one kind of notice itself, ``payment_intent.succeeded`` (and ``payment_failed``): a
small HTTP server of the test (:class:`Catcher`) is registered as its webhook endpoint and keeps every delivery,
bytes and ``Stripe-Signature`` header as localstripe made them, and the tests post them on, unchanged, to the app
under test. What localstripe holds but does not announce (the charge, its refunds, the charge once refunded) is
read from it with the stripe library and sent as the notice Stripe would send (``charge.succeeded``,
``refund.created``/``refund.updated``, ``charge.refunded``), signed the way Stripe signs. localstripe has no
disputes: a dispute notice carries a dispute object around localstripe's own charge (its id, amount and intent).
localstripe takes no fee (every balance transaction's fee is 0), so the fee the app fetches from it is 0.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import stripe

from marketplace.funds import channels
from marketplace.settings import Settings
from tests.funds.support import event, sign
from tests.support import figures
from tests.support.servers import free_port

SUITE = "Real services"
API_KEY = "sk_test_local"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@dataclass(frozen=True)
class Delivery:
    """One notice as localstripe delivered it: the exact bytes and their signature header."""

    raw: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))


@dataclass
class Catcher:
    """localstripe's webhook endpoint during the tests: keeps every delivery, indexed by (type, object id)."""

    url: str = ""
    deliveries: dict[tuple[str, str], Delivery] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, delivery: Delivery) -> None:
        evt = delivery.event
        key = (str(evt.get("type")), str(evt.get("data", {}).get("object", {}).get("id")))
        with self._cond:
            self.deliveries.setdefault(key, delivery)
            self._cond.notify_all()

    def wait_for(self, kind: str, object_id: str, timeout: float = 20.0) -> Delivery:
        """The delivery of ``kind`` about ``object_id`` (localstripe sends a notice about a second after the fact)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (kind, object_id) not in self.deliveries:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"localstripe sent no {kind} for {object_id} within {timeout} s")
                self._cond.wait(left)
            return self.deliveries[(kind, object_id)]


def serve_catcher() -> tuple[Catcher, ThreadingHTTPServer]:
    catcher = Catcher()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            catcher.add(Delivery(raw, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    catcher.url = f"http://127.0.0.1:{port}/hooks"
    return catcher, server


def catcher_at(localstripe: str, secret: str) -> Iterator[Catcher]:
    """A catcher registered with localstripe as a webhook endpoint signing with ``secret`` (fixture body)."""
    catcher, server = serve_catcher()
    r = httpx.post(
        f"{localstripe}/_config/webhooks/funds-tests-{id(catcher)}",
        data={"url": catcher.url, "secret": secret},
        timeout=5,
    )
    r.raise_for_status()
    try:
        yield catcher
    finally:
        server.shutdown()
        server.server_close()


class LiveStripe:
    """What a test does at the provider's side: pay, refund, read back, and hand Stripe's notices to the app."""

    def __init__(self, base: str, catcher: Catcher, secret: str) -> None:
        self.base = base
        self.catcher = catcher
        self.secret = secret
        self.client = stripe.StripeClient(API_KEY, base_addresses={"api": base})  # type: ignore[typeddict-item]
        self.delivered = 0

    # ---------------------------------------------------------------- the provider's side
    def pay(self, intent_id: str) -> dict[str, Any]:
        """The donor pays (what Stripe.js does in the browser); the charge as localstripe holds it."""
        pm = self.client.v1.payment_methods.create({"type": "card", "card": CARD})  # type: ignore[typeddict-item]
        # localstripe takes the payment method by update, not as a confirm parameter.
        self.client.v1.payment_intents.update(intent_id, {"payment_method": pm.id})
        intent = self.client.v1.payment_intents.confirm(intent_id)
        assert intent.status == "succeeded", intent.status
        latest: Any = intent.latest_charge
        return self.charge(latest if isinstance(latest, str) else str(latest.id))

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self.client.v1.charges.retrieve(charge_id).to_dict()

    def intent(self, intent_id: str) -> dict[str, Any]:
        return self.client.v1.payment_intents.retrieve(intent_id).to_dict()

    def refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        return self.client.v1.refunds.create({"payment_intent": intent_id, "amount": amount}).to_dict()

    def intents(self) -> dict[str, str]:
        """Every PaymentIntent localstripe holds: its id and the app's donation id in its metadata."""
        out = {}
        for i in self.client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
            out[str(i.id)] = str((i.to_dict().get("metadata") or {}).get("donation_id", ""))
        return out

    def gifts_started_since(self, before: dict[str, str]) -> int:
        """How many gifts reached Stripe since ``before`` (distinct donation ids: a request the library retried after
        a network error is one gift, as Stripe's idempotency key makes it; localstripe ignores that key)."""
        return len({d for i, d in self.intents().items() if i not in before and d})

    # ---------------------------------------------------------------- the notices
    def succeeded(self, intent_id: str) -> Delivery:
        """localstripe's own ``payment_intent.succeeded`` for this intent, signed by localstripe."""
        return self.catcher.wait_for("payment_intent.succeeded", intent_id)

    def notice(self, kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """The notice Stripe sends about a localstripe object localstripe does not announce itself."""
        name = event_id or f"evt_{kind.replace('.', '_')}_{obj['id']}"
        return event(name, kind, obj, created=int(obj.get("created") or 0) or None)

    def signed(self, evt: dict[str, Any]) -> Delivery:
        raw = json.dumps(evt, separators=(",", ":")).encode()
        return Delivery(raw, sign(raw, self.secret))

    def resigned(self, delivery: Delivery) -> Delivery:
        """The same bytes signed again now (as Stripe does on a retry)."""
        return Delivery(delivery.raw, sign(delivery.raw, self.secret))

    async def post(self, client: Any, delivery: Delivery) -> Any:
        """Post a signed notice to the app's webhook endpoint, as Stripe does."""
        r = await client.post(
            "/api/v1/webhooks/stripe",
            content=delivery.raw,
            headers={"stripe-signature": delivery.signature, "content-type": "application/json"},
        )
        if r.status_code == 200:
            self.delivered += 1
        return r

    async def deliver(self, client: Any, delivery: Delivery | dict[str, Any]) -> None:
        r = await self.post(client, delivery if isinstance(delivery, Delivery) else self.signed(delivery))
        assert r.status_code == 200, r.text

    def report(self) -> None:
        figures.record(SUITE, "signed webhooks delivered", self.delivered)


def unreachable_channel(settings: Settings, port: int) -> channels.StripeChannel:
    """The app's real Stripe channel pointed at a port nobody listens on: the provider unreachable."""
    return channels.StripeChannel(dataclasses.replace(settings, stripe_api_base=f"http://127.0.0.1:{port}"))
