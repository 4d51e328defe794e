"""The service listing's read model: what a page shows, how bookings and facets show, and how many queries it costs."""

from __future__ import annotations

from sqlalchemy import event

from marketplace.auth.principal import Principal
from marketplace.resources import service as pool
from tests.conftest import Auth, assert_problem
from tests.support.world import World

S = "/api/v1/services"


async def test_a_page_and_the_detail_show_the_same_service(client, auth: Auth, world: World) -> None:
    h = await auth("director")
    listing = (await client.get(S, headers=h)).json()
    assert [s["id"] for s in listing["items"]] == sorted(world.services[:2])
    first = listing["items"][0]
    assert first["organization_name"] == "深圳市福田区启航社会工作服务中心"
    # Codes come back in code order and street ids in numeric order, whatever order they were saved in.
    assert first["categories"] == ["emotional_support", "psych_counselling"]
    assert first["category_labels"] == ["精神慰藉", "心理疏导"]
    assert first["child_categories"] == ["left_behind", "orphan"]
    assert first["street_ids"] == [world.streets[0]] and first["district_wide"] is False
    assert first["five_societies"] == ["social_organization", "social_worker"]
    assert first["capacity_left"] == 10 and first["allowed_transitions"]
    for item in listing["items"]:
        assert (await client.get(f"{S}/{item['id']}", headers=h)).json() == item


async def test_bookings_show_in_the_listing_the_detail_and_the_available_filter(
    client, auth: Auth, world: World, db
) -> None:
    async with db.session() as s:
        await pool.book_capacity(s, world.services[0], places=4)
        await pool.book_capacity(s, world.services[1], places=5)  # the whole month
    h = await auth("director")
    items = {s["id"]: s for s in (await client.get(S, headers=h)).json()["items"]}
    assert items[world.services[0]]["capacity_left"] == 6 and items[world.services[1]]["capacity_left"] == 0
    assert (await client.get(f"{S}/{world.services[0]}", headers=h)).json()["capacity_left"] == 6
    available = (await client.get(f"{S}?available=true", headers=h)).json()
    assert [s["id"] for s in available["items"]] == [world.services[0]] and available["total"] == 1
    assert available["items"][0]["capacity_left"] == 6


async def test_past_the_last_page_the_total_is_still_told(client, auth: Auth, world: World) -> None:
    page = (await client.get(f"{S}?offset=50", headers=await auth("director"))).json()
    assert page["items"] == [] and page["total"] == 2
    assert page["facets"]["category"] == {"education_aid": 1, "emotional_support": 1, "psych_counselling": 1}
    nothing = (await client.get(f"{S}?age=2", headers=await auth("director"))).json()
    assert nothing["items"] == [] and nothing["total"] == 0


async def test_street_facets_count_each_street_and_the_district_wide_services(client, auth: Auth, world: World) -> None:
    h = await auth("director")
    # The street facet ignores the street filter, so it still offers the other choices.
    facets = (await client.get(f"{S}?street_id={world.streets[1]}", headers=h)).json()["facets"]
    assert facets["street"] == {str(world.streets[0]): 1, "district_wide": 1}
    # The category facet ignores the category filter but honours the others.
    narrowed = (await client.get(f"{S}?category=education_aid&age=17", headers=h)).json()
    assert narrowed["total"] == 1 and narrowed["facets"]["category"] == {"education_aid": 1}
    assert narrowed["facets"]["street"] == {"district_wide": 1}


async def test_drafts_are_listed_and_shown_only_to_their_owner_and_the_district(
    client, auth: Auth, world: World
) -> None:
    draft = world.services[2]
    owner = (await client.get(S, headers=await auth("org"))).json()
    assert draft in [s["id"] for s in owner["items"]] and owner["total"] == 3
    assert (await client.get(f"{S}/{draft}", headers=await auth("org"))).json()["status"] == "draft"
    assert (await client.get(f"{S}/{draft}", headers=await auth("auditor"))).status_code == 200
    for who in ("director", "org2"):
        assert draft not in [s["id"] for s in (await client.get(S, headers=await auth(who))).json()["items"]]
        assert_problem(await client.get(f"{S}/{draft}", headers=await auth(who)), 404)
    assert_problem(await client.get(f"{S}/999999", headers=await auth("admin")), 404)


async def test_a_ranked_page_keeps_the_ranking_and_counts_only_visible_matches(world: World, db) -> None:
    director = Principal(user_id=1, username="d", role="child_director", street_id=world.streets[0])
    ranking = [world.services[1], world.services[2], 999_999, world.services[0]]
    async with db.session(write=False) as s:
        rows, total, facets = await pool.list_services(s, director, pool.ServiceFilters(), ordered_ids=ranking)
        assert [r.id for r in rows] == [world.services[1], world.services[0]] and total == 2
        assert facets["category"] == {"education_aid": 1, "emotional_support": 1, "psych_counselling": 1}
        second, total, _ = await pool.list_services(
            s, director, pool.ServiceFilters(), ordered_ids=ranking, limit=1, offset=1
        )
        assert [r.id for r in second] == [world.services[0]] and total == 2


async def test_a_page_costs_the_same_few_queries_whatever_its_size(world: World, db) -> None:
    admin = Principal(user_id=1, username="a", role="district_admin")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(db.read_engine.sync_engine, "before_cursor_execute", count)
    try:
        costs = []
        for limit in (1, 100):
            async with db.session(write=False) as s:
                statements.clear()
                rows, _, _ = await pool.list_services(
                    s, admin, pool.ServiceFilters(street_id=world.streets[0]), limit=limit
                )
                costs.append(len(statements))
        assert len(rows) == 3
        # the page with its codes and total; the facets
        assert costs == [2, 2]
    finally:
        event.remove(db.read_engine.sync_engine, "before_cursor_execute", count)
