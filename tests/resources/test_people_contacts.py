"""Social workers' own contact numbers: the district's roles and the worker's own organization see them; every
other signed-in role sees the name and the organization's channel instead (issue #17)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Auth
from tests.support.world import World

MOBILE = "13912345678"
ORG_CHANNEL = "13800000001"  # the first organization's registered contact phone (tests/support/world.py)

SEES = ["admin", "fund", "procurement", "auditor", "org"]
DOES_NOT_SEE = ["org2", "org3", "director", "supervisor"]


@pytest.fixture
async def worker(client: AsyncTestClient[Litestar], auth: Auth, world: World) -> dict[str, Any]:
    body = {
        "organization_id": world.orgs[0],
        "name": "张社工",
        "qualification": "中级社工师",
        "specialties": ["psych_counselling"],
        "street_ids": [world.streets[0]],
        "phone": MOBILE,
    }
    r = await client.post("/api/v1/social-workers", json=body, headers=await auth("org"))
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    assert made["phone"] == MOBILE and made["contact_channel"] == MOBILE
    return made


async def _listed(client: AsyncTestClient[Litestar], headers: dict[str, str], worker_id: int) -> dict[str, Any]:
    r = await client.get("/api/v1/social-workers", headers=headers)
    assert r.status_code == 200, r.text
    return next(w for w in r.json()["items"] if w["id"] == worker_id)


@pytest.mark.parametrize("user", SEES)
async def test_the_district_and_the_own_organization_see_the_number(
    client: AsyncTestClient[Litestar], auth: Auth, worker: dict[str, Any], user: str
) -> None:
    seen = await _listed(client, await auth(user), worker["id"])
    assert seen["name"] == "张社工" and seen["phone"] == MOBILE and seen["contact_channel"] == MOBILE


@pytest.mark.parametrize("user", DOES_NOT_SEE)
async def test_others_get_the_organizations_channel(
    client: AsyncTestClient[Litestar], auth: Auth, worker: dict[str, Any], user: str
) -> None:
    headers = await auth(user)
    seen = await _listed(client, headers, worker["id"])
    assert seen["name"] == "张社工" and seen["phone"] == "" and seen["contact_channel"] == ORG_CHANNEL
    r = await client.get(f"/api/v1/social-workers?organization_id={worker['organization_id']}", headers=headers)
    assert MOBILE not in r.text


async def test_an_update_answers_with_the_number_to_its_organization(
    client: AsyncTestClient[Litestar], auth: Auth, worker: dict[str, Any]
) -> None:
    r = await client.patch(
        f"/api/v1/social-workers/{worker['id']}", json={"max_caseload": 12}, headers=await auth("org")
    )
    assert r.status_code == 200 and r.json()["phone"] == MOBILE
