"""Case conferences in the console: the supervisor convenes for a child from the child's page with the school and the
police station, records the minutes and the decisions; the director finds hers under "my decisions" and marks it done;
a refused form comes back in place with the Chinese message and what was typed, nothing changed; scope as the API."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select, update

from marketplace import clock
from marketplace.conferences.models import Conference, Decision
from marketplace.referrals.models import Referral
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child, add_need, add_referral


async def seed(db: Any, world: Any, settings: Any) -> dict[str, int]:
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    async with db.session() as s:
        child = await add_child(s, settings, c1, s1, name="张小明", seq="991")
        other = await add_child(s, settings, c3, s2, name="王小华", seq="995")
        need = await add_need(s, child, "psych_counselling")
        await add_referral(s, need, world.services[0], world.orgs[0], status="in_service")
        return {"child": child.id, "other": other.id}


def _decision_li(html: str, decision_id: int) -> str:
    found = re.search(rf'<li id="decision-{decision_id}".*?</li>', html, re.S)
    assert found, f"decision {decision_id} not on the page"
    return found.group(0)


async def _convene(client: Any, world: Any, ids: dict[str, int]) -> int:
    page = await client.get(f"/admin/conferences/new?child={ids['child']}")
    assert page.status_code == 200, page.text
    assert "召集个案会商" in page.text and f'value="{world.users["org"]}"' in page.text  # serving the child
    r = await client.post(
        f"/admin/children/{ids['child']}/conferences",
        data={
            "_csrf_token": csrf_of(page.text),
            "topic": "孩子多次缺课，研究就学与监护支持",
            "date": (clock.today() + dt.timedelta(days=1)).isoformat(),
            "time": "15:00",
            "place": "社区会议室",
            "participant_ids": [str(world.users["supervisor"]), str(world.users["director"]), str(world.users["org"])],
            "party0_kind": "school",
            "party0_organisation": "福山小学",
            "party0_name": "陈老师",
            "party1_kind": "police",
            "party1_organisation": "福田派出所",
            "party1_name": "刘警官",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    found = re.match(r"/admin/conferences/(\d+)\?done=convened", r.headers["location"])
    assert found, r.headers["location"]
    return int(found.group(1))


async def test_convene_hold_and_mark_done_in_the_console(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "supervisor")
    child_page = await client.get(f"/admin/children/{ids['child']}")
    assert child_page.status_code == 200 and f'href="/admin/conferences/new?child={ids["child"]}"' in child_page.text
    cid = await _convene(client, world, ids)
    page = await client.get(f"/admin/conferences/{cid}?done=convened")
    assert "会商已召集" in page.text and "福田派出所" in page.text and "记录会商召开" in page.text
    police = re.search(r'<option value="(p:\d+)"[^>]*>派出所', page.text)
    assert police
    due = (clock.today() + dt.timedelta(days=7)).isoformat()
    form = {
        "_csrf_token": csrf_of(page.text),
        "minutes": "各方通报情况，商定分工。",
        "d0_text": "入户核实监护情况",
        "d0_owner": f"u:{world.users['director']}",
        "d0_due_on": due,
        "d1_text": "派出所联系在外务工的父亲",
        "d1_owner": police.group(1),
        "d1_due_on": due,
    }
    # A decision owned by an outside party needs someone inside to follow it up: refused in place, nothing saved.
    refused = await client.post(f"/admin/conferences/{cid}/held", data=form, follow_redirects=False)
    assert refused.status_code == 422, refused.text
    assert "内部参会人员跟进" in refused.text and "各方通报情况，商定分工。" in refused.text
    assert 'aria-invalid="true"' in refused.text
    async with db.session(write=False) as s:
        c = await s.get(Conference, cid)
        assert c is not None and c.status == "planned" and c.minutes == ""
        assert await s.scalar(select(func.count()).select_from(Decision)) == 0
    form["d1_follow_up_by"] = str(world.users["supervisor"])
    r = await client.post(f"/admin/conferences/{cid}/held", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "会商纪要" in page.text and "入户核实监护情况" in page.text and "跟进：supervisor" in page.text

    # The police station's decision: its due date moved, with the reason kept on the page.
    async with db.session(write=False) as s:
        police_decision = await s.scalar(select(Decision.id).where(Decision.owner_party_id.is_not(None)))
    later = (clock.today() + dt.timedelta(days=14)).isoformat()
    no_reason = await client.post(
        f"/admin/conferences/decisions/{police_decision}/revise",
        data={"_csrf_token": csrf_of(page.text), f"revise_due_on_{police_decision}": later},
        follow_redirects=False,
    )
    assert no_reason.status_code == 422 and later in no_reason.text
    r = await client.post(
        f"/admin/conferences/decisions/{police_decision}/revise",
        data={
            "_csrf_token": csrf_of(page.text),
            f"revise_due_on_{police_decision}": later,
            f"revise_reason_{police_decision}": "父亲春节前才能联系上",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert f"→ {later}" in _decision_li(page.text, police_decision) and "父亲春节前才能联系上" in page.text

    # The director: "my decisions", marked done there; the timeline tells it.
    await console_login(client, "director")
    told = await client.get("/admin/notifications")
    assert "会商决定交办" in told.text
    note = re.search(r'action="/admin/notifications/(\d+)/read"', told.text)
    assert note
    opened = await client.post(
        f"/admin/notifications/{note.group(1)}/read", data={"_csrf_token": csrf_of(told.text)}, follow_redirects=False
    )
    assert opened.status_code == 303 and opened.headers["location"] == f"/admin/conferences/{cid}"
    mine = await client.get("/admin/conferences")
    assert mine.status_code == 200 and 'href="/admin/conferences"' in mine.text
    async with db.session(write=False) as s:
        did = await s.scalar(select(Decision.id).where(Decision.responsible_id == world.users["director"]))
    assert did is not None and "入户核实监护情况" in _decision_li(mine.text, did)
    empty = await client.post(
        f"/admin/conferences/decisions/{did}/done",
        data={"_csrf_token": csrf_of(mine.text), f"note_{did}": "  ", "back": "list"},
        follow_redirects=False,
    )
    assert empty.status_code == 422 and "请检查" in empty.text
    async with db.session(write=False) as s:
        assert (await s.get(Decision, did)).status == "open"  # type: ignore[union-attr]
    r = await client.post(
        f"/admin/conferences/decisions/{did}/done",
        data={"_csrf_token": csrf_of(mine.text), f"note_{did}": "已入户，祖母照料", "back": "list"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/conferences?done=done")
    page = await client.get(f"/admin/conferences/{cid}")
    assert "已入户，祖母照料" in _decision_li(page.text, did)
    child_page = await client.get(f"/admin/children/{ids['child']}")
    assert "会商决定已落实" in child_page.text and 'id="conferences"' in child_page.text


async def test_scope_in_the_console(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "supervisor")
    cid = await _convene(client, world, ids)
    # Another street's supervisor and a director of another community: not found; cannot convene for the child.
    for who in ("supervisor2", "director3"):
        await console_login(client, who)
        assert (await client.get(f"/admin/conferences/{cid}")).status_code == 404
        assert (await client.get(f"/admin/conferences/new?child={ids['child']}")).status_code == 404
        listed = await client.get("/admin/conferences")
        assert f'id="conference-{cid}"' not in listed.text
    # The organization's participant: the topic and the date, no participants, no child's name.
    await console_login(client, "org")
    page = await client.get(f"/admin/conferences/{cid}")
    assert page.status_code == 200 and "孩子多次缺课" in page.text
    assert "张小明" not in page.text and "福田派出所" not in page.text and "记录会商召开" not in page.text
    # The auditor reads, and changes nothing.
    await console_login(client, "auditor")
    page = await client.get(f"/admin/conferences/{cid}")
    assert page.status_code == 200 and "张小明" in page.text and "记录会商召开" not in page.text
    r = await client.post(
        f"/admin/conferences/{cid}/cancel", data={"_csrf_token": csrf_of(page.text), "reason": "x"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403
    async with db.session(write=False) as s:
        assert (await s.get(Conference, cid)).status == "planned"  # type: ignore[union-attr]


async def test_convene_form_refusals_keep_what_was_typed(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    async with db.session() as s:
        await s.execute(update(Referral).values(status="declined"))  # the organization no longer serves the child
    await console_login(client, "director")
    page = await client.get(f"/admin/conferences/new?child={ids['child']}")
    assert f'value="{world.users["org"]}"' not in page.text  # not offered
    base = {"_csrf_token": csrf_of(page.text), "topic": "研究照料安排", "place": "社区会议室"}
    cases = [
        ({**base, "date": ""}, "日期"),
        ({**base, "date": (clock.today() + dt.timedelta(days=900)).isoformat()}, "一年之内"),
        ({**base, "date": clock.today().isoformat(), "participant_ids": [str(world.users["org"])]}, "只能邀请"),
        ({**base, "date": clock.today().isoformat(), "party0_organisation": "福山小学"}, "姓名"),
    ]
    for data, words in cases:
        r = await client.post(f"/admin/children/{ids['child']}/conferences", data=data, follow_redirects=False)
        assert r.status_code in (400, 422), r.text
        assert words in r.text and "研究照料安排" in r.text and "社区会议室" in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Conference)) == 0
