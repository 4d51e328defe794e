"""The child director's console pages: my children, opening a file (the identity number checked as typed), a child's
page with the quick visit, a need, the consent and the contact reveal; who may open them (another community's
director gets 404) and the audit rows each page writes (those of the API's reads)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases import service as cases_service
from marketplace.cases.models import Child, Need, Notification, Visit
from marketplace.referrals.models import Referral
from tests.admin.console import console_login, csrf_of, htmx
from tests.cases.support import Cases, birth_for_age, cases, id_number

__all__ = ["cases"]


async def audit_rows(db: Any, child_id: int, username: str) -> list[AuditEntry]:
    async with db.session(write=False) as s:
        return list(
            (
                await s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.entity == "child", AuditEntry.entity_id == child_id)
                    .where(AuditEntry.username == username)
                    .order_by(AuditEntry.id)
                )
            ).all()
        )


async def test_my_children_are_cards_of_my_community_with_warnings(client, db, cases: Cases) -> None:
    async with db.session() as s:
        a = await s.get(Child, cases.children["A"])
        assert a is not None
        a.next_visit_due = clock.today() - dt.timedelta(days=4)
        sent = await s.get(Referral, cases.referrals["A"])
        assert sent is not None
        sent.escalated_at, sent.escalation_level = clock.now(), 2
    await console_login(client, "director")
    page = await client.get("/admin/children")
    assert page.status_code == 200, page.text
    html = page.text
    assert "张小明" in html and "李小红" not in html and "王小华" not in html
    card = html[html.index(f'id="child-{cases.children["A"]}"') :]
    card = card[: card.index("</li>\n  \n")] if "</li>\n  \n" in card else card[:2000]
    assert "走访逾期 4 天" in card and "child-card overdue" in html and "1 个转介超时未办，已升级督办" in card
    # The open need and the sent referral are counted on the card.
    facts = re.findall(r"<dt>(未了结需求|进行中转介)</dt><dd>(\d+)</dd>", card)
    assert dict(facts) == {"未了结需求": "1", "进行中转介": "1"}
    # The list is read through the cases service: its audit row names the children shown.
    rows = await audit_rows(db, cases.children["A"], "director")
    assert any(r.action == "list" for r in rows)
    # The navigation: my children, notifications and the mandatory report on every page.
    assert 'href="/admin/children"' in html and 'href="/admin/notifications"' in html and 'href="/admin/report"' in html
    assert (await client.get("/admin/children?risk=nope")).status_code == 422
    only_overdue = await client.get("/admin/children?overdue=true&q=张")
    assert "张小明" in only_overdue.text


async def test_roles_without_children_get_403_and_the_board_keeps_working(client, cases: Cases) -> None:
    await console_login(client, "org")
    assert (await client.get("/admin/children")).status_code == 403
    await console_login(client, "director")
    assert (await client.get("/admin/cases")).status_code == 200


async def test_another_communitys_director_gets_404_on_every_child_page(client, db, cases: Cases) -> None:
    child, need, referral = cases.children["A"], cases.needs["A"], cases.referrals["A"]
    csrf = await console_login(client, "director2")
    for path in (
        f"/admin/children/{child}",
        f"/admin/needs/{need}/matches",
        f"/admin/referrals/{referral}/follow",
        f"/admin/report?child={child}",
    ):
        assert (await client.get(path)).status_code == 404, path
    for path, data in (
        (f"/admin/children/{child}/visits", {"kind": "home", "findings": "x"}),
        (f"/admin/children/{child}/needs", {"category": "psych_counselling", "urgency": "2"}),
        (f"/admin/children/{child}/contact", {"reason": "走访"}),
        (f"/admin/children/{child}/consent", {}),
        (f"/admin/referrals/{referral}/verdict", {"verdict": "met"}),
    ):
        r = await client.post(path, data=data, headers=htmx(csrf))
        assert r.status_code == 404, (path, r.text)
        assert "不存在" in r.text
    assert (await client.get("/admin/children/999999")).status_code == 404
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Visit)) == 0
        assert await s.scalar(select(func.count()).select_from(Need)) == 3


async def test_the_child_page_writes_the_audit_rows_of_the_apis_reads(client, db, cases: Cases) -> None:
    child = cases.children["A"]
    await console_login(client, "director")
    page = await client.get(f"/admin/children/{child}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "张小明" in html and "心理疏导" in html and "困境儿童心理疏导服务" in html
    assert "闭环进程" in html and "139****1234" in html and "13900001234" not in html
    rows = await audit_rows(db, child, "director")
    fields = [tuple(r.fields) for r in rows if r.action == "read"]
    # GET /children/{id}, /timeline, /visits: the file's fields, the timeline and the visits; the referral as listed.
    assert tuple(cases_service.FILE_FIELDS) in fields and ("timeline",) in fields and ("visits",) in fields
    assert any(r.action == "list" and r.detail.get("via") == "referral" for r in rows)


def _number(age: int = 9, seq: str = "971") -> tuple[str, dt.date]:
    birth = birth_for_age(age)
    return id_number(birth, seq), birth


async def test_the_identity_number_is_checked_as_it_is_typed(client, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    good, birth = _number()

    async def check(**data: str) -> str:
        r = await client.post("/admin/children/new/check", data=data, headers=htmx(csrf))
        assert r.status_code == 200, r.text
        return r.text

    assert "已输入 10 / 18 位" in await check(id_number=good[:10])
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    assert "校验位不符" in await check(id_number=bad)
    assert "身份证号有效" in await check(id_number=good, birth_date=birth.isoformat(), gender="male")
    mismatch = await check(id_number=good, birth_date=(birth - dt.timedelta(days=1)).isoformat())
    assert "出生日期不符" in mismatch and "身份证号有效" not in mismatch
    # The 17th digit (1: odd) says male: a female child is a warning to verify, not a refusal.
    female = await check(id_number=good, gender="female")
    assert "性别不符" in female and "身份证号有效" in female
    # One person, one file: 张小明's number is filed in 福山社区 already.
    held = await check(id_number=_number(10, "991")[0])
    assert "已在福山社区建档" in held
    adult = id_number(dt.date(clock.today().year - 30, 1, 15))
    assert "已满18周岁" in await check(id_number=adult)


async def test_opening_a_file_records_the_consent_and_refuses_a_second_file(client, db, cases: Cases) -> None:
    await console_login(client, "director")
    form = await client.get("/admin/children/new")
    assert form.status_code == 200 and 'hx-post="/admin/children/new/check"' in form.text
    csrf = csrf_of(form.text)
    good, birth = _number()
    data = {
        "name": "陈小雨",
        "id_number": good,
        "birth_date": birth.isoformat(),
        "gender": "male",
        "categories": ["left_behind", "economic_hardship"],
        "guardianship": "family",
        "risk_level": "high",
        "guardian_name": "陈大山",
        "guardian_phone": "13711112222",
        "consent_to_share": "1",
        "share_note": "喜欢踢球",
    }
    r = await client.post("/admin/children/new", data=data, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    target = r.headers["hx-redirect"]
    assert re.fullmatch(r"/admin/children/\d+\?done=created", target)
    child_id = int(target.split("/")[3].split("?")[0])
    async with db.session(write=False) as s:
        child = await s.get(Child, child_id)
        assert child is not None
        assert child.categories == ["left_behind", "economic_hardship"] and child.consent_to_share
        assert child.consent_recorded_on == clock.today()
        assert child.next_visit_due == clock.today() + dt.timedelta(days=14)
    assert "档案已建立" in (await client.get(target)).text
    # The same number again: the cases service's 409, in Chinese, and nothing filed.
    again = await client.post("/admin/children/new", data={**data, "name": "陈小雨二"}, headers=htmx(csrf))
    assert again.status_code == 409 and "一人只能有一份档案" in again.text
    no_category = await client.post(
        "/admin/children/new", data={k: v for k, v in data.items() if k != "categories"}, headers=htmx(csrf)
    )
    assert no_category.status_code == 422 and "请至少选择一个儿童类别" in no_category.text
    bad_phone = await client.post(
        "/admin/children/new",
        data={**data, "id_number": _number(8, "973")[0], "guardian_phone": "abc"},
        headers=htmx(csrf),
    )
    assert bad_phone.status_code == 422 and "监护人电话" in bad_phone.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Child)) == 4
    # Only a director files.
    await console_login(client, "supervisor")
    assert (await client.get("/admin/children/new")).status_code == 403


async def test_the_quick_visit_reassesses_the_risk_and_the_service_computes_the_next_visit(
    client, db, cases: Cases
) -> None:
    child = cases.children["A"]
    csrf = await console_login(client, "director")
    today = clock.today()
    r = await client.post(
        f"/admin/children/{child}/visits",
        data={
            "visited_on": today.isoformat(),
            "kind": "home",
            "findings": "父母外出务工，情绪低落",
            "risk_level": "high",
        },
        headers=htmx(csrf),
    )
    assert r.status_code == 200 and r.headers["hx-redirect"].startswith(f"/admin/children/{child}?done=visit")
    async with db.session(write=False) as s:
        found = await s.get(Child, child)
        assert found is not None
        assert found.risk_level == "high" and found.last_visit_on == today
        assert found.next_visit_due == today + dt.timedelta(days=14)
    page = await client.get(f"/admin/children/{child}?done=visit")
    assert "父母外出务工" in page.text and "走访已记录" in page.text
    future = await client.post(
        f"/admin/children/{child}/visits",
        data={"visited_on": (today + dt.timedelta(days=2)).isoformat(), "kind": "home"},
        headers=htmx(csrf),
    )
    assert future.status_code == 422 and "走访日期不能晚于今天" in future.text
    bad_risk = await client.post(
        f"/admin/children/{child}/visits", data={"kind": "home", "risk_level": "extreme"}, headers=htmx(csrf)
    )
    assert bad_risk.status_code == 422
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Visit)) == 1


async def test_a_need_consent_and_the_audited_contact_reveal(client, db, cases: Cases) -> None:
    child = cases.children["A"]
    csrf = await console_login(client, "director")
    r = await client.post(
        f"/admin/children/{child}/needs",
        data={"category": "education_aid", "urgency": "3", "note": "学费困难"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        need = await s.scalar(select(Need).where(Need.child_id == child, Need.category == "education_aid"))
        assert need is not None and need.urgency == 3 and need.status == "open"
    unknown = await client.post(
        f"/admin/children/{child}/needs", data={"category": "flying", "urgency": "3"}, headers=htmx(csrf)
    )
    assert unknown.status_code == 422 and "未知服务类别" in unknown.text
    page = await client.get(f"/admin/children/{child}")
    assert f'href="/admin/needs/{need.id}/matches"' in page.text

    empty = await client.post(f"/admin/children/{child}/contact", data={"reason": " "}, headers=htmx(csrf))
    assert empty.status_code == 422 and "请说明查看理由" in empty.text
    shown = await client.post(f"/admin/children/{child}/contact", data={"reason": "明日入户"}, headers=htmx(csrf))
    assert shown.status_code == 200 and "13900001234" in shown.text
    reveal = [r for r in await audit_rows(db, child, "director") if r.action == "reveal"]
    assert len(reveal) == 1 and reveal[0].detail == {"reason": "明日入户"}

    async with db.session() as s:
        found = await s.get(Child, child)
        assert found is not None
        found.consent_to_share, found.consent_recorded_on = False, None
    r = await client.post(f"/admin/children/{child}/consent", data={"share_note": "可告知机构爱好"}, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        found = await s.get(Child, child)
        assert found is not None and found.consent_to_share and found.consent_recorded_on == clock.today()
        assert found.share_note == "可告知机构爱好"
    # The supervisor reads the file but does not write it.
    csrf = await console_login(client, "supervisor")
    refused = await client.post(
        f"/admin/children/{child}/needs", data={"category": "education_aid", "urgency": "1"}, headers=htmx(csrf)
    )
    assert refused.status_code == 403 and "只有本社区儿童主任" in refused.text


async def test_notifications_are_listed_and_open_what_they_are_about(client, db, world, cases: Cases) -> None:
    async with db.session() as s:
        n = Notification(
            key="t:1",
            recipient_id=world.users["director"],
            kind="referral_accepted",
            title="转介已被接收",
            body="心理疏导服务已接收",
            entity="referral",
            entity_id=cases.referrals["A"],
            data={},
        )
        s.add(n)
        await s.flush()
        note_id = n.id
    csrf = await console_login(client, "director")
    page = await client.get("/admin/notifications")
    assert page.status_code == 200 and "转介已被接收" in page.text and "1 未读" in page.text
    r = await client.post(f"/admin/notifications/{note_id}/read", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/referrals/{cases.referrals['A']}/follow"
    assert "0 未读" in (await client.get("/admin/notifications")).text
    # Someone else's notification is not found.
    await console_login(client, "director2")
    other = await client.post(
        f"/admin/notifications/{note_id}/read", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert other.status_code in (403, 404)
