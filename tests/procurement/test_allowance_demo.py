"""The demo's first quarter of allowances matches the seed's figure (Q1: 316 living-allowance payments, 302,500
yuan), paid at several rates from approved decisions, every run signed off and paid once."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.demo import futian_data


async def _login(client: AsyncTestClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": futian_data.DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_demo_quarter_has_the_seed_figure_at_several_rates(demo_settings) -> None:
    settings = demo_settings
    year = futian_data.BUDGET_YEAR
    async with AsyncTestClient(app=create_app(settings)) as client:
        fund = await _login(client, "fund")
        report = (await client.get(f"/api/v1/reports/allowances?year={year}&quarter=1", headers=fund)).json()
        living = next(x for x in report["totals"] if x["kind"] == "living_allowance")
        assert (living["payments"], living["total_fen"], living["total_yuan"]) == (316, 30_250_000, "302500.00")
        assert report["rates"] == [245_400, 110_000, 50_000]
        by_rate: dict[int, int] = {}
        for r in report["by_rate"]:
            if r["kind"] == "living_allowance":  # one row per category and rate
                by_rate[r["standard_fen"]] = by_rate.get(r["standard_fen"], 0) + r["payments"]
        assert by_rate == {245_400: 50, 110_000: 78, 50_000: 188}
        months = [x["payments"] for x in report["by_month"] if x["kind"] == "living_allowance"]
        assert months == [105, 106, 105]
        csv_text = (
            await client.get(f"/api/v1/reports/allowances?year={year}&quarter=1&format=csv", headers=fund)
        ).content.decode("utf-8-sig")
        assert "标准 2454.00元/月" in csv_text and "标准 500.00元/月（家庭经济困难）" in csv_text
        # Proposals wait in the workflow; the demo's runs were each signed off and paid.
        admin = await _login(client, "admin")
        waiting = (await client.get("/api/v1/allowance-decisions?status=reviewed", headers=admin)).json()
        assert waiting["total"] == 2
        budget = (await client.get("/api/v1/budgets", headers=fund)).json()["items"][0]
        line = next(x for x in budget["lines"] if x["code"] == "living_allowance")
        assert line["paid_fen"] == line["committed_fen"] > 30_250_000
        # Festival condolences: the 10,000 yuan 节日慰问 line; 春节 and 六一 paid, 中秋 signed off.
        plans = (await client.get(f"/api/v1/allowances/festival-plans?year={year}", headers=admin)).json()
        assert [p["festival"] for p in plans] == ["spring", "childrens_day", "mid_autumn"]
        figures = plans[0]["line"]
        assert (figures["code"], figures["appropriation_fen"]) == ("festival_condolence", 1_000_000)
        statuses = {}
        for p in plans:
            runs = (await client.get(f"/api/v1/allowances/festival-plans/{p['id']}/runs", headers=admin)).json()
            statuses[p["festival"]] = [r["status"] for r in runs]
            assert all(r["paid_count"] > 0 for r in runs)
        assert statuses == {"spring": ["paid"], "childrens_day": ["paid"], "mid_autumn": ["signed_off"]}
        assert 0 < figures["paid_fen"] < figures["committed_fen"] <= 1_000_000
