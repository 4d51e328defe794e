"""Payment channels behind one port, so another online channel is an adapter, not a rewrite.

A channel does up to three things: start an online payment (``start_payment``), tell what it settled in a
period (``settlement_records``, for reconciliation), and verify its notifications (``verify_notification``).
Stripe is one adapter; offline gifts (bank transfer, cash, in kind) are recorded by the fund manager and
reconciled against an imported bank statement (``funds/statements.py``). Stripe does not serve mainland-China
entities, so a WeChat Pay or Alipay adapter would implement the same three methods over its own API and
settlement file and feed the same donation and reconciliation code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import stripe

from marketplace import clock
from marketplace.errors import DomainError
from marketplace.funds.reconciliation import Record
from marketplace.settings import Settings

# Only these keys ever leave for the payment provider: never a child's or a donor's personal data.
METADATA_ALLOWED = frozenset({"donation_id", "fund_id", "purpose"})


class ChannelUnavailable(DomainError):
    status_code = 503


class BadSignature(DomainError):
    status_code = 400


class WebhookNotConfigured(DomainError):
    """No STRIPE_WEBHOOK_SECRET: no notification can be verified, so every one is refused (nothing changes)."""

    status_code = 503


@dataclass(frozen=True)
class PaymentStart:
    external_id: str
    client_secret: str
    status: str


class PaymentChannel(Protocol):
    code: str

    async def start_payment(
        self, *, amount_fen: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> PaymentStart: ...

    async def settlement_records(self, since: dt.date, until: dt.date) -> list[Record]: ...

    async def cancel_payment(self, external_id: str) -> None:
        """Cancel an unpaid payment; ``ChannelUnavailable`` if it cannot be (unreachable, or paid meanwhile)."""
        ...

    def verify_notification(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]: ...


def allowed_metadata(metadata: dict[str, str]) -> dict[str, str]:
    unknown = set(metadata) - METADATA_ALLOWED
    if unknown:
        raise ValueError(f"metadata keys not allowed to leave the system: {sorted(unknown)}")
    return {k: str(v)[:500] for k, v in metadata.items()}


@lru_cache(maxsize=16)
def _client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    base: dict[str, str] = {}
    if api_base:
        base = {"api": api_base.rstrip("/")}
    return stripe.StripeClient(
        api_key,
        base_addresses=base,  # type: ignore[arg-type]
        http_client=stripe.HTTPXClient(timeout=20, allow_sync_methods=True),
        max_network_retries=2,
    )


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """One client per (key, base), made on first use: the app starts without touching the network.

    Without STRIPE_API_KEY (development without a Stripe fake) online payments are unavailable: nothing is sent."""
    if not settings.stripe_api_key:
        raise ChannelUnavailable("在线支付未配置 (STRIPE_API_KEY is not set: online payments are off)")
    return _client(settings.stripe_api_key, settings.stripe_api_base)


def district_day_bounds(since: dt.date, until: dt.date) -> tuple[int, int]:
    """Unix seconds covering district days since..until inclusive."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=clock.DISTRICT_TZ)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=clock.DISTRICT_TZ)
    return int(start.timestamp()), int(end.timestamp())


class StripeChannel:
    code = "stripe"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def client(self) -> stripe.StripeClient:
        return stripe_client(self.settings)

    async def start_payment(
        self, *, amount_fen: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> PaymentStart:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount_fen,
                    "currency": currency.lower(),
                    "metadata": allowed_metadata(metadata),
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise ChannelUnavailable(
                f"支付通道暂不可用，请稍后重试 (payment provider error: {type(exc).__name__})"
            ) from exc
        return PaymentStart(external_id=intent.id, client_secret=intent.client_secret or "", status=intent.status)

    async def cancel_payment(self, external_id: str) -> None:
        """Cancel the PaymentIntent. One already canceled is fine; one that succeeded or is processing is refused
        by Stripe (its money is recorded by the success notice), reported as ``ChannelUnavailable``."""
        try:
            intent = await self.client.v1.payment_intents.retrieve_async(external_id)
            if intent.status == "canceled":
                return
            await self.client.v1.payment_intents.cancel_async(external_id)
        except stripe.StripeError as exc:
            raise ChannelUnavailable(
                f"无法取消支付 {external_id} (payment provider refused or unreachable: {type(exc).__name__})"
            ) from exc

    async def settlement_records(self, since: dt.date, until: dt.date) -> list[Record]:
        """Stripe's balance transactions in the period: charges keyed by charge id, refunds by refund id."""
        start, end = district_day_bounds(since, until)
        out: list[Record] = []
        params: dict[str, Any] = {"created": {"gte": start, "lt": end}, "limit": 100}
        if self.settings.stripe_api_base:
            # A local Stripe fake (localstripe) refuses the created filter: list all, filter below.
            params = {"limit": 100}
        try:
            page = await self.client.v1.balance_transactions.list_async(params=params)  # type: ignore[arg-type]
            async for txn in page.auto_paging_iter():
                if not start <= int(txn.created) < end:
                    continue
                source = txn.source if isinstance(txn.source, str) else getattr(txn.source, "id", None)
                if not source:
                    continue
                if txn.type in ("charge", "payment"):
                    out.append(Record(source, int(txn.amount), "succeeded"))
                elif txn.type in ("refund", "payment_refund"):
                    out.append(Record(source, int(txn.amount), "refunded"))
        except stripe.StripeError as exc:
            raise ChannelUnavailable(f"无法从支付通道获取对账数据 (Stripe error: {type(exc).__name__})") from exc
        return out

    async def fee_of(self, balance_transaction_id: str) -> int:
        txn = await self.client.v1.balance_transactions.retrieve_async(balance_transaction_id)
        return int(txn.fee or 0)

    async def balance_transaction_of_charge(self, charge_id: str) -> str | None:
        charge = await self.client.v1.charges.retrieve_async(charge_id)
        bt = charge.balance_transaction
        return bt if isinstance(bt, str) or bt is None else str(bt.id)

    def verify_notification(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """Check the Stripe-Signature over the raw body (default tolerance: 5 minutes); the event as a dict.

        Without a configured webhook secret every notification is refused: there is no default secret."""
        if not self.settings.stripe_webhook_secret:
            raise WebhookNotConfigured(
                "未配置 Stripe 通知密钥，拒绝所有通知 (STRIPE_WEBHOOK_SECRET is not set: every event is refused)"
            )
        signature = headers.get("stripe-signature")
        if not signature:
            raise BadSignature("缺少 Stripe-Signature 签名头 (missing signature)")
        try:
            stripe.Webhook.construct_event(body, signature, self.settings.stripe_webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise BadSignature("签名校验失败 (signature verification failed)") from exc
        except ValueError as exc:
            raise BadSignature("事件内容不是有效的 JSON (payload is not JSON)") from exc
        event = json.loads(body)
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
        ):
            raise BadSignature("事件缺少 id 或 type (event without id or type)")
        return event


# The online channels the app can start payments with; a WeChat Pay or Alipay adapter registers here.
ONLINE_CHANNELS: dict[str, Callable[[Settings], PaymentChannel]] = {"stripe": StripeChannel}


def online_channel(settings: Settings, code: str = "stripe") -> PaymentChannel:
    return ONLINE_CHANNELS[code](settings)
