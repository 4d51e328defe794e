"""The street supervisor's console: the street's board (overdue visits and referrals, escalations with the action
the services offer, warnings, each community's workload) and the approvals waiting (allowance decisions to review
with their evidence, file transfers to approve or reject with a reason). Scope: another street's item is "not
found"; a director cannot review; the pages write the API's audit rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases import escalation
from marketplace.cases.jobs import overdue_from, visit_entity
from marketplace.cases.models import Child, Escalation, MandatoryReport, Notification
from marketplace.referrals.models import Referral
from tests.admin.console import console_login, csrf_of, htmx
from tests.cases.support import Cases, birth_for_age, cases, id_number

__all__ = ["cases"]

GRANT = {"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf", "父母死亡证明.pdf"]}


async def child_audit(db: Any, child_id: int, username: str) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(AuditEntry)
            .where(AuditEntry.username == username, AuditEntry.entity == "child", AuditEntry.entity_id == child_id)
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


async def escalated_report(client: Any, auth: Any, db: Any, child_id: int, street_id: int) -> tuple[int, int]:
    """A mandatory report on the child, left unsigned until the ladder took it to the street's supervisor."""
    r = await client.post(
        f"/api/v1/children/{child_id}/reports",
        json={"kind": "lives_alone", "description": "独自在家，无人照看"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    async with db.session() as s:
        report = await s.get(MandatoryReport, report_id)
        assert report is not None
        taken = await escalation.climb(
            s,
            entity="mandatory_report",
            entity_id=report_id,
            kind="report_ack",
            level=2,
            due=clock.now(),
            community_id=report.community_id,
            street_id=street_id,
            child_id=child_id,
            body="强制报告超时未签收",
        )
        assert taken
    async with db.session(write=False) as s:
        esc = await s.scalar(select(Escalation.id).where(Escalation.entity_id == report_id))
    assert esc is not None
    return report_id, esc


async def visit_step(db: Any, child_id: int, *, days: int = 10) -> int:
    """The child's visit was due ``days`` ago and the ladder took it to the street's supervisor."""
    due = clock.today() - dt.timedelta(days=days)
    async with db.session() as s:
        child = await s.get(Child, child_id)
        assert child is not None
        child.next_visit_due = due
        e = Escalation(
            entity=visit_entity(due),
            entity_id=child_id,
            kind="visit",
            level=2,
            due_at=overdue_from(due, 3),
            child_id=child_id,
            recipients=[],
        )
        s.add(e)
        await s.flush()
        return e.id


async def test_the_board_shows_the_street_and_the_supervisor_acknowledges_an_escalated_report(
    client, auth, db, world, cases: Cases
) -> None:
    a, c = cases.children["A"], cases.children["C"]
    async with db.session() as s:
        for cid in (a, c):
            child = await s.get(Child, cid)
            assert child is not None
            child.next_visit_due = clock.today() - dt.timedelta(days=5)
            child.risk_level = "high"
        ref = await s.get(Referral, cases.referrals["A"])
        assert ref is not None
        ref.sent_at = clock.now() - dt.timedelta(days=30)
    report_id, esc = await escalated_report(client, auth, db, a, world.streets[0])

    # A director has no street board; the other street's supervisor sees none of this street.
    await console_login(client, "director")
    assert (await client.get("/admin/street")).status_code == 403
    csrf2 = await console_login(client, "supervisor2")
    other = await client.get("/admin/street")
    assert other.status_code == 200, other.text
    assert "张小明" not in other.text and f"escalation-{esc}" not in other.text and "王小华" in other.text
    assert (await client.post(f"/admin/street/escalations/{esc}/act", headers=htmx(csrf2))).status_code == 404

    csrf = await console_login(client, "supervisor")
    home = await client.get("/admin/")
    assert 'href="/admin/street"' in home.text and 'href="/admin/street/approvals"' in home.text
    page = await client.get("/admin/street")
    assert page.status_code == 200, page.text
    html = page.text
    assert "张小明" in html and "王小华" not in html
    assert f'id="escalation-{esc}"' in html and "强制报告超时未签收" in html and ">签收</button>" in html
    assert f"/admin/referrals/{cases.referrals['A']}/follow" in html
    assert "1 名高风险儿童走访逾期" in html and "1 个转介超时未获机构答复" in html
    # The workload: each community of the street with its director and counts.
    assert "福山社区" in html and "岗厦社区" in html and "百花社区" not in html
    assert "儿童主任：director</span>" in html and "儿童主任：director2</span>" in html
    load = html[html.index('id="workload"') :]
    fushan = load[load.index("福山社区") : load.index("岗厦社区")]
    assert "<dt>在册儿童</dt><dd>1</dd>" in fushan and "<dt>走访逾期</dt><dd>1</dd>" in fushan
    assert "<dt>进行中转介</dt><dd>1</dd>" in fushan
    # The board names children: the API's list rows for the supervisor.
    assert await child_audit(db, a, "supervisor")

    r = await client.post(f"/admin/street/escalations/{esc}/act", headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["HX-Redirect"] == "/admin/street?done=acknowledged"
    async with db.session(write=False) as s:
        report = await s.get(MandatoryReport, report_id)
        assert report is not None and report.supervisor_ack_at is not None
        assert report.supervisor_ack_by == world.users["supervisor"]
    after = await client.get("/admin/street?done=acknowledged")
    assert "已签收强制报告" in after.text and ">签收</button>" not in after.text
    # Signed once: a second time is the service's 409, changing nothing.
    again = await client.post(f"/admin/street/escalations/{esc}/act", headers=htmx(csrf))
    assert again.status_code == 409 and "已签收" in again.text
    # The report's step left the board once signed (its cause is gone).
    assert f'id="escalation-{esc}"' not in after.text
    # A visit's step links to the child's file and offers the escalation service's actions, not the signature.
    visit_esc = await visit_step(db, a)
    board = (await client.get("/admin/street")).text
    item = board[board.index(f'id="escalation-{visit_esc}"') :]
    item = item[: item.index('id="overdue-visits"')]
    assert "走访逾期" in item and f'href="/admin/children/{a}"' in item and "/admin/cases?child=" not in board
    for action in ("acknowledge", "remind", "reassign"):
        assert f'action="/admin/street/escalations/{visit_esc}/{action}"' in item
    assert ">签收</button>" not in item
    refused = await client.post(f"/admin/street/escalations/{visit_esc}/act", headers=htmx(csrf))
    assert refused.status_code == 422 and "此事项请在其页面处理" in refused.text
    # Through the API: the report shows the supervisor's acknowledgement.
    api = await client.get(f"/api/v1/mandatory-reports/{report_id}", headers=await auth("supervisor"))
    assert api.status_code == 200, api.text
    (ack,) = [a for a in api.json()["acknowledgements"] if a["level"] == "supervisor"]
    assert ack["at"] is not None and ack["by"] == world.users["supervisor"]


async def test_the_supervisor_reviews_an_allowance_proposal_a_director_cannot(
    client, auth, db, world, cases: Cases
) -> None:
    b = cases.children["B"]
    r = await client.post(f"/api/v1/children/{b}/allowance-decisions", json=GRANT, headers=await auth("director2"))
    assert r.status_code == 201, r.text
    decision = r.json()["id"]
    async with db.session() as s:
        ref = await s.get(Referral, cases.referrals["A"])
        assert ref is not None
        ref.consent_override_reason = "监护人失联，紧急特批"

    csrf = await console_login(client, "director2")
    assert (await client.get("/admin/street/approvals")).status_code == 403
    denied = await client.post(
        f"/admin/street/allowance-decisions/{decision}/review", data={"decision": "accept"}, headers=htmx(csrf)
    )
    assert denied.status_code == 403
    csrf = await console_login(client, "supervisor2")
    elsewhere = (await client.get("/admin/street/approvals")).text
    assert f"decision-{decision}" not in elsewhere and "监护人失联" not in elsewhere
    other = await client.post(
        f"/admin/street/allowance-decisions/{decision}/review", data={"decision": "accept"}, headers=htmx(csrf)
    )
    assert other.status_code == 404

    csrf = await console_login(client, "supervisor")
    page = await client.get("/admin/street/approvals")
    assert page.status_code == 200, page.text
    assert f'id="decision-{decision}"' in page.text and "李小红" in page.text
    assert "孤儿证明.pdf" in page.text and "父母死亡证明.pdf" in page.text and "<dd>孤儿</dd>" in page.text
    assert f'id="override-{cases.referrals["A"]}"' in page.text and "特批理由：监护人失联，紧急特批" in page.text
    assert any("allowance_decisions" in (e.fields or []) for e in await child_audit(db, b, "supervisor"))
    url = f"/admin/street/allowance-decisions/{decision}/review"
    unnamed = await client.post(url, data={"decision": "return"}, headers=htmx(csrf))
    assert unnamed.status_code == 422 and "退回时请写明原因" in unnamed.text
    bad = await client.post(url, data={"decision": "maybe"}, headers=htmx(csrf))
    assert bad.status_code == 422 and "请选择通过或退回" in bad.text
    assert (await client.get(f"/api/v1/allowance-decisions/{decision}", headers=await auth("supervisor"))).json()[
        "status"
    ] == "proposed"
    ok = await client.post(url, data={"decision": "accept", "note": "材料齐全"}, headers=htmx(csrf))
    assert ok.status_code == 200 and ok.headers["HX-Redirect"] == "/admin/street/approvals?done=reviewed"
    out = (await client.get(f"/api/v1/allowance-decisions/{decision}", headers=await auth("admin"))).json()
    assert out["status"] == "reviewed" and out["review_note"] == "材料齐全"
    assert out["reviewed_by"] == world.users["supervisor"]
    assert f'id="decision-{decision}"' not in (await client.get("/admin/street/approvals")).text


async def test_a_file_transfer_out_of_the_street_is_approved_or_rejected_with_a_reason(
    client, auth, db, world, cases: Cases
) -> None:
    number = id_number(birth_for_age(10), "995")
    r = await client.post(
        "/api/v1/child-transfers",
        json={"id_number": number, "reason": "孩子随母亲搬到福山社区居住"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    t = r.json()["id"]

    csrf = await console_login(client, "supervisor")
    assert f"transfer-{t}" not in (await client.get("/admin/street/approvals")).text
    assert (await client.post(f"/admin/street/transfers/{t}/approve", headers=htmx(csrf))).status_code == 404

    csrf = await console_login(client, "supervisor2")
    page = await client.get("/admin/street/approvals")
    assert f'id="transfer-{t}"' in page.text and "王小华" in page.text and "百花社区 → 福山社区" in page.text
    unnamed = await client.post(f"/admin/street/transfers/{t}/reject", data={"note": " "}, headers=htmx(csrf))
    assert unnamed.status_code == 422 and "驳回时请写明原因" in unnamed.text
    assert (await client.post(f"/admin/street/transfers/{t}/cancel", headers=htmx(csrf))).status_code == 404
    ok = await client.post(f"/admin/street/transfers/{t}/reject", data={"note": "监护人未确认搬迁"}, headers=htmx(csrf))
    assert ok.status_code == 200 and ok.headers["HX-Redirect"] == "/admin/street/approvals?done=rejected"
    out = (await client.get(f"/api/v1/child-transfers/{t}", headers=await auth("supervisor2"))).json()
    assert out["status"] == "rejected" and out["decision_note"] == "监护人未确认搬迁"
    async with db.session(write=False) as s:
        child = await s.get(Child, cases.children["C"])
        assert child is not None and child.community_id == world.communities[2]


async def test_the_supervisor_acts_on_a_visit_escalation_and_the_director_sees_it(
    client, auth, db, world, cases: Cases
) -> None:
    """Issue #15: acknowledge with a note, remind the director (the unread count beside 通知), reassign to a director
    of another community of the street (the file follows); errors stay in place; a recorded visit clears the step."""
    b = cases.children["B"]  # 岗厦 (director2)
    step = await visit_step(db, b)
    csrf2 = await console_login(client, "supervisor2")
    for action in ("acknowledge", "remind", "reassign"):
        r = await client.post(
            f"/admin/street/escalations/{step}/{action}",
            data={"_csrf_token": csrf2, "note": "x", "director_id": str(world.users["director"])},
            follow_redirects=False,
        )
        assert r.status_code == 404, (action, r.text)

    csrf = await console_login(client, "supervisor")
    board = (await client.get("/admin/street")).text
    item = board[board.index(f'id="escalation-{step}"') : board.index('id="overdue-visits"')]
    assert f'<label for="ack-note-{step}">' in item and f'<label for="reassign-to-{step}">' in item
    assert f'<option value="{world.users["director"]}">director（福山社区）</option>' in item
    assert "百花社区" not in item  # the other street's director is not offered

    # A plain form without a director: the board again, the message beside the step, the note as typed.
    r = await client.post(
        f"/admin/street/escalations/{step}/reassign",
        data={"_csrf_token": csrf, "director_id": "", "note": "岗厦主任病假"},
        follow_redirects=False,
    )
    assert r.status_code == 422, r.text
    assert f'id="escalation-{step}-error"' in r.text and "请选择改派给哪位儿童主任" in r.text
    assert ">岗厦主任病假</textarea>" in r.text and '<details class="esc-act" open>' in r.text
    # Through htmx, an empty acknowledgement is the flash message; nothing was written.
    r = await client.post(f"/admin/street/escalations/{step}/acknowledge", data={"note": "  "}, headers=htmx(csrf))
    assert r.status_code == 422 and "后续安排" in r.text
    async with db.session(write=False) as s:
        assert (await s.get(Child, b)).community_id == world.communities[1]  # type: ignore[union-attr]

    r = await client.post(
        f"/admin/street/escalations/{step}/acknowledge", data={"note": "已电话联系主任，本周走访"}, headers=htmx(csrf)
    )
    assert r.status_code == 200 and r.headers["HX-Redirect"] == "/admin/street?done=noted#escalations"
    r = await client.post(f"/admin/street/escalations/{step}/remind", data={"note": "请今天走访"}, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["HX-Redirect"] == "/admin/street?done=reminded#escalations"
    board = (await client.get("/admin/street?done=reminded")).text
    assert "已发出督办提醒" in board
    item = board[board.index(f'id="escalation-{step}"') : board.index('id="overdue-visits"')]
    assert "已阅并说明处理" in item and "已电话联系主任，本周走访" in item and "已督促" in item

    # The director: the count beside 通知, the reminder in the list; reading it clears the count.
    await console_login(client, "director2")
    home = (await client.get("/admin/")).text
    assert '<span class="nav-count">1<span class="sr-only"> 条未读</span></span>' in home
    notes = (await client.get("/admin/notifications")).text
    assert "督办提醒：李小红走访逾期" in notes and "请今天走访" in notes
    async with db.session(write=False) as s:
        note_id = await s.scalar(
            select(Notification.id).where(
                Notification.recipient_id == world.users["director2"], Notification.kind == "escalation_remind"
            )
        )
    csrf_d = csrf_of(notes)
    r = await client.post(f"/admin/notifications/{note_id}/read", data={"_csrf_token": csrf_d}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/children/{b}"
    assert "nav-count" not in (await client.get("/admin/")).text

    # The supervisor reassigns the visit to 福山's director: the file moves there and they are told.
    await console_login(client, "supervisor")
    r = await client.post(
        f"/admin/street/escalations/{step}/reassign",
        data={
            "_csrf_token": csrf_of((await client.get("/admin/street")).text),
            "director_id": str(world.users["director"]),
            "note": "岗厦主任病假",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/street?done=reassigned#escalations"
    async with db.session(write=False) as s:
        assert (await s.get(Child, b)).community_id == world.communities[0]  # type: ignore[union-attr]
    board = (await client.get("/admin/street")).text
    item = board[board.index(f'id="escalation-{step}"') : board.index('id="overdue-visits"')]
    assert "已改派" in item and "改派给 director" in item

    # The visit recorded by the new director: the step leaves the board.
    r = await client.post(
        f"/api/v1/children/{b}/visits",
        json={"visited_on": clock.today().isoformat(), "kind": "home"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    assert f'id="escalation-{step}"' not in (await client.get("/admin/street")).text


async def test_a_late_referral_reminder_reaches_the_provider_in_its_console(client, db, world, cases: Cases) -> None:
    """The supervisor reminds the provider of a referral left unanswered: the organization's staff see it beside 通知
    and reading it opens their inbox (not the caseworker's page); the child is not named to them."""
    a, referral = cases.children["A"], cases.referrals["A"]
    async with db.session() as s:
        step = Escalation(
            entity="referral",
            entity_id=referral,
            kind="accept",
            level=2,
            due_at=clock.now() - dt.timedelta(hours=2),
            child_id=a,
            recipients=[],
        )
        s.add(step)
        await s.flush()
        step_id = step.id
    csrf = await console_login(client, "supervisor")
    board = (await client.get("/admin/street")).text
    item = board[board.index(f'id="escalation-{step_id}"') : board.index('id="overdue-visits"')]
    assert f'href="/admin/referrals/{referral}/follow"' in item and f"/escalations/{step_id}/reassign" not in item
    r = await client.post(
        f"/admin/street/escalations/{step_id}/remind", data={"note": "请今天内答复"}, headers=htmx(csrf)
    )
    assert r.status_code == 200, r.text

    await console_login(client, "org")
    home = (await client.get("/admin/")).text
    assert 'href="/admin/notifications"' in home and 'class="nav-count"' in home
    notes = (await client.get("/admin/notifications")).text
    assert f"督办提醒：转介 #{referral}转介超时未接收" in notes and "请今天内答复" in notes and "张小明" not in notes
    async with db.session(write=False) as s:
        note_id = await s.scalar(
            select(Notification.id).where(
                Notification.recipient_id == world.users["org"], Notification.kind == "escalation_remind"
            )
        )
    r = await client.post(
        f"/admin/notifications/{note_id}/read", data={"_csrf_token": csrf_of(notes)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/referrals/inbox#inbox-card-{referral}"
    # Once the provider answers, the step leaves the supervisor's board.
    async with db.session() as s:
        ref = await s.get(Referral, referral)
        assert ref is not None
        ref.status, ref.declined_at = "declined", clock.now()
    await console_login(client, "supervisor")
    assert f'id="escalation-{step_id}"' not in (await client.get("/admin/street")).text
