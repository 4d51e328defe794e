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


async def test_public_accounts_name_organizations_never_their_contact_people(
    client: AsyncTestClient[Litestar], auth: Auth, db: Any, world: World
) -> None:
    """The fund's public accounts (API and the console's public page) show which organization's project was funded,
    never the organization's contact person or phone."""
    import datetime as dt

    from marketplace import clock
    from marketplace.funds import service as funds
    from tests.funds.support import offline_gift

    async with db.session() as s:
        fund_id = (await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")).id
    fm = await auth("fund")
    await offline_gift(client, fm, fund_id, "PUB-1", 100_000, clock.today() - dt.timedelta(days=1))
    body = {"amount_fen": 50_000, "purpose": "unrestricted", "service_id": world.services[0], "memo": "心理疏导"}
    r = await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=body, headers=fm)
    assert r.status_code == 201, r.text
    pages = [
        await client.get(f"/api/v1/public/funds/{fund_id}"),
        await client.get(f"/api/v1/public/funds/{fund_id}/disbursements"),
        await client.get(f"/admin/public/funds/{fund_id}"),
    ]
    for page in pages:
        assert page.status_code == 200, page.text
        assert "李主任" not in page.text and ORG_CHANNEL not in page.text
    assert "深圳市福田区启航社会工作服务中心" in pages[1].text
