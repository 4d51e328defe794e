"""Donations: the donor's gift from pledge to receipt, refunds, and restricted purposes.

Money is posted to the ledger only when it has arrived (a Stripe success, a fund manager's record of a bank
transfer, cash or goods); each posting is keyed by the real-world event, so a replayed webhook or a double
click posts nothing twice. A receipt number is issued once the money is in and voided on refund.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.funds import accounts, ledger, purposes
from marketplace.funds.channels import ChannelUnavailable
from marketplace.funds.models import (
    Donation,
    DonationRefund,
    Donor,
    JournalEntry,
    PurposeChange,
    Receipt,
    ReceiptSequence,
)
from marketplace.funds.reconciliation_models import ReconciliationCorrection
from marketplace.funds.service import _check_purpose_target, get_fund, purpose_available, require_reader, require_writer
from marketplace.pagination import fetch_page
from marketplace.resources import credit_code
from marketplace.statemachine import StateMachine, Transition

DONATION_STATUSES = {
    "pending": "待支付",
    "processing": "处理中",
    "failed": "支付失败",
    "canceled": "已取消",
    "expired": "已过期",
    "succeeded": "已到账",
    "partially_refunded": "部分退款",
    "refunded": "已退款",
}
# Status only moves forward: a late "processing" after "succeeded" changes nothing.
RANK = {
    "pending": 0,
    "processing": 1,
    "failed": 1,
    "canceled": 2,
    "expired": 2,
    "succeeded": 3,
    "partially_refunded": 4,
    "refunded": 5,
}
DONATION_LIFECYCLE = StateMachine(
    "donation",
    DONATION_STATUSES,
    [
        Transition("process", frozenset({"pending"}), "processing", "处理中"),
        Transition("fail", frozenset({"pending", "processing"}), "failed", "支付失败"),
        Transition("cancel", frozenset({"pending", "processing", "failed"}), "canceled", "取消"),
        # Unpaid past MARKETPLACE_PENDING_DONATION_HOURS (funds.expiry): no ledger effect.
        Transition("expire", frozenset({"pending", "failed"}), "expired", "逾期未支付"),
        # Money that arrives is never lost: a late success revives an expired or canceled gift (noted on it).
        Transition(
            "succeed", frozenset({"pending", "processing", "failed", "expired", "canceled"}), "succeeded", "到账"
        ),
        Transition("refund_part", frozenset({"succeeded", "partially_refunded"}), "partially_refunded", "部分退款"),
        Transition("refund_all", frozenset({"succeeded", "partially_refunded"}), "refunded", "全额退款"),
    ],
)
OFFLINE_CHANNELS = {"bank_transfer": "银行转账", "cash": "现金", "in_kind": "实物捐赠（折价）"}
CHANNELS = {"stripe": "线上支付 (Stripe)", **OFFLINE_CHANNELS}
PAID = ("succeeded", "partially_refunded", "refunded")
RECEIPT_PREFIX = "FT"


@dataclass(frozen=True)
class DonorInput:
    name: str
    kind: str = "individual"
    email: str | None = None
    phone: str | None = None
    anonymous: bool | None = None
    credit_code: str | None = None


@dataclass(frozen=True)
class Designation:
    category: str | None = None
    street_id: int | None = None
    service_id: int | None = None
    child_category: str | None = None  # a child group (儿童群体): ``group:<child category>``


# ---------------------------------------------------------------- donors


def donor_credit_code(kind: str, code: str | None) -> str | None:
    """The donor's 统一社会信用代码 in its stored form (upper case), checked with its check character; None when
    not given. Only an enterprise or organization has one."""
    if code is None or not code.strip():
        return None
    if kind == "individual":
        raise Invalid.field(
            "donor.credit_code",
            "个人捐赠人无需填写统一社会信用代码；单位捐赠请将类型选为企业或社会组织 (credit code is for organizations)",
        )
    reason = credit_code.validate(code)
    if reason is not None:
        raise Invalid.field("donor.credit_code", f"统一社会信用代码无效：{reason}")
    return credit_code.normalize(code)


def _take_credit_code(donor: Donor, code: str | None) -> None:
    """A known donor gets the code given with a gift; a different code than the one on file is refused."""
    if code is None:
        return
    if donor.credit_code and donor.credit_code != code:
        raise Invalid.field(
            "donor.credit_code",
            f"捐赠人“{donor.name}”已登记统一社会信用代码 {donor.credit_code}，与填写的 {code} 不一致"
            " (credit code differs from the donor's)",
        )
    donor.credit_code = code


async def find_or_create_donor(session: AsyncSession, data: DonorInput) -> Donor:
    """One donor per unified social credit code, else per e-mail; a gift that says ``anonymous: false`` is the
    consent to be named publicly."""
    name = data.name.strip()
    if not name:
        raise Invalid.field("donor.name", "请填写捐赠人姓名或单位名称 (donor name required)")
    code = donor_credit_code(data.kind, data.credit_code)
    consent = data.anonymous is False
    donor = None
    if code:
        donor = await session.scalar(select(Donor).where(Donor.credit_code == code).order_by(Donor.id).limit(1))
    if donor is None and data.email:
        donor = await session.scalar(select(Donor).where(Donor.email == data.email.strip().lower()))
    if donor is None:
        donor = Donor(
            name=name,
            kind=data.kind,
            email=data.email.strip().lower() if data.email else None,
            phone=data.phone,
            credit_code=code,
            consent_to_name=consent,
        )
        session.add(donor)
        await session.flush()
        return donor
    _take_credit_code(donor, code)
    if data.anonymous is not None:
        # The donor's latest word on being named counts.
        donor.consent_to_name = consent
    return donor


async def designation_purpose(session: AsyncSession, d: Designation | None) -> str:
    if d is None:
        return accounts.UNRESTRICTED
    purpose = accounts.purpose_for(d.category, d.street_id, d.service_id, d.child_category)
    field = "designation"
    try:
        await _check_purpose_target(session, purpose)
        # The same rule as a disbursement's: a service named beside a category, street or group must fit each.
        await purposes.designation_conflicts(
            session,
            category=d.category,
            street_id=d.street_id,
            service_id=d.service_id,
            child_category=d.child_category,
        )
    except Invalid as exc:
        raise Invalid(exc.detail, errors=[{"field": field, "message": exc.detail}]) from None
    return purpose


# ---------------------------------------------------------------- receipts


async def _next_receipt_seq(session: AsyncSession, year: int) -> int:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(ReceiptSequence).values(year=year, last=0).on_conflict_do_nothing())
    seq_row = await session.scalar(
        select(ReceiptSequence)
        .where(ReceiptSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert seq_row is not None
    seq_row.last += 1
    await session.flush()
    return seq_row.last


async def issue_receipt(session: AsyncSession, donation: Donation) -> Receipt:
    """The next number of the year (no gaps: the year's counter row is locked), for what was kept."""
    year = (donation.received_on or clock.today()).year
    seq = await _next_receipt_seq(session, year)
    receipt = Receipt(
        number=f"{RECEIPT_PREFIX}-{year}-{seq:06d}",
        year=year,
        seq=seq,
        donation_id=donation.id,
        amount_fen=donation.amount_fen - donation.refunded_fen,
    )
    session.add(receipt)
    donation.receipt_no = receipt.number
    await session.flush()
    return receipt


async def void_receipt(session: AsyncSession, donation: Donation, reason: str) -> None:
    current = await session.scalar(
        select(Receipt).where(Receipt.donation_id == donation.id, Receipt.voided_at.is_(None))
    )
    if current is not None:
        current.voided_at = clock.now()
        current.void_reason = reason[:300]
    donation.receipt_no = None


# ---------------------------------------------------------------- money in


async def mark_succeeded(
    session: AsyncSession, donation: Donation, *, amount_fen: int, event_key: str, received_on: dt.date
) -> bool:
    """Record that the gift arrived: post it, issue the receipt. False if it had already been recorded."""
    if RANK[donation.status] >= RANK["succeeded"]:
        return False
    if amount_fen != donation.amount_fen:
        # The provider's figure is what arrived; keep the pledge in the note for the reconciliation trail.
        donation.note = f"{donation.note} [承诺 {donation.amount_fen} 分, 实收 {amount_fen} 分]".strip()[:500]
        donation.amount_fen = amount_fen
    if donation.status in ("expired", "canceled"):
        label = DONATION_STATUSES[donation.status]
        donation.note = f"{donation.note} [{label}后仍收到付款，已按到账入账]".strip()[:500]
    asset = accounts.in_kind(donation.fund_id) if donation.channel == "in_kind" else accounts.cash(donation.fund_id)
    await ledger.post_entry(
        session,
        idempotency_key=event_key,
        memo=f"捐赠 #{donation.id} 到账（{CHANNELS.get(donation.channel, donation.channel)}）",
        postings=[(asset, amount_fen), (accounts.income(donation.fund_id, donation.purpose), -amount_fen)],
        occurred_on=received_on,
        source=f"donation:{donation.channel}",
    )
    donation.status = DONATION_LIFECYCLE.target(donation.status, "succeed")
    donation.received_on = received_on
    await session.flush()
    await issue_receipt(session, donation)
    outbox.emit(session, "funds.donation_succeeded", {"donation_id": donation.id})
    return True


async def record_fee(session: AsyncSession, donation: Donation, *, fee_fen: int, key: str) -> bool:
    if fee_fen <= 0:
        return False
    if await session.scalar(select(func.count()).where(JournalEntry.idempotency_key == key)):
        return False
    await ledger.post_entry(
        session,
        idempotency_key=key,
        memo=f"捐赠 #{donation.id} 支付手续费",
        postings=[(accounts.fees(donation.fund_id), fee_fen), (accounts.cash(donation.fund_id), -fee_fen)],
        occurred_on=donation.received_on or clock.today(),
        source="fee",
    )
    donation.fee_fen += fee_fen
    return True


async def record_refund(
    session: AsyncSession, donation: Donation, *, refund_id: str, amount_fen: int, on: dt.date | None = None
) -> bool:
    """A refund, once per refund id. Refunds of a restricted gift come out of its purpose."""
    if amount_fen <= 0:
        raise Invalid.field("amount_fen", "退款金额须大于 0 (refund must be positive)")
    if await session.scalar(select(DonationRefund.id).where(DonationRefund.external_id == refund_id)) is not None:
        return False
    if donation.status not in ("succeeded", "partially_refunded"):
        raise Conflict(f"捐赠 #{donation.id} 状态为 {donation.status}，不能退款 (not refundable)")
    left = donation.amount_fen - donation.refunded_fen
    if amount_fen > left:
        raise Conflict(f"退款 {amount_fen} 分超过可退金额 {left} 分 (refund exceeds what is left)")
    asset = accounts.in_kind(donation.fund_id) if donation.channel == "in_kind" else accounts.cash(donation.fund_id)
    entry = await ledger.post_entry(
        session,
        idempotency_key=f"refund:{donation.channel}:{refund_id}",
        memo=f"捐赠 #{donation.id} 退款 {refund_id}",
        postings=[(accounts.income(donation.fund_id, donation.purpose), amount_fen), (asset, -amount_fen)],
        occurred_on=on or clock.today(),
        source="refund",
    )
    session.add(
        DonationRefund(
            donation_id=donation.id,
            external_id=refund_id,
            amount_fen=amount_fen,
            refunded_on=on or clock.today(),
            entry_id=entry.id,
        )
    )
    donation.refunded_fen += amount_fen
    full = donation.refunded_fen == donation.amount_fen
    donation.status = DONATION_LIFECYCLE.target(donation.status, "refund_all" if full else "refund_part")
    await void_receipt(session, donation, f"退款 {refund_id}")
    await session.flush()
    if not full:
        await issue_receipt(session, donation)
    return True


def move_forward(donation: Donation, transition: str) -> bool:
    """Apply a status change only if it moves forward; late or repeated notices change nothing."""
    target = DONATION_LIFECYCLE.transitions[transition].target
    if (
        RANK[target] <= RANK[donation.status]
        or donation.status not in DONATION_LIFECYCLE.transitions[transition].sources
    ):
        return False
    donation.status = target
    return True


# ---------------------------------------------------------------- the public and the fund manager


async def get_donation(session: AsyncSession, donation_id: int, *, lock: bool = False) -> Donation:
    stmt = select(Donation).where(Donation.id == donation_id).options(selectinload(Donation.donor))
    if lock:
        # Refresh what an earlier unlocked read may have loaded: decisions are made on the locked row.
        # Flush first, so the refresh cannot drop this transaction's own unflushed changes.
        await session.flush()
        stmt = stmt.with_for_update(of=Donation).execution_options(populate_existing=True)
    donation = await session.scalar(stmt)
    if donation is None:
        raise NotFound(f"捐赠 {donation_id} 不存在 (donation not found)")
    return donation


async def _lock_fund_then_donation(session: AsyncSession, donation_id: int) -> Donation:
    """The one lock order for changing a received gift (the webhook handler uses it too): fund, then donation."""
    fund_id = (await get_donation(session, donation_id)).fund_id
    await get_fund(session, fund_id, lock=True)
    return await get_donation(session, donation_id, lock=True)


async def create_pending(
    session: AsyncSession, *, fund_id: int, amount_fen: int, donor: DonorInput, designation: Designation | None
) -> Donation:
    """A donor's online pledge, before the payment provider has been asked."""
    fund = await get_fund(session, fund_id)
    purpose = await designation_purpose(session, designation)
    donor_row = await find_or_create_donor(session, donor)
    donation = Donation(
        fund_id=fund.id,
        donor_id=donor_row.id,
        amount_fen=amount_fen,
        channel="stripe",
        status="pending",
        purpose=purpose,
    )
    session.add(donation)
    await session.flush()
    return donation


async def record_offline(
    session: AsyncSession,
    principal: Principal,
    *,
    fund_id: int,
    amount_fen: int,
    channel: str,
    donor: DonorInput,
    designation: Designation | None,
    received_on: dt.date,
    reference: str | None,
    note: str = "",
    donor_id: int | None = None,
) -> Donation:
    """A bank transfer, cash or goods, recorded by the fund manager: posted and receipted at once. ``donor_id``
    names a known donor (found by the console's search); their consent to be named is updated as ``donor`` says."""
    require_writer(principal)
    if channel not in OFFLINE_CHANNELS:
        raise Invalid.field("channel", f"线下渠道应为 {'、'.join(OFFLINE_CHANNELS)} (unknown offline channel)")
    if channel == "bank_transfer" and not reference:
        raise Invalid.field("reference", "银行转账须填写银行流水号 (bank reference required)")
    if received_on > clock.today():
        raise Invalid.field("received_on", "到账日期不能晚于今天 (received_on in the future)")
    fund = await get_fund(session, fund_id)
    if reference:
        clash = await session.scalar(
            select(Donation.id).where(Donation.channel == channel, Donation.external_id == reference)
        )
        if clash is not None:
            raise Conflict(f"流水号 {reference} 已登记为捐赠 #{clash} (reference already recorded)", donation_id=clash)
    purpose = await designation_purpose(session, designation)
    if donor_id is not None:
        known = await session.get(Donor, donor_id)
        if known is None:
            raise Invalid.field("donor_id", f"捐赠人 {donor_id} 不存在 (donor not found)")
        _take_credit_code(known, donor_credit_code(known.kind, donor.credit_code))
        if donor.anonymous is not None:
            known.consent_to_name = donor.anonymous is False
        donor_row = known
    else:
        donor_row = await find_or_create_donor(session, donor)
    donation = Donation(
        fund_id=fund.id,
        donor_id=donor_row.id,
        amount_fen=amount_fen,
        channel=channel,
        status="pending",
        purpose=purpose,
        external_id=reference,
        note=note,
        recorded_by=principal.user_id,
    )
    session.add(donation)
    await session.flush()
    key = f"offline:{channel}:{reference}" if reference else f"offline:donation:{donation.id}"
    await mark_succeeded(session, donation, amount_fen=amount_fen, event_key=key, received_on=received_on)
    return await get_donation(session, donation.id)


async def refund_offline(
    session: AsyncSession, principal: Principal, donation_id: int, *, amount_fen: int, reference: str, reason: str
) -> Donation:
    """Money given back outside Stripe (a returned bank transfer), keyed by its own reference."""
    require_writer(principal)
    donation = await _lock_fund_then_donation(session, donation_id)
    if donation.channel == "stripe":
        raise Conflict("线上捐赠的退款须在 Stripe 发起，以其通知入账 (Stripe refunds arrive by webhook)")
    if not await record_refund(session, donation, refund_id=reference, amount_fen=amount_fen):
        raise Conflict(f"退款流水号 {reference} 已登记 (refund reference already recorded)")
    donation.note = f"{donation.note} [退款: {reason}]".strip()[:500]
    return donation


async def change_purpose(
    session: AsyncSession,
    principal: Principal,
    donation_id: int,
    *,
    purpose: str,
    consent_note: str,
    consent_reference: str,
) -> Donation:
    """Re-designate what is left of a gift; only with the donor's recorded consent and unspent money."""
    require_writer(principal)
    if not consent_note.strip() or not consent_reference.strip():
        raise Invalid(
            "变更用途须记录捐赠人同意及凭证 (the donor's consent and its reference are required)",
            errors=[
                {"field": f, "message": "必填 (required)"}
                for f, v in (("consent_note", consent_note), ("consent_reference", consent_reference))
                if not v.strip()
            ],
        )
    await _check_purpose_target(session, purpose)
    donation = await _lock_fund_then_donation(session, donation_id)
    if donation.status not in ("succeeded", "partially_refunded"):
        raise Conflict("只有已到账的捐赠可以变更用途 (only received gifts can be re-designated)")
    if purpose == donation.purpose:
        raise Conflict("新用途与原用途相同 (same purpose)")
    amount = donation.amount_fen - donation.refunded_fen
    left = await purpose_available(session, donation.fund_id, donation.purpose)
    if amount > left:
        raise Conflict(
            f"原用途仅剩 {left} 分，少于该捐赠的 {amount} 分，已支出的部分不能改变用途 (already spent)",
            available_fen=left,
        )
    n = await session.scalar(select(func.count()).where(PurposeChange.donation_id == donation.id)) or 0
    entry = await ledger.post_entry(
        session,
        idempotency_key=f"purpose_change:{donation.id}:{n + 1}",
        memo=f"捐赠 #{donation.id} 经捐赠人同意变更用途：{donation.purpose} → {purpose}",
        postings=[
            (accounts.income(donation.fund_id, donation.purpose), amount),
            (accounts.income(donation.fund_id, purpose), -amount),
        ],
        source="purpose_change",
    )
    session.add(
        PurposeChange(
            donation_id=donation.id,
            from_purpose=donation.purpose,
            to_purpose=purpose,
            amount_fen=amount,
            consent_note=consent_note.strip()[:500],
            consent_reference=consent_reference.strip()[:200],
            recorded_by=principal.user_id,
            entry_id=entry.id,
        )
    )
    donation.purpose = purpose
    await session.flush()
    return donation


async def read_donation(session: AsyncSession, principal: Principal, donation_id: int) -> Donation:
    require_reader(principal)
    return await get_donation(session, donation_id)


async def list_donations(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    fund_id: int | None,
    channel: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Donation], int]:
    require_reader(principal)
    stmt = select(Donation)
    if status:
        if status not in DONATION_STATUSES:
            raise Invalid.field("status", f"未知状态 {status} (unknown status)")
        stmt = stmt.where(Donation.status == status)
    if fund_id:
        stmt = stmt.where(Donation.fund_id == fund_id)
    if channel:
        stmt = stmt.where(Donation.channel == channel)
    return await fetch_page(
        session, stmt.options(selectinload(Donation.donor)), Donation.id.desc(), limit=limit, offset=offset
    )


@dataclass
class DonorSummary:
    donor: Donor
    total_fen: int
    donations: int
    receipts: list[str]


@dataclass(frozen=True)
class GiftCorrection:
    """A reconciliation correction that touched a gift, with who resolved it."""

    correction: ReconciliationCorrection
    resolved_by: str


async def corrections_touching(session: AsyncSession, donation: Donation) -> list[GiftCorrection]:
    """The reconciliation corrections that name the gift, or its reference in the gift's fund, oldest first."""
    touches = ReconciliationCorrection.donation_id == donation.id
    if donation.external_id:
        touches = or_(
            touches,
            and_(
                ReconciliationCorrection.fund_id == donation.fund_id,
                ReconciliationCorrection.external_id == donation.external_id,
            ),
        )
    rows = await session.execute(
        select(ReconciliationCorrection, User.display_name)
        .outerjoin(User, User.id == ReconciliationCorrection.created_by)
        .where(touches)
        .order_by(ReconciliationCorrection.created_at, ReconciliationCorrection.id)
    )
    return [
        GiftCorrection(c, who or ("系统" if c.created_by is None else f"用户 #{c.created_by}")) for c, who in rows.all()
    ]


async def list_donors(
    session: AsyncSession, principal: Principal, *, q: str | None, limit: int, offset: int
) -> tuple[list[DonorSummary], int]:
    require_reader(principal)
    stmt = select(Donor)
    if q:
        q = q.strip()
        stmt = stmt.where(
            or_(
                Donor.name.contains(q, autoescape=True),
                Donor.email.contains(q, autoescape=True),
                Donor.phone.contains(q, autoescape=True),
                Donor.credit_code.contains(q.upper(), autoescape=True),
            )
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    donors = list((await session.scalars(stmt.order_by(Donor.id).limit(limit).offset(offset))).all())
    ids = [d.id for d in donors]
    sums: dict[int, tuple[int, int]] = {}
    receipts: dict[int, list[str]] = {}
    if ids:
        rows = await session.execute(
            select(Donation.donor_id, func.sum(Donation.amount_fen - Donation.refunded_fen), func.count())
            .where(Donation.donor_id.in_(ids), Donation.status.in_(PAID))
            .group_by(Donation.donor_id)
        )
        sums = {d: (int(t or 0), int(n)) for d, t, n in rows.all()}
        numbers = await session.execute(
            select(Donation.donor_id, Donation.receipt_no)
            .where(Donation.donor_id.in_(ids), Donation.receipt_no.is_not(None))
            .order_by(Donation.id)
        )
        for donor_id, number in numbers.all():
            if number:
                receipts.setdefault(donor_id, []).append(number)
    return [
        DonorSummary(d, sums.get(d.id, (0, 0))[0], sums.get(d.id, (0, 0))[1], receipts.get(d.id, [])) for d in donors
    ], total


def donation_public_metadata(donation: Donation) -> dict[str, str]:
    return {"donation_id": str(donation.id), "fund_id": str(donation.fund_id), "purpose": donation.purpose}


def as_dict(d: Donation) -> dict[str, Any]:
    return {"id": d.id, "status": d.status, "amount_fen": d.amount_fen, "refunded_fen": d.refunded_fen}


@dataclass
class OnlineStart:
    donation: Donation
    client_secret: str | None
    error: str | None


async def start_online(
    session: AsyncSession,
    channel: Any,
    *,
    fund_id: int,
    amount_fen: int,
    donor: DonorInput,
    designation: Designation | None,
) -> OnlineStart:
    """Record the pledge and ask the channel for a payment. If the channel is down the pledge is kept as
    canceled (so its id, and the idempotency key derived from it, are never reused) and the error returned."""
    donation = await create_pending(
        session, fund_id=fund_id, amount_fen=amount_fen, donor=donor, designation=designation
    )
    try:
        started = await channel.start_payment(
            amount_fen=amount_fen,
            currency="cny",
            idempotency_key=f"donation-{donation.id}",
            metadata=donation_public_metadata(donation),
        )
    except ChannelUnavailable as exc:
        donation.status = DONATION_LIFECYCLE.target(donation.status, "cancel")
        donation.note = exc.detail[:500]
        await session.flush()
        return OnlineStart(donation, None, exc.detail)
    donation.external_id = started.external_id
    await session.flush()
    return OnlineStart(donation, started.client_secret, None)
