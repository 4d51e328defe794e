"""The director's loop in the console: a need's matches (reasons, the five-society plan), the referral sent with
consent and the contact fields to share, followed to the verdict that closes it; and the mandatory report's short
form. Every step through the services the API calls, checked in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.cases.models import Child, MandatoryReport, Need, Visit
from marketplace.db import utcnow
from marketplace.referrals.models import Referral, ReferralLog
from tests.admin.console import console_login, htmx
from tests.cases.support import Cases, add_need, cases

__all__ = ["cases"]


async def open_need(db: Any, child_id: int, category: str = "emotional_support") -> int:
    async with db.session() as s:
        child = await s.get(Child, child_id)
        assert child is not None
        return (await add_need(s, child, category)).id


async def test_matches_show_reasons_and_the_five_society_plan_and_refer_with_contact(
    client, db, world, cases: Cases
) -> None:
    need = await open_need(db, cases.children["A"])
    csrf = await console_login(client, "director")
    page = await client.get(f"/admin/needs/{need}/matches")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'id="match-{world.services[0]}"' in html and "困境儿童心理疏导服务" in html
    assert "得分理由" in html and "五社联动方案" in html
    for society in ("社区", "社会组织", "社会工作者", "社区志愿者", "社会慈善资源"):
        assert f"<dt>{society}</dt>" in html
    assert "福山社区" in html and "转介到此服务" in html

    unknown = await client.post(
        f"/admin/needs/{need}/refer", data={"service_id": "x", "share_contact": "guardian_phone"}, headers=htmx(csrf)
    )
    assert unknown.status_code == 422 and "请选择服务" in unknown.text
    not_shareable = await client.post(
        f"/admin/needs/{need}/refer",
        data={"service_id": str(world.services[0]), "share_contact": "id_number"},
        headers=htmx(csrf),
    )
    assert not_shareable.status_code == 422
    r = await client.post(
        f"/admin/needs/{need}/refer",
        data={
            "service_id": str(world.services[0]),
            "share_contact": ["guardian_name", "guardian_phone"],
            "share_note": "周末在家",
        },
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        sent = await s.scalar(select(Referral).where(Referral.need_id == need))
        assert sent is not None
        assert sent.status == "sent" and sent.shared_fields == ["guardian_name", "guardian_phone"]
        assert sent.share_note == "周末在家" and sent.plan["community"]["name"] == "福山社区"
        assert (await s.get(Need, need)).status == "matched"  # type: ignore[union-attr]
    assert r.headers["hx-redirect"] == f"/admin/referrals/{sent.id}/follow?done=sent"
    follow = await client.get(r.headers["hx-redirect"])
    assert follow.status_code == 200 and "转介已发出" in follow.text and "监护人姓名、监护人电话" in follow.text
    # The need is no longer open: a second referral is the service's 409.
    again = await client.post(
        f"/admin/needs/{need}/refer", data={"service_id": str(world.services[0])}, headers=htmx(csrf)
    )
    assert again.status_code == 409 and "不能再次转介" in again.text


async def test_without_consent_the_referral_is_refused_and_nothing_is_sent(client, db, world, cases: Cases) -> None:
    need = await open_need(db, cases.children["A"])
    async with db.session() as s:
        child = await s.get(Child, cases.children["A"])
        assert child is not None
        child.consent_to_share = False
    csrf = await console_login(client, "director")
    page = await client.get(f"/admin/needs/{need}/matches")
    assert 'id="consent-missing"' in page.text
    r = await client.post(f"/admin/needs/{need}/refer", data={"service_id": str(world.services[0])}, headers=htmx(csrf))
    assert r.status_code == 409 and "监护人尚未同意共享信息" in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Referral).where(Referral.need_id == need)) == 0


async def test_following_the_referral_to_the_verdict_that_closes_the_loop(client, db, cases: Cases) -> None:
    referral = cases.referrals["A"]
    now = utcnow()
    async with db.session() as s:
        r = await s.get(Referral, referral)
        assert r is not None
        r.status, r.outcome, r.outcome_note = "completed", "got_help", "已完成 6 次疏导"
        r.accepted_at = r.started_at = now - dt.timedelta(days=5)
        r.completed_at = now - dt.timedelta(days=1)
        (await s.get(Need, r.need_id)).status = "in_service"  # type: ignore[union-attr]
        s.add(ReferralLog(referral_id=r.id, delivered_on=clock.today() - dt.timedelta(days=2), note="第 6 次疏导"))
    csrf = await console_login(client, "director")
    page = await client.get(f"/admin/referrals/{referral}/follow")
    assert page.status_code == 200, page.text
    assert "第 6 次疏导" in page.text and "确认结果并结案" in page.text and "已完成 6 次疏导" in page.text
    # No follow-up visit since the completion yet: the service's 409.
    early = await client.post(f"/admin/referrals/{referral}/verdict", data={"verdict": "met"}, headers=htmx(csrf))
    assert early.status_code == 409 and "回访" in early.text
    missing = await client.post(f"/admin/referrals/{referral}/verdict", data={"verdict": ""}, headers=htmx(csrf))
    assert missing.status_code == 422 and "请选择回访结论" in missing.text
    visit = await client.post(
        f"/admin/children/{cases.children['A']}/visits",
        data={"kind": "follow_up", "findings": "情绪明显好转"},
        headers=htmx(csrf),
    )
    assert visit.status_code == 200, visit.text
    done = await client.post(
        f"/admin/referrals/{referral}/verdict", data={"verdict": "met", "note": "回访确认"}, headers=htmx(csrf)
    )
    assert done.status_code == 200 and done.headers["hx-redirect"].endswith("?done=closed")
    async with db.session(write=False) as s:
        r = await s.get(Referral, referral)
        assert r is not None and r.status == "closed" and r.verdict == "met" and r.verdict_note == "回访确认"
        assert (await s.get(Need, r.need_id)).status == "met"  # type: ignore[union-attr]
    closed = await client.get(f"/admin/referrals/{referral}/follow?done=closed")
    assert "闭环完成" in closed.text and "需求已满足" in closed.text and "确认结果并结案" not in closed.text


async def test_the_mandatory_report_from_the_header_in_three_steps(client, db, world, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    # Step one: the header's link on any page (here a child's page); step two: the short form.
    home = await client.get(f"/admin/children/{cases.children['A']}")
    assert 'href="/admin/report"' in home.text
    form = await client.get(f"/admin/report?child={cases.children['A']}")
    assert form.status_code == 200 and f'<option value="{cases.children["A"]}" selected>' in form.text
    assert "李小红" not in form.text  # only the director's own children
    # Step three: send it.
    r = await client.post(
        "/admin/report",
        data={"child_id": str(cases.children["A"]), "kind": "lives_alone", "description": "独自在家三天"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/admin/children/{cases.children['A']}?done=report"
    async with db.session(write=False) as s:
        report = await s.scalar(select(MandatoryReport).where(MandatoryReport.child_id == cases.children["A"]))
        assert report is not None and report.kind == "lives_alone"
        child = await s.get(Child, cases.children["A"])
        assert child is not None and child.risk_level == "critical"
    # An unidentified child needs a name or description and the place; refused in Chinese, nothing made.
    r = await client.post("/admin/report", data={"kind": "missing", "description": "走失"}, headers=htmx(csrf))
    assert r.status_code == 422 and "未建档儿童请填写姓名或特征描述" in r.text
    r = await client.post(
        "/admin/report",
        data={"kind": "missing", "description": "走失", "subject_name": "小明", "place": "福田公园"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/admin/mandatory-reports"
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(MandatoryReport)) == 2
        assert await s.scalar(select(func.count()).select_from(Visit)) == 0
    # Another community's child cannot be reported from this director's form.
    other = await client.post(
        "/admin/report",
        data={"child_id": str(cases.children["B"]), "kind": "other", "description": "x"},
        headers=htmx(csrf),
    )
    assert other.status_code == 404
