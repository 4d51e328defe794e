"""The guardianship console: the assessment form rendered from the instrument and scored on the server, the
entrusted guardianship form (refusals shown in place with what was typed, nothing changed), the temporary
placement's end refused without an assessment, the board by scope, the child page's section."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.cases.models import Child
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.models import EntrustedGuardianship, GuardianshipAssessment, TemporaryGuardianship
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child


async def seed(db: Any, world: Any, settings: Any) -> dict[str, int]:
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    async with db.session() as s:
        a = await add_child(s, settings, c1, s1, name="张小明", seq="991")
        c = await add_child(s, settings, c3, s2, name="王小华", seq="995")
        return {"A": a.id, "C": c.id}


def all_answers(value: int, **changed: int) -> dict[str, str]:
    values = {i.code: min(value, i.best) for i in inst.CURRENT.items()} | changed
    return {f"answer_{k}": str(v) for k, v in values.items()}


async def count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_director_assesses_from_the_instrument_and_sees_the_score(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    form = await client.get(f"/admin/children/{ids['A']}/guardianship/assess")
    assert form.status_code == 200, form.text
    for item in inst.CURRENT.items():
        assert f'name="answer_{item.code}"' in form.text and item.label in form.text
    for domain in inst.CURRENT.domains:
        assert domain.label in form.text
    token = csrf_of(form.text)

    # One question left out: the form again, what was chosen kept, nothing stored.
    partial = all_answers(2)
    partial.pop("answer_alone")
    r = await client.post(
        f"/admin/children/{ids['A']}/guardianship/assess",
        data={"_csrf_token": token, "assessed_on": clock.today().isoformat(), **partial},
    )
    assert r.status_code == 422
    assert "未回答" in r.text and "儿童独处无人照料" in r.text
    assert re.search(r'name="answer_housing" value="2" checked', r.text)
    assert 'name="answer_alone" value="0" required aria-invalid="true"' in r.text
    assert await count(db, GuardianshipAssessment) == 0

    r = await client.post(
        f"/admin/children/{ids['A']}/guardianship/assess",
        data={"_csrf_token": token, "assessed_on": clock.today().isoformat(), "note": "祖母照料", **all_answers(2)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert "67 分" in page.text and "监护基本合格需支持" in page.text and "祖母照料" in page.text
    assert "安全风险" in page.text and "达成 67%" in page.text

    child_page = await client.get(f"/admin/children/{ids['A']}")
    assert 'id="guardianship"' in child_page.text and "监护基本合格需支持（67 分" in child_page.text

    # Another street's child: not found; the supervisor reads but does not assess.
    assert (await client.get(f"/admin/children/{ids['C']}/guardianship/assess")).status_code == 404
    await console_login(client, "supervisor")
    assert (await client.get(f"/admin/children/{ids['A']}/guardianship/assess")).status_code == 403
    assert (await client.get(page.url.path)).status_code == 200


async def test_entrusted_guardianship_form_refuses_in_place_and_records(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    url = f"/admin/children/{ids['A']}/guardianship"
    page = await client.get(url)
    assert page.status_code == 200 and "登记委托监护确认书" in page.text
    token = csrf_of(page.text)
    posted = {
        "_csrf_token": token,
        "person_name": "陈秀英",
        "relationship": "外祖母",
        "contact_phone": "13800138000",
        "signed_on": (clock.today() - dt.timedelta(days=400)).isoformat(),
        "review_on": (clock.today() - dt.timedelta(days=35)).isoformat(),
    }
    r = await client.post(f"{url}/entrusted", data=posted)
    assert r.status_code == 422
    assert "复核日期须在今天之后" in r.text and 'value="陈秀英"' in r.text
    assert 'name="review_on" value="' in r.text and 'aria-invalid="true"' in r.text
    assert await count(db, EntrustedGuardianship) == 0

    posted |= {"signed_on": (clock.today() - dt.timedelta(days=5)).isoformat(), "review_on": ""}
    r = await client.post(f"{url}/entrusted", data=posted, follow_redirects=False)
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "委托监护确认书已登记" in page.text and "委托监护" in page.text and "138****8000" in page.text
    async with db.session(write=False) as s:
        child = await s.get(Child, ids["A"])
        assert child is not None and child.guardianship == "entrusted"

    # A temporary placement, whose end needs an assessment that allows going home.
    r = await client.post(
        f"{url}/temporary",
        data={"_csrf_token": token, "institution": "福田区未成年人救助保护中心", "reason": "独居",
              "started_on": clock.today().isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.session(write=False) as s:
        t = (await s.scalars(select(TemporaryGuardianship))).one()
    r = await client.post(
        f"/admin/guardianship/temporary/{t.id}/end",
        data={"_csrf_token": token, "child_id": str(ids["A"]), "ended_on": clock.today().isoformat(),
              "outcome": "returned_home", "assessment_id": ""},
    )
    assert r.status_code == 409 and "监护评估" in r.text and 'id="form-error"' in r.text
    async with db.session(write=False) as s:
        assert (await s.get(TemporaryGuardianship, t.id)).status == "open"  # type: ignore[union-attr]


async def test_the_board_lists_reviews_due_and_open_placements_by_scope(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    today = clock.today()
    async with db.session() as s:
        for child, days in ((ids["A"], 12), (ids["C"], 3)):
            s.add(
                EntrustedGuardianship(
                    child_id=child, person_name="陈秀英", relationship="外祖母", contact_phone="13800138000",
                    signed_on=today - dt.timedelta(days=350), review_on=today + dt.timedelta(days=days),
                    status="active",
                )
            )
        s.add(
            TemporaryGuardianship(
                child_id=ids["A"], institution="福田区未成年人救助保护中心", reason="独居", started_on=today,
                status="open",
            )
        )
    await console_login(client, "admin")
    home = await client.get("/admin/")
    assert 'href="/admin/guardianship"' in home.text
    page = await client.get("/admin/guardianship")
    assert page.status_code == 200
    assert "张小明" in page.text and "王小华" in page.text and "还有 12 天" in page.text
    assert "陈**" in page.text and "13800138000" not in page.text  # the district sees the surname only
    await console_login(client, "supervisor")
    page = await client.get("/admin/guardianship")
    assert "张小明" in page.text and "王小华" not in page.text and "福田区未成年人救助保护中心" in page.text
    await console_login(client, "org")
    assert (await client.get("/admin/guardianship")).status_code == 403
