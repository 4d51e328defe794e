"""A NUL character (U+0000) in a console form field: the same form comes back in place with the Chinese message and
the values as posted (the NUL left out), the status 422, and nothing is written; never an error page or a 500
(issue #17). The API refuses the same input as it reads the request (tests/test_inputs.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace.cases.models import Child, Visit
from marketplace.errors import NUL_REFUSED
from marketplace.funds.models import Donation, Donor
from tests.admin.console import console_login, htmx
from tests.admin.money import fund_with_gifts
from tests.admin.test_form_errors import _form as child_form
from tests.admin.test_funds_gifts import gift_form
from tests.cases.support import Cases, cases
from tests.support import figures

__all__ = ["cases"]

MESSAGE = NUL_REFUSED.split(" (")[0]  # the Chinese part, as the page shows it
SUITE = "console NUL input"


async def _count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_new_childs_file_with_a_nul_comes_back_with_what_was_typed(client, db, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    before = await _count(db, Child)
    tried = 0
    for field in ("name", "school", "guardian_name", "address", "household_notes"):
        data = {**child_form(csrf), "guardian_phone": "13711112222"}
        typed = data[field]
        data[field] = typed[:1] + "\x00" + typed[1:]
        r = await client.post("/admin/children/new", data=data)
        tried += 1
        assert r.status_code == 422, (field, r.status_code, r.text[:300])
        html = r.text
        assert MESSAGE in html and "<form" in html and 'name="id_number"' in html, field
        assert "\x00" not in html
        # The values as posted, the NUL left out; the page in the director's layout.
        assert 'value="林小溪"' in html or field == "name"
        assert typed in html, field
        assert 'value="left_behind" checked' in html and "退出登录" in html
    assert await _count(db, Child) == before
    figures.record(SUITE, "console NUL posts (child file)", tried)
    figures.record(SUITE, "console NUL posts answered by an error page or 5xx", 0)


async def test_an_offline_gift_with_a_nul_is_drawn_again_in_place(client, auth, world, db) -> None:
    fund_id = await fund_with_gifts(client, auth, db, world)
    csrf = await console_login(client, "fund")
    before = (await _count(db, Donation), await _count(db, Donor))
    for change in (
        {"donor_name": "深圳市爱心\x00餐饮有限公司"},
        {"note": "年终\x00捐赠"},
        {"reference": "BANK-\x007001"},
    ):
        r = await client.post("/admin/funds/donations/new", data={**gift_form(fund_id), **change}, headers=htmx(csrf))
        assert r.status_code == 422, (change, r.status_code, r.text[:300])
        assert MESSAGE in r.text and 'id="gift-form"' in r.text, change
        assert "\x00" not in r.text
        assert "深圳市爱心餐饮有限公司" in r.text
        plain = await client.post(
            "/admin/funds/donations/new", data={**gift_form(fund_id), **change, "_csrf_token": csrf}
        )
        assert plain.status_code == 422 and "<h1>登记线下捐赠</h1>" in plain.text and MESSAGE in plain.text
    assert (await _count(db, Donation), await _count(db, Donor)) == before


async def test_a_visit_with_a_nul_is_refused_in_place_and_not_recorded(client, db, cases: Cases) -> None:
    csrf = await console_login(client, "director")
    before = await _count(db, Visit)
    r = await client.post(
        f"/admin/children/{cases.children['A']}/visits",
        data={"kind": "home", "findings": "情绪\x00稳定"},
        headers=htmx(csrf),
    )
    # The visit form is an htmx form: it keeps what was typed and gets the message in the flash area.
    assert r.status_code == 422 and MESSAGE in r.text and r.headers["hx-retarget"] == "#flash"
    assert await _count(db, Visit) == before
    ok = await client.post(
        f"/admin/children/{cases.children['A']}/visits",
        data={"kind": "home", "findings": "情绪稳定"},
        headers=htmx(csrf),
    )
    assert ok.status_code == 200, ok.text
    assert await _count(db, Visit) == before + 1


async def test_a_social_worker_with_a_nul_keeps_its_values_above_its_own_form(client, db, world) -> None:
    from tests.admin.console import csrf_of

    await console_login(client, "org")
    page = await client.get("/admin/org/people")
    form = {
        "_csrf_token": csrf_of(page.text),
        "name": "周\x00社工",
        "qualification": "中级社工师",
        "phone": "13800001111",
        "max_caseload": "10",
        "specialties": ["psych_counselling"],
        "street_ids": [str(world.streets[0])],
    }
    r = await client.post("/admin/org/workers", data=form)
    assert r.status_code == 422, r.text[:300]
    assert MESSAGE in r.text and 'value="周社工"' in r.text and 'value="中级社工师"' in r.text
    assert r.text.index(MESSAGE) < r.text.index('action="/admin/org/workers"')


async def test_a_nul_in_the_login_form_is_a_refusal_not_a_server_error(client, world) -> None:
    from tests.admin.console import csrf_of

    client.cookies.clear()
    page = await client.get("/admin/login")
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": "adm\x00in", "password": "x", "next": "/admin/"},
        follow_redirects=False,
    )
    assert 400 <= r.status_code < 500, r.status_code
