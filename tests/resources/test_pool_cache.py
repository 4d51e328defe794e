"""The pool's answers kept per serving process (a listing page, one service) are never older than the pool: a
commit from any process that changes a service, its codes, its bookings or an organization empties every cache on
the machine before the next request, and nothing else does."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from marketplace import signals
from marketplace.app import create_app
from marketplace.auth.models import User
from marketplace.resources import service as pool
from marketplace.resources.models import POOL_SIGNAL, Organization, Service, ServiceCategory
from tests.conftest import Auth
from tests.support.statements import statements_mentioning
from tests.support.world import World

S = "/api/v1/services"


async def test_a_repeated_page_or_service_costs_no_query_until_the_pool_changes(
    client, app, auth: Auth, world: World, db
) -> None:
    h = await auth("director")
    seen = statements_mentioning(app.state.db, "FROM services")
    first = (await client.get(f"{S}?limit=5", headers=h)).json()
    one = (await client.get(f"{S}/{world.services[0]}", headers=h)).json()
    reads = len(seen)
    assert reads > 0
    for _ in range(3):
        assert (await client.get(f"{S}?limit=5", headers=h)).json() == first
        assert (await client.get(f"{S}/{world.services[0]}", headers=h)).json() == one
    assert len(seen) == reads
    async with db.session() as s:
        await s.execute(update(Service).where(Service.id == world.services[0]).values(title="新的标题"))
    assert (await client.get(f"{S}/{world.services[0]}", headers=h)).json()["title"] == "新的标题"
    titles = [i["title"] for i in (await client.get(f"{S}?limit=5", headers=h)).json()["items"]]
    assert "新的标题" in titles and len(seen) > reads


async def test_a_change_committed_by_another_process_is_seen_on_the_next_request(
    client, auth: Auth, world: World, settings
) -> None:
    h = await auth("director")
    before = (await client.get(S, headers=h)).json()
    assert before["items"][0]["capacity_left"] == 10
    other = create_app(settings)  # a second serving process on the same data directory
    async with AsyncTestClient(other) as second:
        assert (await second.get(S, headers=h)).json() == before
        async with other.state.db.session() as s:
            await pool.book_capacity(s, before["items"][0]["id"], places=4)
        assert (await second.get(S, headers=h)).json()["items"][0]["capacity_left"] == 6
    after = (await client.get(S, headers=h)).json()
    assert after["items"][0]["capacity_left"] == 6
    assert (await client.get(f"{S}/{before['items'][0]['id']}", headers=h)).json()["capacity_left"] == 6


@pytest.mark.parametrize("change", ["code", "organization", "status"])
async def test_each_part_of_an_answer_empties_the_cache_when_it_changes(
    change: str, client, auth: Auth, world: World, db
) -> None:
    h = await auth("admin")
    sid = world.services[0]
    before = (await client.get(f"{S}/{sid}", headers=h)).json()
    async with db.session() as s:
        if change == "code":
            s.add(ServiceCategory(service_id=sid, code="education_aid"))
        elif change == "organization":
            org = await s.get(Organization, before["organization_id"])
            assert org is not None
            org.name = "改名后的机构"
        else:
            service = await s.get(Service, sid)
            assert service is not None
            service.status_note = "暂停说明"
    after = (await client.get(f"{S}/{sid}", headers=h)).json()
    assert after != before
    listed = {i["id"]: i for i in (await client.get(S, headers=h)).json()["items"]}
    assert listed[sid] == after


async def test_what_the_pool_is_not_made_of_leaves_the_signal_alone(world: World, db, settings) -> None:
    path = signals.signal_path(settings.data_dir, POOL_SIGNAL)
    before = signals.stamp(path)
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == "director"))
        assert user is not None
        user.display_name = "新名字"  # an account, not the pool
    assert signals.stamp(path) == before
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            service = await s.get(Service, world.services[0])
            assert service is not None
            service.title = "不会提交"
            await s.flush()
            raise RuntimeError("abandon")
    assert signals.stamp(path) == before  # a rollback signals nothing


async def test_what_a_caller_may_see_is_part_of_the_key(client, auth: Auth, world: World, db) -> None:
    """A draft kept for its organization's staff never reaches a director through the cache, nor the reverse."""
    async with db.session() as s:
        service = await s.get(Service, world.services[0])
        assert service is not None
        service.status = "draft"
    org = await auth("org")
    director = await auth("director")
    own = (await client.get(S, headers=org)).json()
    public = (await client.get(S, headers=director)).json()
    assert world.services[0] in [i["id"] for i in own["items"]]
    assert world.services[0] not in [i["id"] for i in public["items"]]
    assert (await client.get(f"{S}/{world.services[0]}", headers=org)).status_code == 200
    assert (await client.get(f"{S}/{world.services[0]}", headers=director)).status_code == 404
    assert (await client.get(f"{S}/{world.services[0]}", headers=org)).status_code == 200


async def test_each_search_ranking_has_its_own_answer(demo_settings) -> None:
    settings = demo_settings
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        answers: dict[str, list[list[int]]] = {"心理辅导": [], "法律援助": [], "": []}
        for _ in range(2):  # the second round is answered from the cache
            for q, seen in answers.items():
                seen.append([i["id"] for i in (await client.get(S, params={"q": q}, headers=h)).json()["items"]])
        for first, second in answers.values():
            assert first == second and first
        assert len({tuple(rounds[0]) for rounds in answers.values()}) == 3  # three different answers
