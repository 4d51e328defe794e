"""十防 safety in the console: the director opens the child's checklist, a refused checklist comes back in place
with what was chosen, a completed one raises the warning shown on the board (grade as text), the director
acknowledges it with the action taken; the supervisor sees the escalated one first and adds a note; another
community's director is told neither exists."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child
from marketplace.safety import service
from marketplace.safety.models import SafetyCheck, SafetyWarning
from tests.admin.console import console_login, csrf_of
from tests.cases.support import Cases, cases

__all__ = ["cases"]

JULY_NOON = dt.datetime(2026, 7, 10, 4, 0, tzinfo=dt.UTC)
ITEMS = ("told_six_nevers", "guardian_pledge", "water_spots_known", "summer_care_plan")


def checklist(csrf: str, **overrides: str) -> dict[str, str]:
    form = {"_csrf_token": csrf, "prevention": "drowning", "checked_on": "2026-07-09"}
    for code in ITEMS:
        form[f"answer_{code}"] = "done"
    form.update(overrides)
    return form


async def test_director_checks_acknowledges_and_supervisor_notes(client, db, world, cases: Cases, frozen_clock):
    frozen_clock(JULY_NOON)
    a = cases.children["A"]
    async with db.session() as s:
        child = await s.get(Child, a)
        assert child is not None
        child.risk_level = "critical"

    await console_login(client, "director")
    home = await client.get("/admin/")
    assert 'href="/admin/safety"' in home.text
    page = await client.get(f"/admin/children/{a}")
    assert page.status_code == 200, page.text
    assert 'id="safety"' in page.text and "2026年夏季" in page.text and "当前无安全预警" in page.text
    assert f"/admin/children/{a}/safety-check?prevention=drowning" in page.text

    form_page = await client.get(f"/admin/children/{a}/safety-check", params={"prevention": "drowning"})
    assert form_page.status_code == 200 and "防溺水检查" in form_page.text
    csrf = csrf_of(form_page.text)
    # A missed item without a note: the form comes back with the choices as posted, nothing written.
    r = await client.post(
        f"/admin/children/{a}/safety-checks",
        data=checklist(csrf, answer_summer_care_plan="missed", note_guardian_pledge="监护人外出"),
        follow_redirects=False,
    )
    assert r.status_code == 422 and "未落实，请写明原因" in r.text
    assert re.search(r'name="answer_summer_care_plan" value="missed" required checked', r.text)
    assert 'value="监护人外出"' in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(SafetyCheck)) == 0
    # An item left unanswered, and a date in the future: refused in place too.
    form = checklist(csrf)
    del form["answer_guardian_pledge"]
    r = await client.post(f"/admin/children/{a}/safety-checks", data=form, follow_redirects=False)
    assert r.status_code == 422 and "请填写“监护人已签防溺水安全承诺书”" in r.text
    r = await client.post(
        f"/admin/children/{a}/safety-checks", data=checklist(csrf, checked_on="2026-07-11"), follow_redirects=False
    )
    assert r.status_code == 422 and "不能晚于今天" in r.text

    r = await client.post(
        f"/admin/children/{a}/safety-checks",
        data=checklist(csrf, answer_summer_care_plan="missed", note_summer_care_plan="暑期白天无人看护"),
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/children/{a}?done=safety#safety"
    page = await client.get(f"/admin/children/{a}")
    assert "红色预警" in page.text and "未落实：暑期看护安排已落实（暑期白天无人看护）" in page.text
    assert "已检查 2026-07-09" in page.text

    board = await client.get("/admin/safety")
    assert board.status_code == 200 and "本社区安全预警" in board.text
    async with db.session(write=False) as s:
        w = await s.scalar(select(SafetyWarning).where(SafetyWarning.child_id == a))
        assert w is not None and w.grade == "red"
    item = re.search(rf'<li id="warning-{w.id}".*?</li>', board.text, re.S)
    assert item and "红色预警" in item.group(0) and "张小明" in item.group(0) and "待处置" in item.group(0)

    # The director's notification of the red warning opens its page.
    notes = await client.get("/admin/notifications")
    assert "红色预警" in notes.text and "查看（未读）" in notes.text
    opened = re.search(r'action="/admin/notifications/(\d+)/read"', notes.text)
    assert opened
    r = await client.post(
        f"/admin/notifications/{opened.group(1)}/read",
        data={"_csrf_token": csrf_of(notes.text)},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/admin/safety/warnings/{w.id}"
    wpage = await client.get(f"/admin/safety/warnings/{w.id}")
    csrf = csrf_of(wpage.text)
    r = await client.post(f"/admin/safety/warnings/{w.id}/acknowledge", data={"_csrf_token": csrf, "note": " "})
    assert r.status_code == 422 and "请写明已采取的措施" in r.text and 'aria-invalid="true"' in r.text
    r = await client.post(
        f"/admin/safety/warnings/{w.id}/acknowledge",
        data={"_csrf_token": csrf, "note": "已联系外婆暑期照看"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    wpage = await client.get(r.headers["location"])
    assert "已处置并记录措施" in wpage.text and "已联系外婆暑期照看" in wpage.text and "确认已处置" not in wpage.text

    # Another community's director: neither the warning nor the checklist form exist.
    await console_login(client, "director2")
    assert (await client.get(f"/admin/safety/warnings/{w.id}")).status_code == 404
    assert (await client.get(f"/admin/children/{a}/safety-check")).status_code == 404
    assert f'warning-{w.id}"' not in (await client.get("/admin/safety")).text

    # Escalation: a fresh orange warning on B not acknowledged in 72 hours goes to the supervisor, shown first.
    b = cases.children["B"]
    async with db.session() as s:
        kid = await s.get(Child, b)
        assert kid is not None
        kid.risk_level, kid.next_visit_due = "high", dt.date(2026, 6, 30)
        await service.grade_child(s, service.facts_of(kid), JULY_NOON - dt.timedelta(hours=80), dt.date(2026, 7, 10))
        await service.escalate_due(s, JULY_NOON)
    await console_login(client, "supervisor")
    board = await client.get("/admin/safety")
    assert "本街道安全预警" in board.text
    first = re.search(r'<li id="warning-(\d+)"', board.text)
    assert first
    async with db.session(write=False) as s:
        wb = await s.scalar(select(SafetyWarning).where(SafetyWarning.child_id == b))
        assert wb is not None
    assert int(first.group(1)) == wb.id and "已升级至街道督导员" in board.text
    wpage = await client.get(f"/admin/safety/warnings/{wb.id}")
    assert "记录督导意见" in wpage.text and "确认已处置" not in wpage.text
    r = await client.post(
        f"/admin/safety/warnings/{wb.id}/actions",
        data={"_csrf_token": csrf_of(wpage.text), "note": "已电话督促儿童主任今日入户"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=note")
    # The supervisor cannot note the director's own (not escalated) warning: refused in place.
    wpage = await client.get(f"/admin/safety/warnings/{w.id}")
    r = await client.post(
        f"/admin/safety/warnings/{w.id}/actions", data={"_csrf_token": csrf_of(wpage.text), "note": "看看"}
    )
    assert r.status_code == 409 and "尚未升级" in r.text

    async with db.session(write=False) as s:
        listed = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "child", AuditEntry.action == "list")
        )
    assert listed and listed >= 1


async def test_board_refuses_bad_filters_and_org_staff(client, world) -> None:
    await console_login(client, "director")
    assert (await client.get("/admin/safety", params={"grade": "purple"})).status_code == 422
    assert (await client.get("/admin/safety", params={"status": "lost"})).status_code == 422
    assert (await client.get("/admin/safety", params={"grade": "red", "status": "resolved"})).status_code == 200
    await console_login(client, "org")
    assert (await client.get("/admin/safety")).status_code == 403
