from __future__ import annotations

import pytest

from marketplace.db import Database
from marketplace.funds import demo, ledger, reports
from marketplace.funds import service as funds

futian = pytest.importorskip("marketplace.demo.futian_data")
loader = pytest.importorskip("marketplace.demo.loader")


async def test_demo_fund_raised_300k_yuan_with_restricted_gifts_and_disbursements(db: Database) -> None:
    async with db.session() as s:
        ctx = await loader.load_pool(s)
        await demo.load(s, ctx)
        await demo.load(s, ctx)  # loading twice adds nothing
    async with db.session(write=False) as s:
        fund_id = ctx["funds"]["public_welfare"]
        public = await reports.public_accounts(s, fund_id)
        assert public.income_fen == futian.FUND_RAISED_FEN == 30_000_000
        assert public.donations == len(futian.DONATIONS)
        assert public.spent_fen > 0 and public.spending_by_purpose
        b = await funds.fund_balances(s, await funds.get_fund(s, fund_id))
        assert b.restricted_fen > 0 and b.unrestricted_fen > 0
        assert b.balance_fen == 30_000_000 - public.spent_fen - public.fees_fen
        assert await ledger.trial_balance(s) == 0
        roll = await reports.honour_roll(s, fund_id, limit=200, offset=0)
        named = {d.name for d in futian.DONORS if d.consent_to_name}
        assert {e.name for e in roll.items} <= named and roll.anonymous_donors > 0
        # Largest gifts first; a page of the roll is that slice of the whole, and the hidden sum is the same on it.
        assert [e.total_fen for e in roll.items] == sorted((e.total_fen for e in roll.items), reverse=True)
        page = await reports.honour_roll(s, fund_id, limit=3, offset=2)
        assert page.items == roll.items[2:5]
        assert (page.anonymous_donors, page.anonymous_total_fen) == (roll.anonymous_donors, roll.anonymous_total_fen)
        named_fen = sum(e.total_fen for e in roll.items)
        assert named_fen + roll.anonymous_total_fen == public.income_fen - public.refunded_fen
