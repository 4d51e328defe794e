"""GET /services?q= goes through the search port; filters, facets and visibility still apply."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.demo.loader import load_demo


async def test_chinese_queries_on_the_demo_pool(settings) -> None:
    await load_demo(settings)
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
