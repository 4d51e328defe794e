"""Restricted purposes pay only what matches them (issue #14): the exact findings answered 422 with a Chinese
message, each kind of purpose paying a matching service or referral, and donors' designations held to the same rule.

The world: service 0 (心理疏导 + 精神慰藉, lists 福田街道, for left-behind children and orphans), service 1 (助学,
district-wide, for children of families in economic hardship); the issue's companionship service (精神慰藉 + 临时照料,
福田街道, left-behind) and guardianship assessment (监护评估, district-wide). Referral A: child A (福田街道,
left-behind) needing 心理疏导 from service 0; referral C: child C (园岭街道, economic hardship) needing 助学 from
service 1.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from marketplace import clock
from tests.cases.support import Cases
from tests.conftest import Auth, assert_problem
from tests.funds.conftest import IssueServices
from tests.support.world import World

CHINESE = re.compile(r"[\u4e00-\u9fff]")
_refs = itertools.count(1)


async def give(client: Any, fm: dict[str, str], fund_id: int, designation: dict[str, Any] | None, fen: int) -> Any:
    return await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": fen,
            "channel": "bank_transfer",
            "reference": f"P-{next(_refs)}",
            "received_on": clock.today().isoformat(),
            "donor": {"name": "深圳市某某科技有限公司", "kind": "enterprise"},
            "designation": designation,
        },
        headers=fm,
    )


async def pay(client: Any, fm: dict[str, str], fund_id: int, purpose: str, **target: int) -> Any:
    return await client.post(
        f"/api/v1/funds/{fund_id}/disbursements",
        json={"amount_fen": 10_000, "purpose": purpose, "memo": "个案服务费", **target},
        headers=fm,
    )


def refused(response: Any, field: str = "purpose") -> str:
    body = assert_problem(response, 422)
    assert CHINESE.search(body["detail"]), body
    assert body["errors"][0]["field"] == field, body
    return str(body["detail"])


@pytest.fixture
async def funded(client: Any, auth: Auth, fund_id: int, world: World) -> dict[str, str]:
    """100,000 fen in each purpose the tests spend from."""
    fm = await auth("fund")
    s1, s2 = world.streets
    for designation in (
        None,
        {"category": "psych_counselling"},
        {"category": "education_aid"},
        {"category": "emotional_support"},
        {"category": "material_aid"},
        {"street_id": s1},
        {"street_id": s2},
        {"child_category": "orphan"},
        {"child_category": "economic_hardship"},
        {"service_id": world.services[0]},
    ):
        r = await give(client, fm, fund_id, designation, 100_000)
        assert r.status_code == 201, r.text
    return fm


async def test_the_issue_findings_are_refused_with_a_chinese_message(
    client: Any, funded: dict[str, str], fund_id: int, issue_services: IssueServices
) -> None:
    fm = funded
    # Money restricted to 心理疏导 paid a service of 精神慰藉 and 临时照料: refused, naming what the service offers.
    detail = refused(
        await pay(client, fm, fund_id, "category:psych_counselling", service_id=issue_services.companionship)
    )
    assert "心理疏导" in detail and "精神慰藉、临时照料" in detail and "留守儿童陪伴关爱服务" in detail
    # 助学, 精神慰藉 and 物资帮扶 money each paid a guardianship assessment: each refused.
    for category, label in (("education_aid", "助学"), ("emotional_support", "精神慰藉"), ("material_aid", "物资帮扶")):
        detail = refused(await pay(client, fm, fund_id, f"category:{category}", service_id=issue_services.assessment))
        assert label in detail and "监护评估" in detail
    # Nothing was paid: every purpose still has all its money.
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["spent_fen"] == 0
    # The matching pair is paid.
    r = await pay(client, fm, fund_id, "category:emotional_support", service_id=issue_services.companionship)
    assert r.status_code == 201, r.text


async def test_each_kind_of_purpose_pays_only_what_matches(
    client: Any, funded: dict[str, str], fund_id: int, world: World, cases: Cases, issue_services: IssueServices
) -> None:
    fm = funded
    s1, s2 = world.streets
    svc0, svc1 = world.services[0], world.services[1]
    ref_a, ref_c = cases.referrals["A"], cases.referrals["C"]

    # service:<S> pays S, directly or through a referral to S; nothing else.
    assert (await pay(client, fm, fund_id, f"service:{svc0}", service_id=svc0)).status_code == 201
    assert (await pay(client, fm, fund_id, f"service:{svc0}", referral_id=ref_a)).status_code == 201
    refused(await pay(client, fm, fund_id, f"service:{svc0}", referral_id=ref_c))

    # category:<c> pays a service offering c; through a referral, only one answering a need for c.
    assert (await pay(client, fm, fund_id, "category:psych_counselling", referral_id=ref_a)).status_code == 201
    assert (await pay(client, fm, fund_id, "category:education_aid", service_id=svc1)).status_code == 201
    assert "需求" in refused(await pay(client, fm, fund_id, "category:emotional_support", referral_id=ref_a))

    # street:<X> pays a service listing X, or a referral of a child living in X; a district-wide service only
    # through such a referral.
    assert (await pay(client, fm, fund_id, f"street:{s1}", service_id=svc0)).status_code == 201
    assert "全区" in refused(await pay(client, fm, fund_id, f"street:{s2}", service_id=svc1))
    assert (await pay(client, fm, fund_id, f"street:{s2}", referral_id=ref_c)).status_code == 201
    refused(await pay(client, fm, fund_id, f"street:{s1}", referral_id=ref_c))
    refused(await pay(client, fm, fund_id, f"street:{s2}", service_id=svc0))

    # group:<g> pays a service declaring g among the children it serves, or a referral of a child in g.
    assert (await pay(client, fm, fund_id, "group:orphan", service_id=svc0)).status_code == 201
    assert (await pay(client, fm, fund_id, "group:economic_hardship", referral_id=ref_c)).status_code == 201
    refused(await pay(client, fm, fund_id, "group:orphan", referral_id=ref_a))  # child A is left-behind
    refused(await pay(client, fm, fund_id, "group:orphan", service_id=issue_services.assessment))

    # Restricted money always pays something; unrestricted money may pay general costs.
    assert "须支付具体的服务项目或转介" in refused(await pay(client, fm, fund_id, "category:psych_counselling"))
    assert (await pay(client, fm, fund_id, "unrestricted")).status_code == 201
    assert (await pay(client, fm, fund_id, "unrestricted", service_id=issue_services.assessment)).status_code == 201

    # A referral and a service that disagree, or a referral that does not exist.
    refused(await pay(client, fm, fund_id, f"service:{svc0}", referral_id=ref_a, service_id=svc1), "service_id")
    refused(await pay(client, fm, fund_id, "unrestricted", referral_id=999_999), "referral_id")

    # What was paid names the service of the referral it paid.
    rows = (await client.get(f"/api/v1/funds/{fund_id}/disbursements?limit=50", headers=fm)).json()["items"]
    through_c = [d for d in rows if d["referral_id"] == ref_c]
    assert through_c and all(d["service_id"] == svc1 for d in through_c)


async def test_the_balance_is_checked_before_the_match(
    client: Any, funded: dict[str, str], fund_id: int, issue_services: IssueServices
) -> None:
    # More than the purpose has is a 409 whatever it would pay; within it, a mismatch is a 422.
    over = await client.post(
        f"/api/v1/funds/{fund_id}/disbursements",
        json={"amount_fen": 100_001, "purpose": "category:psych_counselling", "service_id": issue_services.assessment},
        headers=funded,
    )
    body = assert_problem(over, 409)
    assert CHINESE.search(body["detail"]) and body["available_fen"] == 100_000


async def test_designations_follow_the_same_rule(
    client: Any, auth: Auth, fund_id: int, world: World, issue_services: IssueServices
) -> None:
    fm = await auth("fund")
    s1, s2 = world.streets
    # A service named beside a category it does not offer, a street it does not list, or a group it does not serve.
    for extra in ({"category": "psych_counselling"}, {"street_id": s2}, {"child_category": "orphan"}):
        r = await give(client, fm, fund_id, {"service_id": issue_services.companionship, **extra}, 10_000)
        assert CHINESE.search(assert_problem(r, 422)["detail"])
    # One that fits each is kept as the service purpose.
    r = await give(
        client,
        fm,
        fund_id,
        {"service_id": issue_services.companionship, "category": "emotional_support", "street_id": s1},
        10_000,
    )
    assert r.status_code == 201, r.text
    assert r.json()["purpose"] == f"service:{issue_services.companionship}"
    # Without a service, one gift has one purpose.
    r = await give(client, fm, fund_id, {"category": "psych_counselling", "street_id": s1}, 10_000)
    assert "一种定向" in assert_problem(r, 422)["detail"]
    # A child group is a purpose of its own.
    r = await give(client, fm, fund_id, {"child_category": "orphan"}, 10_000)
    assert r.status_code == 201, r.text
    assert (r.json()["purpose"], r.json()["purpose_label"]) == ("group:orphan", "定向：孤儿")
    assert_problem(await give(client, fm, fund_id, {"child_category": "nope"}, 10_000), 422)
    # The public online form takes the same designation.
    r = await client.post(
        "/api/v1/donations",
        json={
            "fund_id": fund_id,
            "amount_fen": 10_000,
            "donor": {"name": "x"},
            "designation": {"service_id": issue_services.assessment, "category": "education_aid"},
        },
    )
    assert CHINESE.search(assert_problem(r, 422)["detail"])


async def test_a_declined_referral_is_not_paid(
    client: Any, auth: Auth, funded: dict[str, str], fund_id: int, cases: Cases
) -> None:
    # Referral A answers the purpose; once its provider declines it nothing was delivered, and nothing is paid.
    ref_a = cases.referrals["A"]
    r = await client.post(
        f"/api/v1/referrals/{ref_a}/decline", json={"reason": "本月社工不足"}, headers=await auth("org")
    )
    assert r.status_code == 200, r.text
    body = assert_problem(await pay(client, funded, fund_id, "category:psych_counselling", referral_id=ref_a), 409)
    assert "已拒绝" in body["detail"] and "不能为其拨付" in body["detail"]
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=funded)).json()
    assert fund["spent_fen"] == 0
