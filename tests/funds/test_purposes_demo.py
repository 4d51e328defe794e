"""Every purpose × every service of the Futian demo: the fund pays exactly the pairs an independent statement of the
rule allows, and refuses every other one with a 422 and a Chinese message. The demo's own disbursements obey it.

The independent statement reads the services' categories, listed streets and declared child groups straight from
their tables and says, per kind of purpose, which services it may pay directly (``funds.purposes``' table):
category → the service offers it; street → the service lists it; service → that service; child group → the service
declares it; unrestricted → any.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from marketplace import clock
from marketplace.app import create_app
from marketplace.auth.models import User
from marketplace.auth.service import issue_token
from marketplace.db import Database
from marketplace.funds import demo, purposes
from marketplace.funds.models import Disbursement
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES
from marketplace.settings import Settings

loader = pytest.importorskip("marketplace.demo.loader")

CHINESE = re.compile(r"[\u4e00-\u9fff]")
_refs = itertools.count(1)


@dataclass(frozen=True)
class DemoPool:
    fund_id: int
    services: list[int]
    streets: list[int]
    categories: dict[int, set[str]]
    listed_streets: dict[int, set[int]]
    groups: dict[int, set[str]]

    def purposes(self) -> list[str]:
        return [
            "unrestricted",
            *(f"category:{c}" for c in SERVICE_CATEGORIES),
            *(f"street:{s}" for s in self.streets),
            *(f"service:{s}" for s in self.services),
            *(f"group:{g}" for g in CHILD_CATEGORIES),
        ]

    def allows(self, purpose: str, service_id: int) -> bool:
        """The rule, stated again from the raw tables."""
        kind, _, value = purpose.partition(":")
        return {
            "unrestricted": True,
            "category": value in self.categories[service_id],
            "street": value.isdigit() and int(value) in self.listed_streets[service_id],
            "service": value == str(service_id),
            "group": value in self.groups[service_id],
        }[kind]


@pytest.fixture
async def pool(db: Database) -> DemoPool:
    async with db.session() as s:
        ctx = await loader.load_pool(s)
        await demo.load(s, ctx)
    async with db.session(write=False) as s:
        tables: dict[str, dict[int, set[Any]]] = {}
        for table, column in (
            ("service_categories", "code"),
            ("service_streets", "street_id"),
            ("service_child_categories", "code"),
        ):
            found: dict[int, set[Any]] = defaultdict(set)
            for service_id, value in (await s.execute(text(f"SELECT service_id, {column} FROM {table}"))).all():
                found[int(service_id)].add(value)
            tables[table] = found
        streets = sorted(int(i) for i in (await s.scalars(text("SELECT id FROM streets"))).all())
    return DemoPool(
        fund_id=ctx["funds"]["public_welfare"],
        services=list(ctx["services"]),
        streets=streets,
        categories=tables["service_categories"],
        listed_streets=tables["service_streets"],
        groups=tables["service_child_categories"],
    )


async def test_the_rule_decides_every_purpose_and_service_of_the_demo_as_stated(db: Database, pool: DemoPool) -> None:
    async with db.session(write=False) as s:
        payees = await purposes.service_payees(s, pool.services)
    assert len(pool.services) >= 70 and set(payees) == set(pool.services)
    outcomes: dict[tuple[str, bool], int] = defaultdict(int)
    for purpose in pool.purposes():
        for service_id in pool.services:
            expected = pool.allows(purpose, service_id)
            why = purposes.refusal(purpose, payees[service_id])
            assert (why is None) == expected, (purpose, service_id, why)
            if why is not None:
                assert CHINESE.search(why) and payees[service_id].service_title in why
            outcomes[(purpose.partition(":")[0], expected)] += 1
    # Every restricted kind both pays and refuses somewhere in the demo: the comparison decides something.
    for kind in ("category", "street", "service", "group"):
        assert outcomes[(kind, True)] > 0 and outcomes[(kind, False)] > 0, kind


async def test_the_demo_only_pays_what_its_purposes_allow(db: Database, pool: DemoPool) -> None:
    async with db.session(write=False) as s:
        paid = (await s.scalars(select(Disbursement).where(Disbursement.fund_id == pool.fund_id))).all()
    restricted = [d for d in paid if d.purpose != "unrestricted"]
    assert restricted, "the demo spends restricted money"
    for d in paid:
        assert d.service_id is not None and pool.allows(d.purpose, d.service_id), (d.purpose, d.service_id)


@pytest.fixture
async def fund_client(settings: Settings, db: Database, pool: DemoPool) -> AsyncIterator[tuple[Any, dict[str, str]]]:
    async with db.session(write=False) as s:
        user = await s.scalar(select(User).where(User.username == "fund"))
        assert user is not None
        token = issue_token(user, settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def _designation(purpose: str) -> dict[str, Any] | None:
    kind, _, value = purpose.partition(":")
    if kind == "unrestricted":
        return None
    if kind in ("street", "service"):
        return {f"{kind}_id": int(value)}
    return {"category": value} if kind == "category" else {"child_category": value}


def _pairs(pool: DemoPool) -> st.SearchStrategy[tuple[str, int]]:
    everything = [(p, s) for p in pool.purposes() for s in pool.services]
    matching = [(p, s) for p, s in everything if p != "unrestricted" and pool.allows(p, s)]
    # Half from the matching pairs (a tenth of all): both answers are tried often.
    return st.one_of(st.sampled_from(matching), st.sampled_from(everything))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_the_api_pays_exactly_the_matching_pairs(
    pool: DemoPool, fund_client: tuple[Any, dict[str, str]], data: st.DataObject
) -> None:
    client, fm = fund_client
    purpose, service_id = data.draw(_pairs(pool), label="purpose × service")
    # The purpose has the money (so a refusal can only be the match), then pays the service.
    gift = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": pool.fund_id,
            "amount_fen": 100,
            "channel": "cash",
            "reference": f"PROP-{next(_refs)}",
            "received_on": clock.today().isoformat(),
            "donor": {"name": "爱心人士"},
            "designation": _designation(purpose),
        },
        headers=fm,
    )
    assert gift.status_code == 201, gift.text
    r = await client.post(
        f"/api/v1/funds/{pool.fund_id}/disbursements",
        json={"amount_fen": 100, "purpose": purpose, "service_id": service_id},
        headers=fm,
    )
    if pool.allows(purpose, service_id):
        assert r.status_code == 201, (purpose, service_id, r.text)
    else:
        assert r.status_code == 422, (purpose, service_id, r.text)
        body = r.json()
        assert CHINESE.search(body["detail"]) and body["errors"][0]["field"] == "purpose"
