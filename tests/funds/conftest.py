from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.db import Database
from marketplace.funds import channels
from marketplace.funds import service as funds
from tests.funds.support import FakeChannel


@pytest.fixture
def fake_channel() -> Iterator[FakeChannel]:
    fake = FakeChannel()
    saved = dict(channels.ONLINE_CHANNELS)
    channels.ONLINE_CHANNELS["stripe"] = lambda settings: fake
    yield fake
    channels.ONLINE_CHANNELS.clear()
    channels.ONLINE_CHANNELS.update(saved)


@pytest.fixture
async def fund_id(db: Database, world: object) -> int:
    async with db.session() as s:
        fund = await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
        return fund.id
