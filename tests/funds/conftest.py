from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from marketplace.db import Database
from marketplace.funds import channels
from marketplace.funds import service as funds
from marketplace.resources.models import Service, ServiceCategory, ServiceChildCategory, ServiceStreet
from tests.cases.support import cases
from tests.funds.support import FakeChannel
from tests.support.world import World

__all__ = ["cases"]


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


@dataclass(frozen=True)
class IssueServices:
    """The services of issue #14's findings: a companionship service (精神慰藉 and 临时照料, for 福田街道's
    left-behind children) and a district-wide guardianship assessment (监护评估)."""

    companionship: int
    assessment: int


@pytest.fixture
async def issue_services(db: Database, world: World) -> IssueServices:
    async with db.session() as s:
        made = [
            Service(
                organization_id=world.orgs[0],
                title="留守儿童陪伴关爱服务",
                capacity_per_month=10,
                cost_per_case_fen=30_000,
                status="published",
                district_wide=False,
                categories=[ServiceCategory(code="emotional_support"), ServiceCategory(code="temporary_care")],
                child_categories=[ServiceChildCategory(code="left_behind")],
                streets=[ServiceStreet(street_id=world.streets[0])],
            ),
            Service(
                organization_id=world.orgs[1],
                title="困境儿童监护评估服务",
                capacity_per_month=10,
                cost_per_case_fen=80_000,
                status="published",
                district_wide=True,
                categories=[ServiceCategory(code="guardianship_assessment")],
                child_categories=[],
                streets=[],
            ),
        ]
        s.add_all(made)
        await s.flush()
        return IssueServices(made[0].id, made[1].id)
