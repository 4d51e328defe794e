"""The referral board: who sees which referrals, what is flagged as needing a chase, and a provider answering."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marketplace.cases.models import Need, Visit
from marketplace.referrals.models import Referral, ReferralLog
from tests.admin.console import console_login, csrf_of, htmx
from tests.reports.data import NOW, TODAY, build_cases


async def board(db: Any, world: Any) -> dict[str, int]:
    """build_cases' two referrals (one sent 5 days ago, one closed), plus, in 福田街道: an escalated one accepted
    but not started, one in service for 20 days with no log, and one in service with a log 2 days ago."""
    async with db.session() as s:
        made = await build_cases(s, world)
        sent, closed = made.referrals
        first = await s.get(Referral, sent)
        assert first is not None

        def like(status: str, **times: Any) -> Referral:
            return Referral(
                need_id=first.need_id,
                child_id=made.children[2],
                service_id=world.services[0],
                organization_id=world.orgs[0],
                street_id=first.street_id,
                community_id=world.communities[1],
                status=status,
                sent_at=NOW - dt.timedelta(days=25),
                **times,
            )

        escalated = like("accepted", accepted_at=NOW - dt.timedelta(days=21), escalated_at=NOW - dt.timedelta(days=23))
        stale = like("in_service", accepted_at=NOW - dt.timedelta(days=24), started_at=NOW - dt.timedelta(days=20))
        active = like("in_service", accepted_at=NOW - dt.timedelta(days=24), started_at=NOW - dt.timedelta(days=20))
        s.add_all([escalated, stale, active])
        await s.flush()
        s.add(ReferralLog(referral_id=active.id, delivered_on=TODAY - dt.timedelta(days=2), note="第 3 次心理疏导"))
        return {"sent": sent, "closed": closed, "escalated": escalated.id, "stale": stale.id, "active": active.id}


def section(html: str, title: str) -> str:
    start = html.index(f">{title} <span")
    following = html.find("<h2", start + 1)
    return html[start : following if following != -1 else None]


def row(html: str, referral_id: int) -> str:
    found = re.search(rf'<tr id="referral-[a-z]+-{referral_id}"[^>]*>.*?</tr>', html, re.S)
    assert found, f"referral {referral_id} not on the page"
    return found.group(0)


async def test_supervisor_sees_the_street_with_overdue_highlighted(client, world, db, settings) -> None:
    ids = await board(db, world)
    await console_login(client, "supervisor")
    home = await client.get("/admin/")
    assert 'href="/admin/referrals"' in home.text and "转介看板" in home.text
    page = await client.get("/admin/referrals")
    assert page.status_code == 200 and "本街道转介看板" in page.text
    chase = section(page.text, "需督办")
    # Late answer (5 days > 48 hours), escalated and never started, 20 days in service without a log.
    for key in ("sent", "escalated", "stale"):
        assert f"#{ids[key]}<" in chase, key
    assert f"#{ids['active']}<" not in chase and f"#{ids['closed']}<" not in chase
    assert "超时未答复（已 120 小时）" in row(chase, ids["sent"]) and 'class="overdue"' in row(chase, ids["sent"])
    assert "已升级督办" in row(chase, ids["escalated"])
    assert "20 天无服务记录" in row(chase, ids["stale"])
    everything = section(page.text, "全部转介")
    assert all(f"#{i}<" in everything for i in ids.values())
    # The active one is not highlighted and shows its last delivery; the child links to the child's file.
    assert 'class="overdue"' not in row(everything, ids["active"]) and "最近服务" in row(everything, ids["active"])
    sent = await db_referral(db, ids["sent"])
    assert f'href="/admin/children/{sent.child_id}"' in row(everything, ids["sent"])
    assert "/admin/cases?child=" not in page.text
    # Staff see the child's name and the provider; no accept or decline for a caseworker.
    assert "张小明1" in page.text and "/accept" not in page.text
    # The status filter narrows the full list only.
    filtered = await client.get("/admin/referrals?status=in_service")
    assert f"#{ids['closed']}<" not in section(filtered.text, "全部转介")
    assert f"#{ids['stale']}<" in section(filtered.text, "全部转介")


async def db_referral(db: Any, referral_id: int) -> Referral:
    async with db.session() as s:
        found = await s.get(Referral, referral_id)
        assert found is not None
        return found


async def test_the_board_follows_the_referral_scope(client, world, db) -> None:
    ids = await board(db, world)
    street1 = set(ids.values())
    expected = {
        "director": {ids["sent"], ids["closed"]},
        "director2": {ids["escalated"], ids["stale"], ids["active"]},
        "supervisor2": set(),
        "admin": street1,
        "auditor": street1,
        "org": street1,
        "org2": set(),
    }
    for user, shown in expected.items():
        await console_login(client, user)
        page = await client.get("/admin/referrals")
        assert page.status_code == 200, (user, page.text)
        everything = section(page.text, "全部转介")
        assert {i for i in street1 if f"#{i}<" in everything} == shown, user
    for user in ("fund", "procurement"):
        await console_login(client, user)
        assert "转介看板" not in (await client.get("/admin/")).text
        assert (await client.get("/admin/referrals")).status_code == 403, user
    await console_login(client, "admin")
    assert (await client.get("/admin/referrals?status=nope")).status_code == 422


async def test_the_case_board_entry_the_referral_links_to(client, world, db) -> None:
    ids = await board(db, world)
    child = (await db_referral(db, ids["sent"])).child_id
    await console_login(client, "director")
    page = await client.get(f"/admin/cases?child={child}")
    assert page.status_code == 200 and "张小明1 · 档案摘要" in page.text
    focus = page.text[page.text.index('id="focus"') : page.text.index("走访逾期")]
    assert f"#{ids['sent']}<" in focus and "逾期 3 天" in focus
    # A child outside the caller's scope is not found, whether or not it exists.
    await console_login(client, "director2")
    assert (await client.get(f"/admin/cases?child={child}")).status_code == 404
    assert (await client.get("/admin/cases?child=999999")).status_code == 404


async def test_provider_sees_the_minimal_child_and_accepts_with_csrf(client, world, db) -> None:
    ids = await board(db, world)
    csrf = await console_login(client, "org")
    home = await client.get("/admin/")
    assert "收到的转介" in home.text
    page = await client.get("/admin/referrals")
    assert page.status_code == 200 and "本机构收到的转介" in page.text
    # Only the minimal child: surname initial, age, gender, community; never the name, the risk or a link.
    assert "张*" in page.text
    assert "张小明" not in page.text and "/admin/cases" not in page.text and "风险" not in page.text
    assert f"/admin/referrals/{ids['sent']}/accept" in page.text
    assert f"/admin/referrals/{ids['stale']}/accept" not in page.text
    url = f"/admin/referrals/{ids['sent']}/accept"
    for headers in ({"HX-Request": "true"}, {"HX-Request": "true", "X-CSRF-Token": "forged"}):
        assert (await client.post(url, data={"section": "all"}, headers=headers)).status_code == 403
    assert (await db_referral(db, ids["sent"])).status == "sent"
    r = await client.post(url, data={"section": "attention"}, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "已接收" in r.text and "hx-swap-oob" in r.text and f'id="referral-attention-{ids["sent"]}"' in r.text
    assert "张小明" not in r.text and "/accept" not in r.text
    # The same referral in the full list is updated out of band.
    assert f'id="referral-all-{ids["sent"]}" class="" hx-swap-oob="outerHTML"' in r.text
    assert (await db_referral(db, ids["sent"])).status == "accepted"
    # Twice is the state machine's conflict, shown as a message.
    r = await client.post(url, headers=htmx(csrf))
    assert r.status_code == 409 and r.headers["hx-retarget"] == "#flash"
    # Another organization's staff cannot see it; a caseworker cannot answer for the provider.
    csrf2 = await console_login(client, "org2")
    assert (await client.post(url, headers=htmx(csrf2))).status_code == 404
    sup = await console_login(client, "supervisor")
    assert (
        await client.post(f"/admin/referrals/{ids['sent']}/decline", data={"reason": "x"}, headers=htmx(sup))
    ).status_code == 403


async def test_provider_declines_with_a_reason(client, world, db) -> None:
    ids = await board(db, world)
    csrf = await console_login(client, "org")
    url = f"/admin/referrals/{ids['sent']}/decline"
    r = await client.post(url, data={"reason": "  "}, headers=htmx(csrf))
    assert r.status_code == 422 and "理由" in r.text
    assert (await db_referral(db, ids["sent"])).status == "sent"
    # Without JavaScript: a plain form post with the CSRF field, then back to the board.
    r = await client.post(url, data={"_csrf_token": csrf, "reason": "本月名额已满"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/referrals"
    declined = await db_referral(db, ids["sent"])
    assert declined.status == "declined" and declined.decline_reason == "本月名额已满"
    page = await client.get("/admin/referrals")
    assert "已拒绝" in row(section(page.text, "全部转介"), ids["sent"])
    assert csrf_of(page.text) == csrf


async def test_late_referrals_are_found_past_the_first_batch(client, world, db, monkeypatch) -> None:
    from admin.views import referrals as view

    # The service lists newest first; the oldest (the late ones) must still reach the attention list.
    monkeypatch.setattr(view, "ATTENTION_BATCH", 1)
    ids = await board(db, world)
    await console_login(client, "admin")
    chase = section((await client.get("/admin/referrals")).text, "需督办")
    assert {k for k in ids if f"#{ids[k]}<" in chase} == {"sent", "escalated", "stale"}


async def test_caseworker_closes_a_completed_referral_with_a_verdict(client, world, db) -> None:
    ids = await board(db, world)
    rid = ids["sent"]
    async with db.session() as s:
        done = await s.get(Referral, rid)
        assert done is not None
        need = await s.get(Need, done.need_id)
        assert need is not None
        done.status, done.outcome = "completed", "got_help"
        done.accepted_at = done.started_at = NOW - dt.timedelta(days=4)
        done.completed_at = NOW - dt.timedelta(days=1)
        need.status = "in_service"
        child_id = done.child_id
    csrf = await console_login(client, "director")
    page = await client.get("/admin/referrals")
    mine = row(section(page.text, "全部转介"), rid)
    # The provider's outcome is shown as its proposal, waiting for the follow-up visit's verdict.
    assert "机构反馈：已获得帮助" in mine and "待回访确认" in mine
    assert f"/admin/referrals/{rid}/close" in mine and 'name="reopen_need"' in mine
    assert "/accept" not in page.text
    url = f"/admin/referrals/{rid}/close"
    r = await client.post(url, data={"section": "all", "verdict": ""}, headers=htmx(csrf))
    assert r.status_code == 422 and "回访结论" in r.text
    # No follow-up visit after the completion yet: the service's conflict, shown as a message.
    r = await client.post(url, data={"section": "all", "verdict": "partly_met"}, headers=htmx(csrf))
    assert r.status_code == 409 and r.headers["hx-retarget"] == "#flash"
    async with db.session() as s:
        s.add(Visit(child_id=child_id, visited_on=TODAY, kind="follow_up", next_visit_due=TODAY))
    form = {"section": "all", "verdict": "partly_met", "note": "情绪好转", "reopen_need": "1"}
    r = await client.post(url, data=form, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "已结案：需求部分满足" in r.text and "回访结论" in r.text and f"{url}" not in r.text
    async with db.session(write=False) as s:
        closed = await s.get(Referral, rid)
        assert closed is not None and closed.status == "closed" and closed.verdict == "partly_met"
        assert closed.verdict_note == "情绪好转"
        reopened = await s.get(Need, closed.need_id)
        assert reopened is not None and reopened.status == "open"  # the director refers it again


async def test_only_the_caseworkers_see_the_close_form(client, world, db) -> None:
    ids = await board(db, world)
    async with db.session() as s:
        done = await s.get(Referral, ids["sent"])
        assert done is not None
        done.status, done.outcome, done.completed_at = "completed", "got_help", NOW - dt.timedelta(days=1)
    url = f"/admin/referrals/{ids['sent']}/close"
    for user, shown in (("supervisor", True), ("director", True), ("org", False), ("admin", False)):
        await console_login(client, user)
        assert (url in (await client.get("/admin/referrals")).text) is shown, user
    csrf = await console_login(client, "org")
    assert (await client.post(url, data={"verdict": "met"}, headers=htmx(csrf))).status_code == 403
