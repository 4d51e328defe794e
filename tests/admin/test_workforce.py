"""The workforce console: the supervisor opens a director's assessment, the director writes the self-report, the
supervisor scores, the district confirms and sees the grade with every indicator's inputs; bad input is refused in
place with what was typed and nothing changes; courses, attendance and certificates through their forms; scope."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.workforce.models import Assessment, Attendance, Certificate, Course
from tests.admin.console import console_login, csrf_of

YEAR = clock.today().year


async def _post(client: Any, page_url: str, action: str, data: dict[str, str]) -> Any:
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"_csrf_token": csrf_of(page.text), **data}, follow_redirects=False)


async def test_assessment_steps_through_the_console(client, db, world) -> None:
    director = world.users["director"]
    await console_login(client, "supervisor")
    board = await client.get("/admin/workforce")
    assert board.status_code == 200 and "队伍建设" in board.text and "发起述职考核" in board.text
    assert f'id="person-{director}"' in board.text and f'id="person-{world.users["director3"]}"' not in board.text
    r = await _post(
        client, "/admin/workforce", "/admin/workforce/assessments", {"user_id": str(director), "year": "2999"}
    )
    assert r.status_code == 422 and "年度" in r.text and 'value="2999"' in r.text
    r = await _post(
        client, "/admin/workforce", "/admin/workforce/assessments", {"user_id": str(director), "year": str(YEAR)}
    )
    assert r.status_code == 303, r.text
    aid = int(re.search(r"/assessments/(\d+)", r.headers["location"]).group(1))
    url = f"/admin/workforce/assessments/{aid}"

    await console_login(client, "director")
    nav = await client.get("/admin/")
    assert "我的考核" in nav.text
    mine = await client.get("/admin/workforce", follow_redirects=True)
    assert mine.status_code == 200 and "提交述职报告" in mine.text and 'id="indicator-visits_on_time"' in mine.text
    r = await _post(client, url, f"{url}/self-report", {"text": "", "claims": "组织安全讲座"})
    assert r.status_code == 422 and "述职报告" in r.text and "组织安全讲座" in r.text
    r = await _post(
        client, url, f"{url}/self-report", {"text": "全年走访在册儿童。", "claims": "组织安全讲座\n链接心理服务"}
    )
    assert r.status_code == 303
    page = await client.get(url)
    assert "全年走访在册儿童。" in page.text and "<li>链接心理服务</li>" in page.text and "保存评分" not in page.text
    assert (await client.get(f"/admin/workforce/people/{world.users['director2']}")).status_code == 404

    await console_login(client, "supervisor")
    r = await _post(client, url, f"{url}/score", {"score": "120", "comment": "认真"})
    assert r.status_code == 422 and "评分" in r.text and 'value="120"' in r.text
    r = await _post(client, url, f"{url}/score", {"score": "88", "comment": "走访扎实"})
    assert r.status_code == 303

    await console_login(client, "admin")
    page = await client.get(url)
    assert "确认考核结果" in page.text and "当前测算" in page.text
    r = await _post(client, url, f"{url}/confirm", {"veto_reason": ""})
    assert r.status_code == 303
    page = await client.get(url)
    assert 'id="assessment-status">已确认' in page.text and "考核结果" in page.text and "更正考核" in page.text
    async with db.session(write=False) as s:
        row = await s.get(Assessment, aid)
    assert row.status == "confirmed" and row.grade and row.result is not None
    assert f"<strong>{row.result}</strong>" in page.text
    # Confirmed: a step posted again is refused in place; nothing changes.
    r = await client.post(f"{url}/confirm", data={"_csrf_token": csrf_of(page.text), "veto_reason": ""})
    assert r.status_code == 409 and "已确认" in r.text
    r = await _post(client, url, f"{url}/correct", {"reason": "", "score": "", "comment": ""})
    assert r.status_code == 422 and "更正理由" in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Assessment)) == 1


async def test_courses_attendance_and_certificates(client, db, world) -> None:
    director = world.users["director"]
    today = clock.today()
    await console_login(client, "supervisor")
    bad = {
        "title": "家访技巧培训",
        "kind": "business",
        "organizer": "福田街道",
        "starts_on": today.isoformat(),
        "ends_on": (today - dt.timedelta(days=1)).isoformat(),
        "hours": "6",
        "place": "",
        "street_id": "",
    }
    r = await _post(client, "/admin/workforce", "/admin/workforce/courses", bad)
    assert r.status_code == 422 and "结束日期" in r.text and "家访技巧培训" in r.text
    ok = bad | {"ends_on": today.isoformat()}
    r = await _post(client, "/admin/workforce", "/admin/workforce/courses", ok)
    assert r.status_code == 303
    async with db.session(write=False) as s:
        course = await s.scalar(select(Course))
    assert course.street_id == world.streets[0] and course.created_by == world.users["supervisor"]
    page_url = f"/admin/workforce/courses/{course.id}"
    r = await _post(
        client, page_url, f"{page_url}/attendance", {"user_id": str(director), "hours": "9", "passed": "yes"}
    )
    assert r.status_code == 422 and "参训学时" in r.text
    r = await _post(
        client, page_url, f"{page_url}/attendance", {"user_id": str(director), "hours": "6", "passed": "yes"}
    )
    assert r.status_code == 303
    person = await client.get(f"/admin/workforce/people/{director}")
    assert "家访技巧培训" in person.text and 'id="person-hours" class="overdue-text">6 / 24' in person.text
    cert = {
        "kind": "director_post",
        "number": "FT-001",
        "issued_on": "2024-05-01",
        "expires_on": "2024-01-01",
        "issuer": "福田区民政局",
    }
    r = await _post(
        client, f"/admin/workforce/people/{director}", f"/admin/workforce/people/{director}/certificates", cert
    )
    assert r.status_code == 422 and "有效期至" in r.text and "FT-001" in r.text
    r = await _post(
        client,
        f"/admin/workforce/people/{director}",
        f"/admin/workforce/people/{director}/certificates",
        cert | {"expires_on": (today + dt.timedelta(days=20)).isoformat()},
    )
    assert r.status_code == 303
    person = await client.get(f"/admin/workforce/people/{director}")
    assert "即将到期" in person.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Certificate)) == 1
        assert await s.scalar(select(func.count()).select_from(Attendance)) == 1
    # The other street's supervisor sees neither the course nor the director; the org nothing.
    await console_login(client, "supervisor2")
    assert (await client.get(page_url)).status_code == 404
    assert (await client.get(f"/admin/workforce/people/{director}")).status_code == 404
    await console_login(client, "org")
    assert (await client.get("/admin/workforce")).status_code == 403
