"""The volunteers console: a director registers a volunteer (the identity number checked as typed; a bad one refused
in place with what was typed, nothing stored), joins them to a team, logs hours at an activity of the community's
children's home, reverses a row, issues a certificate (printable) that the public page verifies; other scopes see
nothing of them, and an organization's staff may not open the register's forms."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace import clock
from marketplace.volunteers.models import Hours, Volunteer
from tests.admin.console import console_login, csrf_of, htmx
from tests.volunteers.support import add_activity, id_of_age
from tests.volunteers.test_api import add_team


async def volunteers(db) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count(Volunteer.id))) or 0)


async def test_register_log_hours_and_certify(client, db, world) -> None:
    s1 = world.streets[0]
    c1 = world.communities[0]
    team = await add_team(db, s1, "福田街道巾帼志愿服务队")
    activity = await add_activity(db, s1, c1, clock.today(), title="周末绘本共读")
    csrf = await console_login(client, "director")
    board = await client.get("/admin/volunteers")
    assert board.status_code == 200 and 'href="/admin/volunteers"' in board.text
    form = await client.get("/admin/volunteers/new")
    assert form.status_code == 200 and "身份证号" in form.text and "监护人书面同意" in form.text
    number = id_of_age(35, "411")
    # The number as typed: short, wrong, good.
    short = await client.post("/admin/volunteers/new/check", data={"id_number": number[:10]}, headers=htmx(csrf))
    assert "10 / 18" in short.text
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    bad = await client.post("/admin/volunteers/new/check", data={"id_number": wrong}, headers=htmx(csrf))
    assert "校验位不符" in bad.text
    good = await client.post("/admin/volunteers/new/check", data={"id_number": number}, headers=htmx(csrf))
    assert "身份证号有效" in good.text and "35岁" in good.text
    posted = {
        "_csrf_token": csrf_of(form.text),
        "name": "周晓敏",
        "id_number": wrong,
        "phone": "13700001111",
        "skills": ["tutoring", "reading"],
        "availability": "周六上午",
    }
    refused = await client.post("/admin/volunteers/new", data=posted, follow_redirects=False)
    assert refused.status_code == 422 and "校验位不符" in refused.text
    assert (
        'value="周晓敏"' in refused.text
        and 'value="周六上午"' in refused.text
        and 'aria-invalid="true"' in refused.text
    )
    assert await volunteers(db) == 0
    young = await client.post(
        "/admin/volunteers/new", data={**posted, "id_number": id_of_age(16, "413")}, follow_redirects=False
    )
    assert young.status_code == 422 and "监护人" in young.text and await volunteers(db) == 0
    r = await client.post("/admin/volunteers/new", data={**posted, "id_number": number}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page_url = r.headers["location"]
    page = await client.get(page_url)
    assert page.status_code == 200 and "已登记志愿者" in page.text and "周晓敏" in page.text
    assert number not in page.text and "137****1111" in page.text
    vid = int(page_url.split("/")[-1].split("?")[0])
    again = await client.post("/admin/volunteers/new", data={**posted, "id_number": number}, follow_redirects=False)
    assert again.status_code == 409 and "已登记为志愿者" in again.text and await volunteers(db) == 1
    token = csrf_of(page.text)
    r = await client.post(
        f"/admin/volunteers/{vid}/memberships",
        data={"_csrf_token": token, "team_id": str(team)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    # Hours: bad input refused in place, then 2 h at the activity.
    r = await client.post(
        f"/admin/volunteers/{vid}/hours",
        data={"_csrf_token": token, "what": "activity", "activity_id": str(activity), "hours": "25"},
        follow_redirects=False,
    )
    assert r.status_code in (400, 422) and 'value="25"' in r.text
    r = await client.post(
        f"/admin/volunteers/{vid}/hours",
        data={"_csrf_token": token, "what": "activity", "activity_id": str(activity), "hours": "abc"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "服务时长" in r.text
    for odd in ("inf", "nan", "1e400", "-2"):
        r = await client.post(
            f"/admin/volunteers/{vid}/hours",
            data={"_csrf_token": token, "what": "activity", "activity_id": str(activity), "hours": odd},
            follow_redirects=False,
        )
        assert r.status_code in (400, 422), (odd, r.status_code)
    for hours in ("2", "1"):
        r = await client.post(
            f"/admin/volunteers/{vid}/hours",
            data={
                "_csrf_token": token,
                "what": "activity",
                "activity_id": str(activity),
                "hours": hours,
                "task": "带读",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    async with db.session(write=False) as s:
        rows = (await s.scalars(select(Hours).where(Hours.volunteer_id == vid).order_by(Hours.id))).all()
    assert [h.minutes for h in rows] == [120, 60]
    r = await client.post(
        f"/admin/volunteers/hours/{rows[1].id}/reverse", data={"_csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await client.get(f"/admin/volunteers/{vid}")
    assert "周末绘本共读" in page.text and "已冲销" in page.text and "合计 2.0 小时" in page.text
    today = clock.today()
    r = await client.post(
        f"/admin/volunteers/{vid}/certificates",
        data={"_csrf_token": token, "period_from": f"{today.year}-01-01", "period_to": today.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "/admin/volunteers/certificates/" in r.headers["location"]
    cert = await client.get(r.headers["location"])
    assert cert.status_code == 200 and "志愿服务时长证明" in cert.text and "2.0 小时" in cert.text
    link = cert.text.split('id="verify-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    board = await client.get("/admin/volunteers")
    assert "周晓敏" in board.text and "totals-streets" in board.text
    team_page = await client.get(f"/admin/volunteers/teams/{team}")
    assert "周晓敏" in team_page.text
    # The public page, without a login.
    await client.post("/admin/logout", data={"_csrf_token": token})
    client.cookies.clear()
    public = await client.get(link)
    assert public.status_code == 200 and "有效" in public.text and "周**" in public.text and "2.0 小时" in public.text
    assert "13700001111" not in public.text
    bad_code = await client.get(link[:-1] + ("0" if link[-1] != "0" else "1"))
    assert bad_code.status_code == 200 and "无效" in bad_code.text
    # Other scopes: another street's director sees nothing; an organization may not open the forms.
    await console_login(client, "director3")
    assert "周晓敏" not in (await client.get("/admin/volunteers")).text
    assert (await client.get(f"/admin/volunteers/{vid}")).status_code == 404
    await console_login(client, "org")
    assert (await client.get("/admin/volunteers/new")).status_code == 403
    assert (await client.get(f"/admin/volunteers/{vid}")).status_code == 404
