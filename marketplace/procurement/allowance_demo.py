"""Demo allowances: decisions, payees, rates by category, and the year's monthly runs, signed off and paid.

The seed's figure for Futian (Q1 2023: 316 living-allowance payments, 302,500 yuan) implies several rates: 2,454
yuan a month for orphans and de-facto unsupported children cannot make it alone. The demo's first quarter is built to
give exactly that figure with three rates: 2,454 yuan (orphans, de-facto unsupported: 17 children in January and
February, 16 in March after one adoption), 1,100 yuan (disabled or seriously ill: 26 children) and 500 yuan
(economic hardship: 62 children, 63 from February): 50 + 78 + 188 = 316 payments, 122,700 + 85,800 + 94,000 =
302,500 yuan. A few more orphans' proposals wait for review or approval, to show the workflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import eligibility
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import AllowanceDecision, AllowancePayee, Child
from marketplace.errors import DomainError
from marketplace.procurement import allowances
from marketplace.procurement.models import AllowanceStandard
from marketplace.settings import Settings, get_settings

log = logging.getLogger("marketplace.demo")

ORPHANS: Final = ("orphan", "de_facto_unsupported")
ILL: Final = ("disabled", "seriously_ill")
HARDSHIP: Final = "economic_hardship"
# The demo's category rates (Futian's 2,454 yuan for orphans is the migration's rate).
CATEGORY_RATES: Final = {"disabled": 110_000, "seriously_ill": 110_000, "economic_hardship": 50_000}
BANKS: Final = (
    "中国工商银行深圳福田支行",
    "中国建设银行深圳华强支行",
    "深圳农村商业银行福田支行",
    "中国银行深圳福华支行",
)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=dt.UTC)


def _account(child_id: int) -> str:
    digits = str(int(hashlib.sha256(f"demo-account-{child_id}".encode()).hexdigest(), 16))
    return "6222" + digits[:15]


async def _rates(session: AsyncSession, settings: Settings) -> None:
    for category, amount in CATEGORY_RATES.items():
        found = await session.scalar(
            select(AllowanceStandard.id).where(
                AllowanceStandard.kind == "living_allowance",
                AllowanceStandard.category == category,
                AllowanceStandard.region == settings.allowances.region,
            )
        )
        if found is None:
            session.add(
                AllowanceStandard(
                    kind="living_allowance",
                    category=category,
                    region=settings.allowances.region,
                    effective_from=dt.date(2023, 1, 1),
                    amount_fen=amount,
                    note=f"困境儿童基本生活补贴（{category}）{amount // 100}元/人/月（演示）",
                )
            )


async def _decisions(session: AsyncSession, ctx: dict[str, Any], settings: Settings, year: int) -> None:
    users: dict[str, int] = ctx.get("users", {})
    director, supervisor, admin = users.get("director"), users.get("supervisor"), users.get("admin")
    cipher = field_cipher(settings)
    adult_after = dt.date(year + 1, 1, 1)
    kids = [
        c
        for c in (await session.scalars(select(Child).where(Child.status == "active").order_by(Child.id))).all()
        if eligibility.eighteenth_birthday(c.birth_date) > adult_after
    ]
    orphans = [c for c in kids if set(ORPHANS) & set(c.categories or [])]
    ill = [c for c in kids if c not in orphans and set(ILL) & set(c.categories or [])]
    hardship = [c for c in kids if c not in orphans and c not in ill and HARDSHIP in (c.categories or [])]
    january, february = f"{year:04d}-01", f"{year:04d}-02"
    grants: list[tuple[Child, str, str, dt.date]] = []
    grants += [
        (c, next(x for x in ORPHANS if x in c.categories), january, dt.date(year - 1, 12, 15)) for c in orphans[:17]
    ]
    grants += [(c, next(x for x in ILL if x in c.categories), january, dt.date(year - 1, 12, 15)) for c in ill[:26]]
    grants += [(c, HARDSHIP, january, dt.date(year - 1, 12, 15)) for c in hardship[:62]]
    grants += [(c, HARDSHIP, february, dt.date(year, 1, 20)) for c in hardship[62:63]]

    def decision(child: Child, action: str, decided: dt.date | None, status: str, **values: Any) -> AllowanceDecision:
        proposed = (decided or clock.today()) - dt.timedelta(days=12)
        return AllowanceDecision(
            child_id=child.id,
            community_id=child.community_id,
            street_id=child.street_id,
            kind="living_allowance",
            action=action,
            evidence=["民政部门认定材料.pdf", "户籍证明.pdf"] if action == "grant" else ["收养登记证.pdf"],
            status=status,
            proposed_by=director,
            proposed_at=_at(proposed),
            reviewed_by=supervisor if status in ("reviewed", "approved") else None,
            reviewed_at=_at(proposed + dt.timedelta(days=5)) if status in ("reviewed", "approved") else None,
            decided_by=admin if status == "approved" else None,
            decided_at=_at(decided) if decided and status == "approved" else None,
            **values,
        )

    for n, (child, category, month, decided) in enumerate(grants):
        session.add(decision(child, "grant", decided, "approved", category=category, effective_month=month))
        payee_kind = "institution" if child.guardianship in ("temporary_state", "long_term_state") else "guardian"
        account = _account(child.id)
        session.add(
            AllowancePayee(
                child_id=child.id,
                kind=payee_kind,
                name="深圳市儿童福利院"
                if payee_kind == "institution"
                else (child.guardian_name or f"{child.name}监护人"),
                bank_name=BANKS[n % len(BANKS)],
                account_enc=cipher.encrypt(account, eligibility.PAYEE_FIELD),
                account_last4=account[-4:],
                created_by=director,
            )
        )
    if len(orphans) >= 17:
        adopted = orphans[16]
        session.add(
            decision(
                adopted, "cease", dt.date(year, 2, 20), "approved", reason="adopted", effective_month=f"{year:04d}-03"
            )
        )
    for child in orphans[17:20]:
        session.add(
            decision(child, "grant", None, "proposed", category=next(x for x in ORPHANS if x in child.categories))
        )
    for child in orphans[20:22]:
        session.add(
            decision(child, "grant", None, "reviewed", category=next(x for x in ORPHANS if x in child.categories))
        )
    await session.flush()


async def load(session: AsyncSession, ctx: dict[str, Any], officer: Principal, year: int, budget_id: int) -> None:
    """Decisions and payees, then each month of the year up to the current one: run, sign-off, payment; stopping
    where a line runs out (the 409 a clerk would see)."""
    settings: Settings = ctx.get("settings") or get_settings()
    users: dict[str, int] = ctx.get("users", {})
    admin = Principal(user_id=users.get("admin", 0), username="admin", role="district_admin")
    await _rates(session, settings)
    await _decisions(session, ctx, settings, year)
    cipher = field_cipher(settings)
    last = clock.month_key()
    for month in range(1, 13):
        key = f"{year:04d}-{month:02d}"
        if key > last:
            break
        try:
            async with session.begin_nested():
                result = await allowances.run_month(
                    session, officer, key, budget_id=budget_id, region=settings.allowances.region
                )
                if result.run_id is not None:
                    await allowances.sign_off(session, admin, settings, cipher, result.run_id, "演示：按月签批")
                    await allowances.pay_run(session, officer, result.run_id)
        except DomainError as exc:
            log.info("procurement demo: allowances for %s not paid: %s", key, exc.detail)
            break
