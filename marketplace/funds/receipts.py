"""The printable donation receipt (公益事业捐赠票据): the amount in Chinese capitals, and every print recorded,
so the first print is the original and each later one is marked as a copy (副本).

A receipt exists only once the money is in (``donations.issue_receipt`` runs when a gift arrives) and is voided on
a refund; a gift partly refunded gets a new receipt for what was kept, whose first print is again an original.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.errors import Conflict
from marketplace.funds import purposes
from marketplace.funds.donations import get_donation
from marketplace.funds.models import Donation, Fund, Receipt
from marketplace.funds.reconciliation_models import ReceiptPrint
from marketplace.funds.service import WRITERS, require_reader

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
SECTIONS = ("", "万", "亿", "万亿")


def _section(n: int) -> str:
    """0 < n < 10000 in capitals, inner zeros read once (1010 → 壹仟零壹拾)."""
    out = ""
    zero = False
    for place in (3, 2, 1, 0):
        digit = n // 10**place % 10
        if digit == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[digit] + PLACES[place]
    return out


def _integer(n: int) -> str:
    if n == 0:
        return "零"
    parts: list[int] = []
    while n:
        parts.append(n % 10_000)
        n //= 10_000
    if len(parts) > len(SECTIONS):
        raise ValueError("amount too large")
    out = ""
    gap = False
    for i in reversed(range(len(parts))):
        part = parts[i]
        if part == 0:
            gap = gap or bool(out)
            continue
        if out and (gap or part < 1000):
            out += "零"
        out += _section(part) + SECTIONS[i]
        gap = False
    return out


def capitals(fen: int) -> str:
    """Integer fen as the amount written in Chinese capitals on a receipt: 1_200_000 → 壹万贰仟元整,
    10_050 → 壹佰元伍角整, 10_005 → 壹佰元零伍分."""
    if fen < 0:
        return "负" + capitals(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    out = _integer(yuan) + "元" if yuan or not rest else ""
    if not rest:
        return out + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    return out + (DIGITS[cents] + "分" if cents else "整")


@dataclass
class PrintedReceipt:
    receipt: Receipt
    donation: Donation
    fund: Fund
    purpose_label: str
    amount_capitals: str
    # 1 for the original; later prints are copies. 0 when the caller only looked (a reader, not the fund manager).
    print_no: int
    prints: int

    @property
    def copy(self) -> bool:
        return self.print_no != 1


async def current_receipt(session: AsyncSession, donation: Donation) -> Receipt:
    receipt = await session.scalar(
        select(Receipt).where(Receipt.donation_id == donation.id, Receipt.voided_at.is_(None)).order_by(Receipt.id)
    )
    if receipt is None:
        if donation.status == "refunded":
            raise Conflict(f"捐赠 #{donation.id} 已全额退款，收据已作废 (receipt voided by the refund)")
        raise Conflict(f"捐赠 #{donation.id} 尚未到账，到账后才有收据 (no receipt before the money is in)")
    return receipt


async def print_receipt(session: AsyncSession, principal: Principal, donation_id: int) -> PrintedReceipt:
    """Open the receipt to print it. The fund manager's every opening is a print, numbered under the receipt's
    row lock: the first is the original, the rest copies. Readers (district, auditors) see it as a copy and
    print nothing."""
    require_reader(principal)
    donation = await get_donation(session, donation_id)
    receipt = await current_receipt(session, donation)
    fund = await session.get(Fund, donation.fund_id)
    assert fund is not None
    if principal.role in WRITERS:
        await session.scalar(select(Receipt.id).where(Receipt.id == receipt.id).with_for_update())
        n = (await session.scalar(select(func.count()).where(ReceiptPrint.receipt_id == receipt.id)) or 0) + 1
        session.add(ReceiptPrint(receipt_id=receipt.id, donation_id=donation.id, n=n, printed_by=principal.user_id))
        await session.flush()
        prints = n
    else:
        n = 0
        prints = await session.scalar(select(func.count()).where(ReceiptPrint.receipt_id == receipt.id)) or 0
    label = (await purposes.labels(session, [donation.purpose]))[donation.purpose]
    return PrintedReceipt(receipt, donation, fund, label, capitals(receipt.amount_fen), n, prints)


async def print_count(session: AsyncSession, donation_id: int) -> int:
    """How often the gift's current receipts were printed (for its page)."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(ReceiptPrint)
            .join(Receipt, Receipt.id == ReceiptPrint.receipt_id)
            .where(ReceiptPrint.donation_id == donation_id, Receipt.voided_at.is_(None))
        )
        or 0
    )
