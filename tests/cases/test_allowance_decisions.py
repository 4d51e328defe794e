"""Allowance eligibility as decisions: director proposes with evidence, supervisor reviews, district approves with
an effective month under the start rule; cessation likewise; a category tag alone pays nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.settings import AllowanceRules
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, add_children
from tests.procurement.helpers import make_budget

# 2026-03-10 10:00 in the district.
MARCH_10 = dt.datetime(YEAR, 3, 10, 2, 0, tzinfo=dt.UTC)
GRANT = {"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf", "父母死亡证明.pdf"]}


async def _living_count(client, auth: Auth, month: str) -> int:
    r = await client.post("/api/v1/allowances/runs", json={"month": month}, headers=await auth("procurement"))
    assert r.status_code == 201, r.text
    return next((k["count"] for k in r.json()["paid"] if k["kind"] == "living_allowance"), 0)


async def _payee(client, auth: Auth, child_id: int) -> None:
    r = await client.post(
        f"/api/v1/children/{child_id}/allowance-payee",
        json={"kind": "guardian", "name": "王秀英", "bank_name": "中国工商银行", "account": "6222 0212 3456 7890 123"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text


async def test_a_category_tag_patched_by_the_director_pays_nothing(
    client, auth: Auth, db, world, settings, frozen_clock
) -> None:
    frozen_clock(MARCH_10)
    await make_budget(client, await auth("procurement"), year=YEAR)
    (child,) = await add_children(db, world, [("甲", ["left_behind"], "active", KID)], settings)
    await _payee(client, auth, child)
    r = await client.patch(f"/api/v1/children/{child}", json={"categories": ["orphan"]}, headers=await auth("director"))
    assert r.status_code == 200, r.text
    assert r.json()["categories"] == ["orphan"]
    assert await _living_count(client, auth, f"{YEAR}-03") == 0
    assert await _living_count(client, auth, f"{YEAR}-04") == 0


async def test_propose_review_approve_from_the_month_after_approval(
    client, auth: Auth, db, world, frozen_clock
) -> None:
    frozen_clock(MARCH_10)
    await make_budget(client, await auth("procurement"), year=YEAR)
    (child,) = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await _payee(client, auth, child)
    director, supervisor, admin = await auth("director"), await auth("supervisor"), await auth("admin")
    # Only the child's own director proposes; the proposal needs evidence and a category the file records.
    assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=supervisor), 403
    )
    assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=await auth("director3")),
        404,
    )
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/allowance-decisions", json={**GRANT, "evidence": []}, headers=director
        ),
        400,
    )
    body = assert_problem(
        await client.post(
            f"/api/v1/children/{child}/allowance-decisions", json={**GRANT, "category": "disabled"}, headers=director
        ),
        422,
    )
    assert "未登记" in body["detail"]
    body = assert_problem(
        await client.post(
            f"/api/v1/children/{child}/allowance-decisions", json={**GRANT, "category": ""}, headers=director
        ),
        422,
    )
    assert "须注明儿童类别" in body["detail"]
    r = await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=director)
    assert r.status_code == 201, r.text
    decision = r.json()
    assert (decision["status"], decision["effective_month"], decision["evidence"]) == (
        "proposed",
        None,
        GRANT["evidence"],
    )
    body = assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=director), 409
    )
    assert "待审核" in body["detail"]
    # Not yet approved: nobody is paid.
    assert await _living_count(client, auth, f"{YEAR}-04") == 0
    url = f"/api/v1/allowance-decisions/{decision['id']}"
    # The district cannot approve before the street's supervisor has reviewed it.
    body = assert_problem(await client.post(f"{url}/decide", json={"approve": True}, headers=admin), 409)
    assert "须先经街道儿童督导员审核" in body["detail"]
    assert_problem(await client.post(f"{url}/review", json={"approve": True}, headers=director), 403)
    assert_problem(await client.post(f"{url}/review", json={"approve": True}, headers=await auth("supervisor2")), 404)
    r = await client.post(f"{url}/review", json={"approve": True, "note": "材料齐全"}, headers=supervisor)
    assert r.status_code == 200 and r.json()["status"] == "reviewed", r.text
    assert_problem(await client.post(f"{url}/review", json={"approve": True}, headers=supervisor), 409)
    assert_problem(await client.post(f"{url}/decide", json={"approve": True}, headers=supervisor), 403)
    # Under the start rule (next_month) a file approved on 10 March is not paid for March.
    body = assert_problem(
        await client.post(f"{url}/decide", json={"approve": True, "effective_month": f"{YEAR}-03"}, headers=admin), 422
    )
    assert "最早自 2026-04 起生效" in body["detail"] and body["errors"][0]["field"] == "effective_month"
    r = await client.post(f"{url}/decide", json={"approve": True}, headers=admin)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert (approved["status"], approved["effective_month"]) == ("approved", f"{YEAR}-04")
    assert approved["decided_by"] == world.users["admin"] and approved["reviewed_by"] == world.users["supervisor"]
    assert_problem(await client.post(f"{url}/decide", json={"approve": True}, headers=admin), 409)
    assert await _living_count(client, auth, f"{YEAR}-03") == 0
    assert await _living_count(client, auth, f"{YEAR}-04") == 1
    # A second grant of the same allowance is refused; the list shows the decision to those in scope.
    body = assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=director), 409
    )
    assert "无需重复认定" in body["detail"]
    listed = (await client.get("/api/v1/allowance-decisions?status=approved", headers=supervisor)).json()
    assert [d["id"] for d in listed["items"]] == [decision["id"]] and listed["total"] == 1
    other = (await client.get("/api/v1/allowance-decisions", headers=await auth("director3"))).json()
    assert other["total"] == 0
    assert_problem(await client.get(url, headers=await auth("director3")), 404)
    assert_problem(await client.get("/api/v1/allowance-decisions", headers=await auth("org")), 403)

    # Cessation goes the same way: adopted, ends from the month after approval.
    cease = {"action": "cease", "reason": "adopted", "evidence": ["收养登记证.pdf"]}
    assert_problem(
        await client.post(
            f"/api/v1/children/{child}/allowance-decisions", json={**cease, "reason": ""}, headers=director
        ),
        422,
    )
    r = await client.post(f"/api/v1/children/{child}/allowance-decisions", json=cease, headers=director)
    assert r.status_code == 201, r.text
    curl = f"/api/v1/allowance-decisions/{r.json()['id']}"
    assert (await client.post(f"{curl}/review", json={"approve": True}, headers=supervisor)).status_code == 200
    r = await client.post(f"{curl}/decide", json={"approve": True, "effective_month": f"{YEAR}-06"}, headers=admin)
    assert r.status_code == 200 and r.json()["effective_month"] == f"{YEAR}-06", r.text
    assert await _living_count(client, auth, f"{YEAR}-05") == 1
    assert await _living_count(client, auth, f"{YEAR}-06") == 0
    body = assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=cease, headers=director), 409
    )
    assert "无需停发" in body["detail"]


async def test_refusals_and_the_district_date(client, auth: Auth, db, world, settings, frozen_clock) -> None:
    # 31 March 16:30 UTC is already 1 April in the district: the earliest month is May.
    frozen_clock(dt.datetime(YEAR, 3, 31, 16, 30, tzinfo=dt.UTC))
    (child,) = await add_children(db, world, [("甲", ["orphan", "disabled"], "active", KID)], settings)
    director, supervisor, admin = await auth("director"), await auth("supervisor"), await auth("admin")
    r = await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=director)
    url = f"/api/v1/allowance-decisions/{r.json()['id']}"
    # The supervisor may send it back; a refused proposal can be made again.
    r = await client.post(f"{url}/review", json={"approve": False, "note": "缺少户籍证明"}, headers=supervisor)
    assert r.json()["status"] == "rejected"
    r = await client.post(f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=director)
    assert r.status_code == 201, r.text
    url = f"/api/v1/allowance-decisions/{r.json()['id']}"
    await client.post(f"{url}/review", json={"approve": True}, headers=supervisor)
    body = assert_problem(
        await client.post(f"{url}/decide", json={"approve": True, "effective_month": f"{YEAR}-04"}, headers=admin), 422
    )
    assert "2026-04-01 批准的认定最早自 2026-05 起生效" in body["detail"]
    assert_problem(
        await client.post(f"{url}/decide", json={"approve": False, "effective_month": f"{YEAR}-05"}, headers=admin), 422
    )
    r = await client.post(f"{url}/decide", json={"approve": True}, headers=admin)
    assert r.json()["effective_month"] == f"{YEAR}-05"
    # A closed file takes no proposal.
    r = await client.patch(f"/api/v1/children/{child}", json={"status": "closed"}, headers=director)
    assert r.status_code == 200, r.text
    cease = {"action": "cease", "reason": "left_district", "evidence": ["迁出证明.pdf"]}
    body = assert_problem(
        await client.post(f"/api/v1/children/{child}/allowance-decisions", json=cease, headers=director), 409
    )
    assert "已结案" in body["detail"]


async def test_the_approval_month_start_rule(settings, db, world, frozen_clock) -> None:
    frozen_clock(MARCH_10)
    rules = AllowanceRules(start_rule="approval_month")
    app = create_app(dataclasses.replace(settings, allowances=rules))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        auth = Auth(client)
        await make_budget(client, await auth("procurement"), year=YEAR)
        (child,) = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
        await _payee(client, auth, child)
        r = await client.post(
            f"/api/v1/children/{child}/allowance-decisions", json=GRANT, headers=await auth("director")
        )
        url = f"/api/v1/allowance-decisions/{r.json()['id']}"
        await client.post(f"{url}/review", json={"approve": True}, headers=await auth("supervisor"))
        assert_problem(
            await client.post(
                f"{url}/decide", json={"approve": True, "effective_month": f"{YEAR}-02"}, headers=await auth("admin")
            ),
            422,
        )
        r = await client.post(f"{url}/decide", json={"approve": True}, headers=await auth("admin"))
        assert r.json()["effective_month"] == f"{YEAR}-03"
        assert await _living_count(client, auth, f"{YEAR}-03") == 1


async def test_turning_18_ends_the_allowance_by_itself(client, auth: Auth, db, world, settings) -> None:
    from tests.procurement.allowance_helpers import grant

    await make_budget(client, await auth("procurement"), year=YEAR)
    (child,) = await add_children(db, world, [("甲", ["orphan"], "active", dt.date(2008, 5, 31))])
    await grant(db, settings, [child])
    assert await _living_count(client, auth, f"{YEAR}-05") == 1  # 18 on 31 May: May is still paid
    assert await _living_count(client, auth, f"{YEAR}-06") == 0
