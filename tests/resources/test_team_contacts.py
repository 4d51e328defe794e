"""Volunteer teams' contact people: the district's roles and the team's own organization see the contact's mobile;
every other signed-in role sees the name and the organization's registered contact phone instead (issue #17, the
social workers' rule)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Auth
from tests.support.world import World

MOBILE = "13912348765"
ORG_CHANNEL = "13800000001"  # the first organization's registered contact phone (tests/support/world.py)

SEES = ["admin", "fund", "procurement", "auditor", "org"]
DOES_NOT_SEE = ["org2", "org3", "director", "supervisor"]


@pytest.fixture
async def team(client: AsyncTestClient[Litestar], auth: Auth, world: World) -> dict[str, Any]:
    body = {
        "street_id": world.streets[0],
        "organization_id": world.orgs[0],
        "name": "阳光志愿服务队",
        "member_count": 12,
        "skills": ["psych_counselling"],
        "contact_name": "王队长",
        "contact_phone": MOBILE,
    }
    r = await client.post("/api/v1/volunteer-teams", json=body, headers=await auth("org"))
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    assert made["contact_phone"] == MOBILE and made["contact_channel"] == MOBILE
    return made


async def _listed(client: AsyncTestClient[Litestar], headers: dict[str, str], team_id: int) -> dict[str, Any]:
    r = await client.get("/api/v1/volunteer-teams", headers=headers)
    assert r.status_code == 200, r.text
    return next(t for t in r.json()["items"] if t["id"] == team_id)


@pytest.mark.parametrize("user", SEES)
async def test_the_district_and_the_own_organization_see_the_mobile(
    client: AsyncTestClient[Litestar], auth: Auth, team: dict[str, Any], user: str
) -> None:
    seen = await _listed(client, await auth(user), team["id"])
    assert seen["contact_name"] == "王队长"
    assert seen["contact_phone"] == MOBILE and seen["contact_channel"] == MOBILE


@pytest.mark.parametrize("user", DOES_NOT_SEE)
async def test_others_get_the_organizations_channel(
    client: AsyncTestClient[Litestar], auth: Auth, team: dict[str, Any], world: World, user: str
) -> None:
    headers = await auth(user)
    seen = await _listed(client, headers, team["id"])
    assert seen["contact_name"] == "王队长"
    assert seen["contact_phone"] == "" and seen["contact_channel"] == ORG_CHANNEL
    r = await client.get(f"/api/v1/volunteer-teams?street_id={world.streets[0]}", headers=headers)
    assert r.status_code == 200 and MOBILE not in r.text


async def test_a_streets_team_without_an_organization_shows_no_number_to_others(
    client: AsyncTestClient[Litestar], auth: Auth, world: World
) -> None:
    body = {"street_id": world.streets[0], "name": "街道巾帼志愿队", "contact_name": "李阿姨", "contact_phone": MOBILE}
    r = await client.post("/api/v1/volunteer-teams", json=body, headers=await auth("admin"))
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    assert (await _listed(client, await auth("auditor"), team_id))["contact_phone"] == MOBILE
    for user in ("org", "director"):
        seen = await _listed(client, await auth(user), team_id)
        assert seen["contact_phone"] == "" and seen["contact_channel"] == ""


async def test_an_update_answers_with_the_mobile_to_its_organization_only(
    client: AsyncTestClient[Litestar], auth: Auth, team: dict[str, Any]
) -> None:
    r = await client.patch(
        f"/api/v1/volunteer-teams/{team['id']}", json={"member_count": 15}, headers=await auth("org")
    )
    assert r.status_code == 200 and r.json()["contact_phone"] == MOBILE
