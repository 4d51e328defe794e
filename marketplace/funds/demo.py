"""Demo data: the Futian public-welfare fund, 300,000 yuan raised (some of it restricted), and disbursements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.demo import futian_data as data
from marketplace.funds import accounts, purposes
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds.models import Donation, Donor

ORDER = 40
FUND_NAME = "福田区未成年人保护公益基金"
STRIPE_FEE_PERMILLE = 6  # 0.6%, as the demo's assumed online rate


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    fund = await funds.ensure_fund(session, code=funds.PUBLIC_WELFARE_CODE, name=FUND_NAME)
    ctx.setdefault("funds", {})["public_welfare"] = fund.id
    if await session.scalar(select(func.count()).where(Donation.fund_id == fund.id)):
        return
    streets: dict[str, int] = ctx.get("streets", {})
    manager_id = int(ctx.get("users", {}).get("fund") or 0)
    today = clock.today()
    donors: list[Donor] = []
    for d in data.DONORS:
        donor = Donor(
            name=d.name, kind=d.kind, phone=d.phone, credit_code=d.credit_code, consent_to_name=d.consent_to_name
        )
        session.add(donor)
        donors.append(donor)
    await session.flush()
    for i, g in enumerate(data.DONATIONS, start=1):
        street_id = streets.get(g.restricted_street) if g.restricted_street else None
        purpose = accounts.purpose_for(g.restricted_category, street_id, None)
        on = today - dt.timedelta(days=g.days_ago)
        online = g.channel == "stripe"
        donation = Donation(
            fund_id=fund.id,
            donor_id=donors[g.donor_index].id,
            amount_fen=g.amount_fen,
            channel=g.channel,
            status="pending",
            purpose=purpose,
            external_id=f"pi_demo_{i:05d}"
            if online
            else (f"DEMO-BANK-{i:05d}" if g.channel == "bank_transfer" else None),
            charge_id=f"ch_demo_{i:05d}" if online else None,
            note=g.note,
            recorded_by=None if online else manager_id or None,
        )
        session.add(donation)
        await session.flush()
        key = f"stripe:payment:{donation.external_id}" if online else f"offline:demo:{donation.id}"
        await gifts.mark_succeeded(session, donation, amount_fen=g.amount_fen, event_key=key, received_on=on)
        if online:
            fee = g.amount_fen * STRIPE_FEE_PERMILLE // 1000
            await gifts.record_fee(session, donation, fee_fen=fee, key=f"stripe:fee:txn_demo_{i:05d}")
    await _disburse(session, fund.id, ctx, manager_id)


async def _disburse(session: AsyncSession, fund_id: int, ctx: dict[str, Any], manager_id: int) -> None:
    """Spend part of each sizeable purpose on a service of the pool the purpose may pay (``funds.purposes``): the
    plans' charity resources. A purpose no demo service fits (a street no service lists) keeps its money."""
    manager = Principal(user_id=manager_id, username="fund", role="fund_manager")
    services: list[int] = list(ctx.get("services", []))
    payees = await purposes.service_payees(session, services)
    balances = await funds.fund_balances(session, await funds.get_fund(session, fund_id))
    today = clock.today()
    for n, (purpose, slot) in enumerate(sorted(balances.purposes.items())):
        if slot["available_fen"] < 500_000:
            continue
        # Start at a different service for each purpose, so the unrestricted money does not all go to one.
        turn = services[n % len(services) :] + services[: n % len(services)] if services else []
        payee = next((payees[i] for i in turn if i in payees and purposes.fits(purpose, payees[i])), None)
        if payee is None:
            continue
        await funds.disburse(
            session,
            manager,
            fund_id,
            amount_fen=slot["available_fen"] * 45 // 100,
            purpose=purpose,
            service_id=payee.service_id,
            memo="拨付服务项目（五社联动慈善资源）",
            paid_on=today - dt.timedelta(days=7 + n),
        )
