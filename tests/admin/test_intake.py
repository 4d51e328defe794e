"""The console's calls and reports (来电与反映): the district takes a call on the quick form, the community's
director triages it on the intake's page (a mandatory report, then the file it is about), bad input is answered in
place with the values as posted and nothing written; scope and audit as the API's."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child, MandatoryReport
from marketplace.intake.models import Intake, IntakeTriage
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child, birth_for_age, id_number


def call(world: Any, csrf: str, **kw: Any) -> dict[str, Any]:
    form = {
        "_csrf_token": csrf,
        "channel": "hotline_12355",
        "urgency": "3",
        "what": "来电称一名男孩连续两晚在公园长椅过夜",
        "place": "荔枝公园北门",
        "community_id": str(world.communities[0]),
        "subject_name": "小军",
        "subject_description": "男孩，约8岁",
        "caller_name": "陈女士",
        "caller_phone": "13712345678",
        "caller_relation": "邻居",
    }
    form.update(kw)
    return form


async def count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_take_a_call_then_triage_into_report_and_file(client, world, db, settings) -> None:
    csrf = await console_login(client, "admin")
    home = await client.get("/admin/")
    assert 'href="/admin/intakes"' in home.text
    page = await client.get("/admin/intakes/new")
    assert page.status_code == 200 and "登记来电" in page.text
    # Bad input: the form again, with the message and what was typed; nothing written.
    r = await client.post("/admin/intakes/new", data=call(world, csrf_of(page.text), place=""), follow_redirects=False)
    assert r.status_code == 422 and "请填写地点" in r.text and "连续两晚在公园长椅过夜" in r.text
    assert 'aria-invalid="true"' in r.text
    r = await client.post(
        "/admin/intakes/new", data=call(world, csrf_of(page.text), urgency="9"), follow_redirects=False
    )
    assert r.status_code == 422 and "紧急程度" in r.text
    r = await client.post(
        "/admin/intakes/new", data=call(world, csrf_of(page.text), received_at="昨天"), follow_redirects=False
    )
    assert r.status_code == 422 and "来电时间" in r.text
    assert await count(db, Intake) == 0
    r = await client.post("/admin/intakes/new", data=call(world, csrf_of(page.text)), follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    iid = int(re.search(r"/admin/intakes/(\d+)", location).group(1))  # type: ignore[union-attr]
    page = await client.get(location)
    assert "来电已登记" in page.text and "12355青少年服务热线" in page.text and "13712345678" in page.text
    # The district may triage it "no action"; the report is the director's or the supervisor's, the file the
    # director's: no forms for them here.
    assert 'id="triage-none"' in page.text
    assert 'id="triage-report"' not in page.text and 'id="triage-file"' not in page.text

    # The director of another community does not see it.
    await console_login(client, "director2")
    assert (await client.get(f"/admin/intakes/{iid}")).status_code == 404
    listed = await client.get("/admin/intakes")
    assert f'id="intake-{iid}"' not in listed.text

    # The community's director: told at once, the notice leading to the intake; the list shows it waiting.
    await console_login(client, "director")
    notices = await client.get("/admin/notifications")
    assert "待研判" in notices.text and "查看（未读）" in notices.text
    action = re.search(r'action="(/admin/notifications/\d+/read)"', notices.text).group(1)  # type: ignore[union-attr]
    r = await client.post(action, data={"_csrf_token": csrf_of(notices.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/intakes/{iid}"
    listed = await client.get("/admin/intakes")
    assert f'id="intake-{iid}"' in listed.text and "待研判" in listed.text
    page = await client.get(f"/admin/intakes/{iid}")
    csrf = csrf_of(page.text)
    # A reason left blank: refused in place, nothing recorded.
    r = await client.post(
        f"/admin/intakes/{iid}/triage",
        data={"_csrf_token": csrf, "outcome": "no_action", "reason": " "},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "理由" in r.text and 'id="triage-none" open' in r.text
    assert await count(db, IntakeTriage) == 0
    r = await client.post(
        f"/admin/intakes/{iid}/triage",
        data={"_csrf_token": csrf, "outcome": "mandatory_report", "report_kind": "lives_alone", "police_notified": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "研判结果已记录" in page.text and "转为强制报告" in page.text and "新建档案并关联报告" in page.text
    async with db.session(write=False) as s:
        report = await s.scalar(select(MandatoryReport))
        assert report is not None and report.child_id is None and report.subject_name == "小军"

    # The file: a bad identity number answered in place with the typed values; then the file, and the report linked.
    birth = birth_for_age(8)
    file = {
        "_csrf_token": csrf_of(page.text),
        "outcome": "new_file",
        "name": "刘小军",
        "gender": "male",
        "birth_date": birth.isoformat(),
        "id_number": "440304201801011234",
        "categories": "left_behind",
        "guardianship": "family",
        "risk_level": "high",
    }
    r = await client.post(f"/admin/intakes/{iid}/triage", data=file, follow_redirects=False)
    assert r.status_code == 422 and "身份证号" in r.text and "刘小军" in r.text
    assert await count(db, Child) == 0
    file["id_number"] = id_number(birth, "971")
    r = await client.post(f"/admin/intakes/{iid}/triage", data=file, follow_redirects=False)
    assert r.status_code == 303, r.text
    child_page = await client.get(r.headers["location"])
    assert child_page.status_code == 200
    assert "刘小军" in child_page.text and 'id="intakes"' in child_page.text
    assert "12355热线来电" in child_page.text and "强制报告" in child_page.text
    async with db.session(write=False) as s:
        report = await s.scalar(select(MandatoryReport))
        child = await s.scalar(select(Child))
        assert report is not None and child is not None and report.child_id == child.id
        # Every read of the intake pages wrote its rows.
        reads = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "intake", AuditEntry.action == "read")
        )
    assert reads and reads >= 4


async def test_need_on_a_file_and_no_action_and_who_may(client, world, db, settings) -> None:
    async with db.session() as s:
        kid = await add_child(s, settings, world.communities[0], world.streets[0], name="张小明")
        kid_id = kid.id
    await console_login(client, "supervisor")
    page = await client.get("/admin/intakes/new")
    assert "岗厦社区" in page.text and "百花社区" not in page.text  # the supervisor's street only
    r = await client.post(
        "/admin/intakes/new",
        data=call(
            world, csrf_of(page.text), channel="school", urgency="2", subject_name="", subject_description="学生张某"
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    iid = int(re.search(r"/admin/intakes/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]

    await console_login(client, "director")
    page = await client.get(f"/admin/intakes/{iid}")
    assert f'value="{kid_id}"' in page.text  # the community's files to choose from
    r = await client.post(
        f"/admin/intakes/{iid}/triage",
        data={
            "_csrf_token": csrf_of(page.text),
            "outcome": "need",
            "child_id": str(kid_id),
            "category": "",
            "note": "x",
        },
        follow_redirects=False,
    )
    assert r.status_code == 422 and "需求类别" in r.text
    r = await client.post(
        f"/admin/intakes/{iid}/triage",
        data={
            "_csrf_token": csrf_of(page.text),
            "outcome": "need",
            "child_id": str(kid_id),
            "category": "psych_counselling",
            "urgency": "2",
            "note": "学校反映情绪低落",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    child_page = await client.get(f"/admin/children/{kid_id}")
    assert 'id="intakes"' in child_page.text and "学校报告" in child_page.text

    # A call about a filed child, on the quick form: the file chosen; with a name typed as well, refused in place.
    page = await client.get("/admin/intakes/new")
    assert f'<option value="{kid_id}">张小明' in page.text
    about = call(world, csrf_of(page.text), channel="hospital", child_id=str(kid_id), place="")
    r = await client.post("/admin/intakes/new", data=about, follow_redirects=False)
    assert r.status_code == 422 and "已选择儿童档案" in r.text
    about.update(subject_name="", subject_description="")
    r = await client.post("/admin/intakes/new", data=about, follow_redirects=False)
    assert r.status_code == 303, r.text
    async with db.session(write=False) as s:
        filed = await s.scalar(select(Intake).where(Intake.channel == "hospital"))
        assert filed is not None and filed.child_id == kid_id

    # The auditor reads it, with the caller's number masked, and has no triage form; org staff see nothing.
    await console_login(client, "auditor")
    page = await client.get(f"/admin/intakes/{iid}")
    assert page.status_code == 200 and 'id="triage"' not in page.text
    assert "13712345678" not in page.text and "137****5678" in page.text
    await console_login(client, "org")
    assert (await client.get("/admin/intakes")).status_code == 403
    assert (await client.get(f"/admin/intakes/{iid}")).status_code == 404
