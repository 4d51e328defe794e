"""A refused console form is shown again with nothing changed (``admin.web.render_form_error``): a plain form gets
its page again with the Chinese message and exactly what was posted, an htmx form keeps what was typed and gets the
message in the flash area; the status is the refusal's (422 a field, 409 a conflict)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from marketplace.cases.models import Child
from marketplace.resources.models import SocialWorker
from tests.admin.console import console_login, csrf_of, htmx
from tests.cases.support import Cases, birth_for_age, cases, id_number

__all__ = ["cases"]


async def _children(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(Child)) or 0)


def _form(csrf: str) -> dict[str, Any]:
    birth = birth_for_age(8)
    return {
        "_csrf_token": csrf,
        "name": "林小溪",
        "id_number": id_number(birth, "953"),
        "birth_date": birth.isoformat(),
        "gender": "male",
        "categories": ["left_behind", "orphan"],
        "guardianship": "entrusted",
        "risk_level": "high",
        "school": "福田小学",
        "guardian_name": "林大海",
        "guardian_relation": "祖父",
        "guardian_phone": "abc",
        "address": "福山社区 3 栋",
        "household_notes": "父母在外务工",
        "consent_to_share": "1",
        "share_note": "喜欢画画",
    }


async def test_a_refused_new_file_comes_back_with_what_was_typed(client, db, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    before = await _children(db)
    data = _form(csrf)
    r = await client.post("/admin/children/new", data=data)
    assert r.status_code == 422, r.text
    html = r.text
    assert re.search(r'role="alert" id="form-error">[^<]*监护人电话', html)
    for name in ("name", "id_number", "birth_date", "school", "guardian_name", "guardian_relation", "address"):
        assert f'value="{data[name]}"' in html, name
    assert 'value="abc"' in html  # the refused value too, to be corrected
    assert ">父母在外务工</textarea>" in html and ">喜欢画画</textarea>" in html
    assert '<option value="male" selected>' in html and '<option value="entrusted" selected>' in html
    assert '<option value="high" selected>' in html and '<option value="medium" selected>' not in html
    assert 'value="left_behind" checked' in html and 'value="orphan" checked' in html
    assert 'value="economic_hardship" checked' not in html
    assert 'name="consent_to_share" value="1" checked' in html
    assert 'aria-current="page"' in html and "退出登录" in html  # the whole page, in the director's layout
    # The refused field is marked and described by the message, and the focus starts on it; only that one.
    assert re.search(r'<div class="msg msg-error" role="alert" id="form-error">', html)
    phone = re.search(r'<input name="guardian_phone"[^>]*>', html)
    assert phone and 'aria-invalid="true" aria-describedby="form-error" autofocus' in phone.group(0)
    assert html.count('aria-invalid="true"') == 1 and html.count("autofocus") == 1
    number = re.search(r'<input name="id_number"[^>]*>', html, re.S)
    assert number and 'aria-describedby="id-check"' in number.group(0) and "aria-invalid" not in number.group(0)
    assert await _children(db) == before

    # No category: the console's own check, the same page.
    r = await client.post("/admin/children/new", data={k: v for k, v in data.items() if k != "categories"})
    assert r.status_code == 422 and "请至少选择一个儿童类别" in r.text and 'value="林小溪"' in r.text

    # The same person twice: the service's 409, shown over the form that keeps its values.
    ok = await client.post(
        "/admin/children/new", data={**data, "guardian_phone": "13711112222"}, follow_redirects=False
    )
    assert ok.status_code == 303 and re.fullmatch(r"/admin/children/\d+\?done=created", ok.headers["location"])
    again = await client.post("/admin/children/new", data={**data, "name": "林小溪二", "guardian_phone": "13711112222"})
    assert again.status_code == 409 and "一人只能有一份档案" in again.text and 'value="林小溪二"' in again.text
    assert await _children(db) == before + 1


async def test_an_htmx_refusal_answers_in_the_flash_area(client, db, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    before = await _children(db)
    r = await client.post("/admin/children/new", data=_form(csrf), headers=htmx(csrf))
    assert r.status_code == 422
    assert r.headers["hx-retarget"] == "#flash" and r.headers["hx-reswap"] == "innerHTML"
    assert "监护人电话" in r.text and "<form" not in r.text
    assert await _children(db) == before


async def test_a_refused_social_worker_keeps_its_values_above_its_own_form(client, db, world) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/org/people")
    csrf = csrf_of(page.text)
    form = {
        "_csrf_token": csrf,
        "name": "周社工",
        "qualification": "中级社工师",
        "phone": "13800001111",
        "max_caseload": "很多",
        "specialties": ["psych_counselling"],
        "street_ids": [str(world.streets[0])],
    }
    r = await client.post("/admin/org/workers", data=form)
    assert r.status_code == 422 and "最多同时承接个案：请填写非负整数" in r.text
    assert 'value="周社工"' in r.text and 'value="中级社工师"' in r.text
    # The message stands above the worker form, not the team form, and marks the worker form's field.
    assert r.text.index("最多同时承接个案：请填写非负整数") < r.text.index('action="/admin/org/workers"')
    caseload = re.search(r'<input name="max_caseload"[^>]*>', r.text)
    assert caseload and 'aria-invalid="true" aria-describedby="form-error" autofocus' in caseload.group(0)
    assert r.text.count('aria-invalid="true"') == 1
    # The team form has a field of the same name as the worker form's: a refused team marks only its own.
    team = {"_csrf_token": csrf, "name": "", "street_id": str(world.streets[0]), "member_count": "3"}
    r = await client.post("/admin/org/teams", data=team)
    assert r.status_code == 422 and r.text.count('aria-invalid="true"') == 1
    marked = re.search(r'<input name="(\w+)"[^>]*aria-invalid="true"', r.text)
    assert marked and marked.group(1) == "name"
    assert r.text.index('aria-invalid="true"') > r.text.index('action="/admin/org/teams"')
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(SocialWorker)) == 0
