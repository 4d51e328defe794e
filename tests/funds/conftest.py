from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe

from marketplace.db import Database
from marketplace.funds import channels
from marketplace.funds import service as funds
from marketplace.resources.models import Service, ServiceCategory, ServiceChildCategory, ServiceStreet
from marketplace.settings import Settings
from tests.cases.support import cases
from tests.funds import live
from tests.funds.support import FakeChannel
from tests.integration.conftest_stripe import localstripe
from tests.support import figures
from tests.support.databases import test_settings
from tests.support.world import World

__all__ = ["cases", "localstripe"]

WEBHOOK_SECRET = "whsec_test_secret"  # the test settings' STRIPE_WEBHOOK_SECRET


@pytest.fixture
def fake_channel() -> Iterator[FakeChannel]:
    """A stand-in for the provider, only for tests that need a provider behaviour localstripe cannot produce (each
    such test says which in its docstring)."""
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


# ---------------------------------------------------------------- the real payment channel (tests/funds/live.py)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, localstripe: str) -> Settings:
    """The fund's tests run the app's own Stripe channel against localstripe (a real server, per test worker)."""
    return test_settings(database_url, tmp_path, stripe_api_base=localstripe, stripe_api_key=live.API_KEY)


@pytest.fixture(autouse=True)
def stripe_client_per_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app keeps one Stripe client per key and base for its process's one event loop (the API's, or the
    worker's). A test runs the app under the test client (its own loop, in a thread) and the jobs in the test's
    loop, and each test has a new loop: so here a client is kept per loop, as each process of the product keeps one
    (a pooled connection used from another loop fails, and the library retries the request)."""
    made: dict[tuple[str, str | None, int | None], stripe.StripeClient] = {}
    build = channels._client.__wrapped__

    def per_loop(api_key: str, api_base: str | None) -> stripe.StripeClient:
        try:
            loop: int | None = id(asyncio.get_running_loop())
        except RuntimeError:
            loop = None
        key = (api_key, api_base, loop)
        if key not in made:
            made[key] = build(api_key, api_base)
        return made[key]

    monkeypatch.setattr(channels, "_client", per_loop)


@pytest.fixture(scope="session")
def stripe_catcher(localstripe: str) -> Iterator[live.Catcher]:
    yield from live.catcher_at(localstripe, WEBHOOK_SECRET)


@pytest.fixture
def stripe_live(settings: Settings, stripe_catcher: live.Catcher) -> Iterator[live.LiveStripe]:
    """The provider's side of a test (pay, refund, read back) and Stripe's signed notices to the app; counts the
    test and its deliveries in the reliability figures."""
    assert settings.stripe_api_base
    side = live.LiveStripe(settings.stripe_api_base, stripe_catcher, settings.stripe_webhook_secret)
    yield side
    figures.record(live.SUITE, "payment-channel tests on localstripe", 1)
    side.report()
