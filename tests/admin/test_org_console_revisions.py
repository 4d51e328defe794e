"""Revisions of published services in the console: the organization's edit goes to review (the page shows the diff,
its status and the district's reason; submit, withdraw), and the district approves or returns it on the pool's
"服务修改" tab (the reason is required; a refusal shows in place)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace.resources.models import Service, ServiceRevision
from tests.admin.console import console_login, htmx

# The published service of 启航 (world.services[0]) as its form shows it, with a new title, capacity and cost.
EDIT = {
    "title": "困境儿童心理疏导服务（周末班）",
    "categories": ["psych_counselling", "emotional_support"],
    "capacity_per_month": "15",
    "cost_per_case": "450.00",
    "age_min": "6",
    "age_max": "16",
    "description": "一对一心理疏导与团体辅导",
    "eligibility": "",
    "child_categories": ["left_behind", "orphan"],
    "delivery_mode": "in_person",
    "funding_source": "free",
    "schedule": "",
    "wait_time_days": "0",
    "fees_text": "",
    "five_societies": ["social_organization", "social_worker"],
    "contact_phone": "",
}


def form(world: Any, **over: Any) -> dict[str, Any]:
    """The edit form as posted: the live street kept, ``over`` changed."""
    return {**EDIT, "street_ids": [str(world.streets[0])], **over}


async def service_of(db: Any, service_id: int) -> Service:
    async with db.session(write=False) as s:
        found = await s.get(Service, service_id)
        assert found is not None
        return found


async def revisions_of(db: Any, service_id: int) -> list[ServiceRevision]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(ServiceRevision).where(ServiceRevision.service_id == service_id).order_by(ServiceRevision.id)
        )
        return list(rows.all())


def diff_rows(html: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(
        r'<tr data-field="(\w+)">.*?class="was">(.*?)</td><td data-label="修改为" class="now">(.*?)</td>', html, re.S
    )
    return {field: (was, now) for field, was, now in rows}


async def test_an_edit_of_a_published_service_goes_to_review_and_the_district_approves(client, world, db) -> None:
    sid = world.services[0]
    csrf = await console_login(client, "org")
    page = await client.get(f"/admin/services/{sid}")
    assert "修改需经区民政审核" in page.text and "保存修改申请（需审核）" in page.text
    r = await client.post(f"/admin/services/{sid}", data=form(world, _csrf_token=csrf), follow_redirects=False)
    assert r.status_code == 303, r.text
    # The live service is unchanged; one open revision holds the changed fields only.
    live = await service_of(db, sid)
    assert live.title == "困境儿童心理疏导服务" and live.capacity_per_month == 10 and live.cost_per_case_fen == 50_000
    [rev] = await revisions_of(db, sid)
    assert rev.status == "draft"
    assert rev.changes == {"title": EDIT["title"], "capacity_per_month": 15, "cost_per_case_fen": 45_000}
    page = await client.get(r.headers["location"])
    assert "修改已保存，尚未生效" in page.text and "修改尚未提交" in page.text
    assert diff_rows(page.text) == {
        "title": ("困境儿童心理疏导服务", EDIT["title"]),
        "capacity_per_month": ("10", "15"),
        "cost_per_case_fen": ("500.00 元", "450.00 元"),
    }
    # The form keeps showing the proposal, so the organization continues where it left off.
    assert f'value="{EDIT["title"]}"' in page.text and 'value="450.00"' in page.text
    # Saving again keeps one open revision.
    r = await client.post(
        f"/admin/services/{sid}", data=form(world, schedule="每周六", _csrf_token=csrf), follow_redirects=False
    )
    assert r.status_code == 303 and len(await revisions_of(db, sid)) == 1
    # Submit: the list marks the service.
    r = await client.post(
        f"/admin/services/{sid}/revisions/{rev.id}/submit", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/services/{sid}?done=revision_submit"
    page = await client.get(r.headers["location"])
    assert "已提交修改审核" in page.text and "等待区民政审核" in page.text
    listing = await client.get("/admin/services")
    assert "修改待审核" in listing.text and "<strong>1</strong> 项修改待审核" in listing.text

    # The district's tab lists it with the diff and approves it; the published tab marks the service.
    admin_csrf = await console_login(client, "admin")
    published = await client.get("/admin/pool?tab=published")
    row = re.search(rf'<tr id="service-{sid}".*?</tr>', published.text, re.S)
    assert row and "修改待审核" in row.group(0)
    tab = await client.get("/admin/pool?tab=revisions")
    assert tab.status_code == 200 and "服务修改" in tab.text and f'id="pool-revision-{rev.id}"' in tab.text
    assert diff_rows(tab.text)["schedule"] == ("（空）", "每周六")
    assert 'for="return-reason-' in tab.text  # the reason box is labelled
    r = await client.post(f"/admin/pool/revisions/{sid}/{rev.id}/approve", headers=htmx(admin_csrf))
    assert r.status_code == 200 and "已通过" in r.text and "通过并生效" not in r.text
    live = await service_of(db, sid)
    assert live.title == EDIT["title"] and live.capacity_per_month == 15 and live.schedule == "每周六"
    assert live.status == "published"
    assert f'id="pool-revision-{rev.id}"' not in (await client.get("/admin/pool?tab=revisions")).text

    # The organization sees the change live and the revision in its history.
    await console_login(client, "org")
    page = await client.get(f"/admin/services/{sid}")
    assert "修改记录" in page.text and "已通过" in page.text and "修改尚未提交" not in page.text
    assert "修改待审核" not in (await client.get("/admin/services")).text


async def test_the_district_returns_a_revision_with_a_reason_and_the_organization_resubmits(client, world, db) -> None:
    sid = world.services[0]
    csrf = await console_login(client, "org")
    await client.post(f"/admin/services/{sid}", data=form(world, _csrf_token=csrf))
    [rev] = await revisions_of(db, sid)
    await client.post(f"/admin/services/{sid}/revisions/{rev.id}/submit", data={"_csrf_token": csrf})

    admin_csrf = await console_login(client, "admin")
    # No reason: the card comes back in place with the message, nothing changes.
    r = await client.post(
        f"/admin/pool/revisions/{sid}/{rev.id}/return", data={"reason": "  "}, headers=htmx(admin_csrf)
    )
    assert r.status_code == 422 and "请填写退回原因" in r.text and f'id="pool-revision-{rev.id}"' in r.text
    assert (await revisions_of(db, sid))[0].status == "pending_review"
    # Without JavaScript the page comes back with the card's message.
    r = await client.post(
        f"/admin/pool/revisions/{sid}/{rev.id}/return", data={"reason": "", "_csrf_token": admin_csrf}
    )
    assert r.status_code == 422 and "请填写退回原因" in r.text and "服务修改" in r.text
    r = await client.post(
        f"/admin/pool/revisions/{sid}/{rev.id}/return", data={"reason": "名额调整请说明原因"}, headers=htmx(admin_csrf)
    )
    assert r.status_code == 200 and "已退回" in r.text
    assert (await service_of(db, sid)).title == "困境儿童心理疏导服务"
    # Returning twice is refused in place.
    r = await client.post(
        f"/admin/pool/revisions/{sid}/{rev.id}/return", data={"reason": "再退"}, headers=htmx(admin_csrf)
    )
    assert r.status_code == 409

    csrf = await console_login(client, "org")
    listing = await client.get("/admin/services")
    assert "修改被退回" in listing.text
    page = await client.get(f"/admin/services/{sid}")
    assert "区民政退回修改：名额调整请说明原因" in page.text and "提交修改审核</button>" in page.text
    await client.post(f"/admin/services/{sid}", data=form(world, capacity_per_month="12", _csrf_token=csrf))
    r = await client.post(
        f"/admin/services/{sid}/revisions/{rev.id}/submit", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    [again] = await revisions_of(db, sid)
    assert again.id == rev.id and again.status == "pending_review" and again.changes["capacity_per_month"] == 12


async def test_withdraw_and_bad_input_in_the_form(client, world, db) -> None:
    sid = world.services[0]
    csrf = await console_login(client, "org")
    # Nothing differs from the live listing: refused in place, no revision.
    same = form(world, title="困境儿童心理疏导服务", capacity_per_month="10", cost_per_case="500.00")
    r = await client.post(f"/admin/services/{sid}", data=same, headers=htmx(csrf))
    assert r.status_code == 422 and "与当前发布的信息相同" in r.text and 'id="service-form"' in r.text
    # A bad value: the form again with what was typed.
    r = await client.post(f"/admin/services/{sid}", data=form(world, age_min="17"), headers=htmx(csrf))
    assert r.status_code == 422 and "最小年龄" in r.text and 'value="17"' in r.text
    assert await revisions_of(db, sid) == []
    await client.post(f"/admin/services/{sid}", data=form(world, _csrf_token=csrf))
    [rev] = await revisions_of(db, sid)
    r = await client.post(
        f"/admin/services/{sid}/revisions/{rev.id}/withdraw", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已撤回修改" in page.text and "已撤回" in page.text and 'id="revision-status"' not in page.text
    assert (await revisions_of(db, sid))[0].status == "withdrawn"
    assert (await service_of(db, sid)).title == "困境儿童心理疏导服务"
    r = await client.post(f"/admin/services/{sid}/revisions/{rev.id}/bogus", headers=htmx(csrf))
    assert r.status_code == 422
    # A draft still edits in place (no revision).
    draft = world.services[2]
    r = await client.post(
        f"/admin/services/{draft}",
        data={**EDIT, "title": "法律援助进社区", "categories": ["legal_aid"], "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and (await service_of(db, draft)).title == "法律援助进社区"
    assert await revisions_of(db, draft) == []


async def test_revisions_are_scoped(client, world, db) -> None:
    sid = world.services[0]
    csrf = await console_login(client, "org")
    await client.post(f"/admin/services/{sid}", data=form(world, _csrf_token=csrf))
    [rev] = await revisions_of(db, sid)
    await client.post(f"/admin/services/{sid}/revisions/{rev.id}/submit", data={"_csrf_token": csrf})
    # The owner cannot approve on the district's page.
    r = await client.post(f"/admin/pool/revisions/{sid}/{rev.id}/approve", headers=htmx(csrf))
    assert r.status_code == 403
    # Another organization: not found, and its own tab is empty.
    csrf2 = await console_login(client, "org2")
    r = await client.post(f"/admin/services/{sid}/revisions/{rev.id}/withdraw", headers=htmx(csrf2))
    assert r.status_code == 404
    tab = await client.get("/admin/pool?tab=revisions")
    assert tab.status_code == 200 and f'id="pool-revision-{rev.id}"' not in tab.text
    # An auditor has no revisions tab.
    await console_login(client, "auditor")
    assert (await client.get("/admin/pool")).status_code == 200
    assert (await client.get("/admin/pool?tab=revisions")).status_code in (400, 422)
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(ServiceRevision)) == 1
    assert (await revisions_of(db, sid))[0].status == "pending_review"


async def test_confirming_a_live_listing_is_current_stays_immediate(client, world, db) -> None:
    sid = world.services[0]  # confirmed 2026-10-01
    csrf = await console_login(client, "org")
    page = await client.get(f"/admin/services/{sid}")
    assert "确认信息仍为最新</button>" in page.text
    r = await client.post(f"/admin/services/{sid}/confirm", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/services/{sid}?done=confirm"
    live = await service_of(db, sid)
    assert live.assured_on is not None and live.assured_on > dt.date(2026, 10, 1)
    assert live.title == "困境儿童心理疏导服务" and await revisions_of(db, sid) == []
    assert "已确认信息为最新" in (await client.get(r.headers["location"])).text
    # A draft has nothing live to confirm.
    r = await client.post(f"/admin/services/{world.services[2]}/confirm", headers=htmx(csrf))
    assert r.status_code == 200  # a draft's edit in place also confirms it; nothing reviewed changes
