"""An organization's day in the console: its service projects (draft, edit, submit, sent back, pause), the referral
inbox (accept with the places left in view, decline with a reason, start, log a delivery, complete), each scoped to
the caller's own organization."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Need
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Service
from tests.admin.console import console_login, csrf_of, htmx
from tests.reports.data import TODAY, build_cases

NEW_SERVICE = {
    "title": "留守儿童周末陪伴计划",
    "categories": ["emotional_support", "safety_education"],
    "capacity_per_month": "8",
    "cost_per_case": "120.50",
    "age_min": "6",
    "age_max": "14",
    "description": "每周末由社工和志愿者陪伴留守儿童",
    "child_categories": ["left_behind"],
    "delivery_mode": "in_person",
    "funding_source": "welfare_fund",
    "wait_time_days": "3",
    "five_societies": ["social_organization", "volunteer"],
    "contact_phone": "0755-12345678",
}


async def service_of(db: Any, service_id: int) -> Service:
    async with db.session(write=False) as s:
        found = await s.get(Service, service_id)
        assert found is not None
        return found


async def referral_of(db: Any, referral_id: int) -> Referral:
    async with db.session(write=False) as s:
        found = await s.get(Referral, referral_id)
        assert found is not None
        return found


def card(html: str, referral_id: int) -> str:
    found = re.search(rf'<article [^>]*id="inbox-card-{referral_id}".*?</article>', html, re.S)
    assert found, f"referral {referral_id} not in the inbox"
    return found.group(0)


# ---------------------------------------------------------------- services


async def test_org_staff_drafts_edits_and_submits_a_service(client, world, db) -> None:
    await console_login(client, "org")
    home = await client.get("/admin/")
    assert 'href="/admin/services"' in home.text and 'href="/admin/referrals/inbox"' in home.text
    form = await client.get("/admin/services/new")
    assert form.status_code == 200 and "保存为草稿" in form.text
    csrf = csrf_of(form.text)
    async with db.session(write=False) as s:
        before = await s.scalar(select(func.count()).select_from(Service))

    # Bad input answers in place with the Chinese message, and nothing is written.
    r = await client.post("/admin/services/new", data={**NEW_SERVICE, "categories": [], "_csrf_token": csrf})
    assert r.status_code == 422 and "服务类别：请至少选择一个服务类别" in r.text
    r = await client.post(
        "/admin/services/new", data={**NEW_SERVICE, "age_min": "15", "_csrf_token": csrf}, headers=htmx(csrf)
    )
    assert r.status_code == 422 and "最小年龄：最小年龄不能大于最大年龄" in r.text
    assert 'id="service-form"' in r.text and "<html" not in r.text  # the form fragment only
    r = await client.post("/admin/services/new", data={**NEW_SERVICE, "cost_per_case": "12.345", "_csrf_token": csrf})
    assert r.status_code == 422 and "每例成本" in r.text
    # What was typed and ticked comes back with the message.
    r = await client.post("/admin/services/new", data={**NEW_SERVICE, "capacity_per_month": "八", "_csrf_token": csrf})
    assert r.status_code == 422 and "每月名额：请填写非负整数" in r.text
    assert 'value="留守儿童周末陪伴计划"' in r.text and 'value="八"' in r.text
    assert 'value="safety_education" checked' in r.text and 'value="legal_aid" >' in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Service)) == before

    r = await client.post("/admin/services/new", data={**NEW_SERVICE, "_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    service_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    created = await service_of(db, service_id)
    assert created.status == "draft" and created.organization_id == world.orgs[0]
    assert created.cost_per_case_fen == 12_050 and created.capacity_per_month == 8 and created.district_wide
    page = await client.get(f"/admin/services/{service_id}?saved=1")
    assert "已保存" in page.text and "草稿尚未提交" in page.text and "提交审核</button>" in page.text

    # Edit: the form sets what it shows (one street now, a new title).
    edited = {**NEW_SERVICE, "title": "留守儿童周末陪伴计划（福田）", "street_ids": [str(world.streets[0])]}
    r = await client.post(f"/admin/services/{service_id}", data={**edited, "_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    changed = await service_of(db, service_id)
    assert changed.title == "留守儿童周末陪伴计划（福田）" and not changed.district_wide

    # Submit: under review, shown as such on the list and the page.
    r = await client.post(f"/admin/services/{service_id}/submit", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and (await service_of(db, service_id)).status == "pending_review"
    listing = await client.get("/admin/services")
    assert 'id="group-pending_review"' in listing.text and "当前有 <strong>1</strong> 项在审核中" in listing.text
    assert "等待区民政审核" in (await client.get(f"/admin/services/{service_id}")).text
    # Submitting twice is refused by the lifecycle (409), nothing changes.
    r = await client.post(f"/admin/services/{service_id}/submit", headers=htmx(csrf))
    assert r.status_code == 409

    # The district sends it back with a reason: the owner sees the reason and may submit again.
    admin_csrf = await console_login(client, "admin")
    r = await client.post(
        f"/admin/pool/services/{service_id}/reject", data={"reason": "请补充服务时间"}, headers=htmx(admin_csrf)
    )
    assert r.status_code == 200
    csrf = await console_login(client, "org")
    listing = await client.get("/admin/services")
    assert 'id="group-returned"' in listing.text and "退回原因：请补充服务时间" in listing.text
    page = await client.get(f"/admin/services/{service_id}")
    assert "区民政退回修改：请补充服务时间" in page.text and "提交审核</button>" in page.text


async def test_org_staff_pauses_and_resumes_a_published_service(client, world, db) -> None:
    csrf = await console_login(client, "org")
    published = world.services[0]
    r = await client.post(f"/admin/services/{published}/pause", data={"back": "list"}, headers=htmx(csrf))
    assert r.status_code == 200 and "已暂停" in r.text and "恢复</button>" in r.text
    assert (await service_of(db, published)).status == "paused"
    r = await client.post(f"/admin/services/{published}/resume", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/services/{published}?done=resume"
    assert (await service_of(db, published)).status == "published"
    # Approving is the district's: not an action of this page.
    r = await client.post(f"/admin/services/{published}/approve", headers=htmx(csrf))
    assert r.status_code == 422


async def test_another_organizations_service_is_not_found(client, world, db) -> None:
    csrf = await console_login(client, "org2")
    draft = world.services[2]  # 启航's draft
    assert (await client.get(f"/admin/services/{draft}")).status_code == 404
    r = await client.post(f"/admin/services/{draft}", data={**NEW_SERVICE, "_csrf_token": csrf})
    assert r.status_code == 404
    r = await client.post(f"/admin/services/{draft}/submit", headers=htmx(csrf))
    assert r.status_code == 404
    assert (await service_of(db, draft)).status == "draft"
    listing = await client.get("/admin/services")
    assert "法律援助进社区" not in listing.text and "困境儿童助学金计划" in listing.text
    # Not an organization's staff: no service pages at all.
    await console_login(client, "director")
    assert (await client.get("/admin/services/new")).status_code == 403
    assert (await client.get("/admin/referrals/inbox")).status_code == 403


# ---------------------------------------------------------------- the referral inbox


async def sent_referral(db: Any, world: Any) -> int:
    """build_cases' referral sent 5 days ago to 启航's counselling service, its need held by it (matched)."""
    async with db.session() as s:
        made = await build_cases(s, world)
        need = await s.get(Need, made.needs[0])
        assert need is not None
        need.status = "matched"
    return made.referrals[0]


async def test_the_inbox_accepts_with_capacity_in_view_logs_and_completes(client, auth, world, db) -> None:
    sent = await sent_referral(db, world)
    csrf = await console_login(client, "org")
    page = await client.get("/admin/referrals/inbox")
    assert page.status_code == 200
    new = card(page.text, sent)
    # The minimal child, the places left this month on the service asked for.
    assert "张*" in new and "张小明" not in page.text
    assert "剩余 <strong>10</strong> / 10" in new and "超过答复期限" in new
    async with db.session(write=False) as s:
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "child", AuditEntry.action == "list_minimal")
        )
    assert audited and audited >= 1

    # Declining needs a reason: refused in place, nothing changes.
    r = await client.post(f"/admin/referrals/inbox/{sent}/decline", data={"reason": " "}, headers=htmx(csrf))
    assert r.status_code == 422 and "请填写拒绝理由" in r.text
    assert (await referral_of(db, sent)).status == "sent"

    r = await client.post(f"/admin/referrals/inbox/{sent}/accept", headers=htmx(csrf))
    assert r.status_code == 200 and f"转介 #{sent} 已接收" in r.text
    accepted = card(r.text, sent)
    assert "剩余 <strong>9</strong> / 10" in accepted and "开始服务</button>" in accepted
    assert (await referral_of(db, sent)).status == "accepted"

    r = await client.post(f"/admin/referrals/inbox/{sent}/start", headers=htmx(csrf))
    assert r.status_code == 200 and "保存服务记录" in card(r.text, sent)
    # A delivery in the future is refused with the service's message.
    tomorrow = TODAY.toordinal() + 1
    future = {"delivered_on": TODAY.fromordinal(tomorrow).isoformat(), "minutes": "60", "note": "个案面谈"}
    r = await client.post(f"/admin/referrals/inbox/{sent}/log", data=future, headers=htmx(csrf))
    assert r.status_code == 422 and "服务日期不能晚于今天" in r.text
    r = await client.post(
        f"/admin/referrals/inbox/{sent}/log",
        data={"delivered_on": TODAY.isoformat(), "minutes": "90", "note": "第一次个案面谈"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and "第一次个案面谈" in card(r.text, sent) and "共 1 次" in card(r.text, sent)

    r = await client.post(f"/admin/referrals/inbox/{sent}/complete", data={"outcome": ""}, headers=htmx(csrf))
    assert r.status_code == 422 and "请选择服务结果" in r.text
    r = await client.post(
        f"/admin/referrals/inbox/{sent}/complete",
        data={"outcome": "got_help", "note": "情绪明显好转"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and "已获得帮助" in card(r.text, sent)

    # The API reads the same state.
    headers = await auth("org")
    got = (await client.get(f"/api/v1/referrals/{sent}", headers=headers)).json()
    assert got["status"] == "completed" and got["outcome"] == "got_help"
    logs = (await client.get(f"/api/v1/referrals/{sent}/logs", headers=headers)).json()
    assert logs["total"] == 1 and logs["items"][0]["minutes"] == 90


async def test_a_full_service_refuses_the_acceptance(client, world, db) -> None:
    async with db.session() as s:
        made = await build_cases(s, world)
        service = await s.get(Service, world.services[0])
        assert service is not None
        service.capacity_per_month = 0
    sent = made.referrals[0]
    csrf = await console_login(client, "org")
    page = await client.get("/admin/referrals/inbox")
    assert "名额已满" in card(page.text, sent)
    r = await client.post(f"/admin/referrals/inbox/{sent}/accept", headers=htmx(csrf))
    assert r.status_code == 409 and "该服务本月名额已满" in r.text
    assert (await referral_of(db, sent)).status == "sent"


async def test_another_organizations_referral_is_not_found(client, world, db) -> None:
    async with db.session() as s:
        made = await build_cases(s, world)
    sent = made.referrals[0]
    csrf = await console_login(client, "org2")
    page = await client.get("/admin/referrals/inbox")
    assert f'id="inbox-card-{sent}"' not in page.text
    for action in ("accept", "decline", "start", "log", "complete"):
        r = await client.post(
            f"/admin/referrals/inbox/{sent}/{action}",
            data={"reason": "无", "outcome": "got_help", "note": "x", "delivered_on": TODAY.isoformat()},
            headers=htmx(csrf),
        )
        assert r.status_code == 404, action
    assert (await referral_of(db, sent)).status == "sent"
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(ReferralLog).where(ReferralLog.referral_id == sent)) == 0
    r = await client.post(f"/admin/referrals/inbox/{sent}/explode", headers=htmx(csrf))
    assert r.status_code == 422
