"""The console's charity resources (慈善资源): every fund by kind and street, a fund set up from the page, a
micro-project fund's allocation and a project taken from 申报 to 验收, refused forms shown again in place with
nothing changed, and a street's supervisor seeing only the own street's funds."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.db import Database
from marketplace.funds.models import Fund, FundProject, JournalEntry
from tests.admin.console import console_login
from tests.support.world import World


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_fund_manager_sets_up_a_fund_allocates_and_runs_a_project(client, world: World, db: Database) -> None:
    csrf = await console_login(client, "fund")
    page = await client.get("/admin/funds/sources")
    assert page.status_code == 200 and "设立资金" in page.text and "慈善资源" in page.text
    form = {
        "_csrf_token": csrf,
        "kind": "micro_project",
        "street_id": str(world.streets[0]),
        "name": "福田街道民生微实事资金（2026年）",
        "code": "futian_micro_2026",
        "year": "",
    }
    # No year: the form comes back with the message and what was typed, nothing set up.
    r = await client.post("/admin/funds/sources", data=form)
    assert r.status_code == 422 and "须填写年度" in r.text and 'value="futian_micro_2026"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert await count(db, Fund) == 0
    r = await client.post("/admin/funds/sources", data={**form, "year": "2026"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    fund_id = int(location.split("/")[-1].split("?")[0])
    page = await client.get(location)
    assert "基金已设立" in page.text and "民生微实事" in page.text and "福田街道" in page.text
    # The allocation, in yuan; a bad amount is refused in place.
    url = f"/admin/funds/sources/{fund_id}/allocations"
    r = await client.post(url, data={"_csrf_token": csrf, "key": "福民〔2026〕12号", "amount": "三十万"})
    assert r.status_code == 422 and "请填写金额" in r.text and 'value="福民〔2026〕12号"' in r.text
    assert await count(db, JournalEntry) == 0
    r = await client.post(
        url, data={"_csrf_token": csrf, "key": "福民〔2026〕12号", "amount": "300,000"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await client.get(f"/admin/funds/sources/{fund_id}")
    assert "¥300,000.00" in page.text and "福民〔2026〕12号" in page.text
    # A project declared, then approved for more than the fund has: refused in place, nothing held.
    r = await client.post(
        f"/admin/funds/sources/{fund_id}/projects",
        data={
            "_csrf_token": csrf,
            "title": "困境儿童四点半课堂",
            "category": "education_aid",
            "community_id": str(world.communities[0]),
            "amount": "400000",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.session() as s:
        project_id = int(await s.scalar(select(FundProject.id)) or 0)
    r = await client.post(f"/admin/funds/projects/{project_id}/approve", data={"_csrf_token": csrf, "amount": "400000"})
    assert r.status_code == 409 and "不足立项" in r.text and 'value="400000"' in r.text
    async with db.session() as s:
        assert (await s.get(FundProject, project_id)).status == "declared"  # type: ignore[union-attr]
    r = await client.post(
        f"/admin/funds/projects/{project_id}/approve",
        data={"_csrf_token": csrf, "amount": "80000"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "项目已立项" in page.text and "¥220,000.00" in page.text and "¥80,000.00" in page.text
    for step in ("start", "complete"):
        r = await client.post(
            f"/admin/funds/projects/{project_id}/{step}",
            data={"_csrf_token": csrf, "amount": ""},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "项目已验收并拨付" in page.text and "验收" in page.text and "项目：困境儿童四点半课堂" in page.text
    r = await client.post(f"/admin/funds/projects/{project_id}/dance", data={"_csrf_token": csrf})
    assert r.status_code == 422
    # A NUL character is refused in place like any bad input, nothing written.
    r = await client.post(
        f"/admin/funds/sources/{fund_id}/projects",
        data={"_csrf_token": csrf, "title": "课堂\x00", "category": "education_aid", "amount": "100"},
    )
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert await count(db, FundProject) == 1
    listing = await client.get("/admin/funds/sources?kind=micro_project")
    assert "福田街道民生微实事资金（2026年）" in listing.text and "¥220,000.00" in listing.text


async def test_supervisor_sees_the_own_streets_funds_and_writes_nothing(client, auth, world: World, db) -> None:
    for n, street in enumerate(world.streets):
        r = await client.post(
            "/api/v1/funds",
            json={"code": f"fd_{n}", "name": f"街道{n}基金会", "kind": "street_foundation", "street_id": street},
            headers=await auth("admin"),
        )
        assert r.status_code == 201
    others = r.json()["id"]
    await console_login(client, "supervisor")
    page = await client.get("/admin/funds/sources")
    assert page.status_code == 200 and "街道0基金会" in page.text and "街道1基金会" not in page.text
    assert "设立资金" not in page.text and 'href="/admin/funds/sources"' in page.text
    assert (await client.get(f"/admin/funds/sources/{others}")).status_code == 404
    await console_login(client, "director")
    assert (await client.get("/admin/funds/sources")).status_code == 403
