"""GET /services?q= goes through the search port; filters, facets and visibility still apply."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from search import SearchBackend, SearchFilters, SearchQuery, SearchResult
from tests.conftest import Auth, assert_problem


async def test_chinese_queries_on_the_demo_pool(demo_settings) -> None:
    settings = demo_settings
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.get("/api/v1/services", params={"q": "心理辅导"}, headers=h)
        body = r.json()
        assert r.status_code == 200 and body["total"] > 0
        # A synonym query finds listings that say 心理疏导; the best hits are psychological services.
        assert "psych_counselling" in body["items"][0]["categories"]
        assert body["facets"]["category"]["psych_counselling"] >= 1
        # Filters narrow the ranked result and facets follow.
        narrowed = (
            await client.get("/api/v1/services", params={"q": "儿童", "category": "legal_aid"}, headers=h)
        ).json()
        assert narrowed["total"] >= 1 and all("legal_aid" in s["categories"] for s in narrowed["items"])
        # Paused and draft listings never reach a director, whatever the query.
        admin = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo-password"})
        ah = {"Authorization": f"Bearer {admin.json()['access_token']}"}
        target = body["items"][0]["id"]
        assert (await client.post(f"/api/v1/services/{target}/pause", headers=ah)).status_code == 200
        again = (await client.get("/api/v1/services", params={"q": "心理辅导", "limit": 200}, headers=h)).json()
        assert target not in [s["id"] for s in again["items"]]
        orgs = (await client.get("/api/v1/organizations", params={"q": "社会工作"}, headers=h)).json()
        assert orgs["total"] >= 1 and all(o["status"] == "approved" for o in orgs["items"])


class RefusingSearch:
    """A search backend whose port refuses every query (as it refuses a filter that does not apply)."""

    in_process = True

    def __init__(self, real: SearchBackend) -> None:
        self.real = real
        self.asked = 0

    def search(self, index_name: str, query: SearchQuery) -> SearchResult:
        self.asked += 1
        refused = SearchQuery(q=query.q, filters=SearchFilters(kind="charity"))
        refused.validate(index_name)  # raises for services: kind does not apply there
        return self.real.search(index_name, query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_refused_search_query_is_a_422_problem(app: Litestar, client, auth: Auth) -> None:
    h = await auth("director")
    refusing = RefusingSearch(app.state.search)
    app.state.search = refusing
    try:
        r = await client.get("/api/v1/services", params={"q": "心理辅导"}, headers=h)
        # organizations: the filter applies there, so the same query is answered
        orgs = await client.get("/api/v1/organizations", params={"q": "社工"}, headers=h)
    finally:
        app.state.search = refusing.real
    body = assert_problem(r, 422)
    assert body["errors"] == [{"field": "kind", "message": body["errors"][0]["message"]}]
    assert "kind" in body["detail"] and "services" in body["detail"]
    assert orgs.status_code == 200, orgs.text
    assert refusing.asked == 2
