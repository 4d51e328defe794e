"""An organization's profile, its social workers and volunteer teams, and its admin managing its staff."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace.auth import codes
from marketplace.auth.models import User
from marketplace.resources.models import Organization, SocialWorker, VolunteerTeam
from tests.admin.console import console_login, csrf_of, htmx
from tests.admin.test_accounts import code_in, make_org_admin


async def org_of(db: Any, org_id: int) -> Organization:
    async with db.session(write=False) as s:
        found = await s.get(Organization, org_id)
        assert found is not None
        return found


async def test_org_staff_edits_what_the_api_lets_it_edit(client, world, db) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/org")
    assert page.status_code == 200 and "深圳市福田区启航社会工作服务中心" in page.text
    csrf = csrf_of(page.text)
    code = (await org_of(db, world.orgs[0])).credit_code
    assert code in page.text and 'name="credit_code"' not in page.text  # the district's to change
    form = {
        "_csrf_token": csrf,
        "name": "深圳市福田区启航社会工作服务中心",
        "kind": "social_work_agency",
        "contact_name": "陈主任",
        "contact_phone": "0755-8888 6666",
        "street_ids": [str(world.streets[0]), str(world.streets[1])],
        "address": "福田区福华路 1 号",
        "description": "专注困境儿童个案服务",
    }
    # A bad phone answers in place, nothing changes.
    r = await client.post("/admin/org", data={**form, "contact_phone": "电话"})
    assert r.status_code == 422 and "联系电话：格式不正确或未填写" in r.text
    assert (await org_of(db, world.orgs[0])).contact_name == "李主任"
    # Another organization's name is taken: the service's 409 in place.
    r = await client.post("/admin/org", data={**form, "name": "深圳市福田区阳光公益服务中心"})
    assert r.status_code == 409 and "机构名称已被使用" in r.text
    r = await client.post("/admin/org", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/org?saved=1"
    org = await org_of(db, world.orgs[0])
    assert org.contact_name == "陈主任" and org.address == "福田区福华路 1 号"
    page = await client.get("/admin/org?saved=1")
    assert "机构资料已保存" in page.text and "福田街道、园岭街道" in page.text
    await console_login(client, "fund")
    assert (await client.get("/admin/org")).status_code == 403


async def test_org_staff_registers_its_social_workers_and_volunteer_teams(client, world, db) -> None:
    await console_login(client, "org")
    page = await client.get("/admin/org/people")
    assert page.status_code == 200 and "尚未登记社工" in page.text
    csrf = csrf_of(page.text)
    r = await client.post(
        "/admin/org/workers",
        data={"_csrf_token": csrf, "name": "", "max_caseload": "10"},
    )
    assert r.status_code == 422 and "名称：格式不正确或未填写" in r.text
    r = await client.post(
        "/admin/org/workers",
        data={
            "_csrf_token": csrf,
            "name": "周社工",
            "qualification": "中级社工师",
            "specialties": ["psych_counselling", "bogus"],
            "max_caseload": "10",
        },
    )
    assert r.status_code == 422 and "未知代码" in r.text
    r = await client.post(
        "/admin/org/workers",
        data={
            "_csrf_token": csrf,
            "name": "周社工",
            "qualification": "中级社工师",
            "specialties": ["psych_counselling"],
            "street_ids": [str(world.streets[0])],
            "max_caseload": "10",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = await client.post(
        "/admin/org/teams",
        data={
            "_csrf_token": csrf,
            "name": "启航青年志愿服务队",
            "street_id": str(world.streets[0]),
            "member_count": "25",
            "skills": ["safety_education"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await client.get("/admin/org/people")
    assert "周社工" in page.text and "心理疏导" in page.text and "启航青年志愿服务队" in page.text
    async with db.session(write=False) as s:
        worker = await s.scalar(select(SocialWorker).where(SocialWorker.name == "周社工"))
        team = await s.scalar(select(VolunteerTeam).where(VolunteerTeam.name == "启航青年志愿服务队"))
    assert worker is not None and worker.organization_id == world.orgs[0] and worker.street_ids == [world.streets[0]]
    assert team is not None and team.organization_id == world.orgs[0] and team.member_count == 25

    # Another organization may not take them off the list.
    other_csrf = await console_login(client, "org2")
    assert "周社工" not in (await client.get("/admin/org/people")).text
    r = await client.post(f"/admin/org/workers/{worker.id}/deactivate", headers=htmx(other_csrf))
    assert r.status_code == 403
    csrf = await console_login(client, "org")
    r = await client.post(f"/admin/org/workers/{worker.id}/deactivate", data={"_csrf_token": csrf})
    assert r.status_code == 200 and "周社工" not in r.text
    r = await client.post(f"/admin/org/teams/{team.id}/deactivate", data={"_csrf_token": csrf})
    assert r.status_code == 200 and "启航青年志愿服务队" not in r.text
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(SocialWorker).where(SocialWorker.active)) == 0


async def test_only_the_organization_admin_manages_staff(client, world, db) -> None:
    # A plain staff member: no staff page, no invitation, no reset.
    csrf = await console_login(client, "org")
    assert 'href="/admin/staff"' not in (await client.get("/admin/")).text
    assert (await client.get("/admin/staff")).status_code == 403
    r = await client.post(
        "/admin/staff",
        data={"_csrf_token": csrf, "display_name": "吴小芳", "phone": "13511112222", "username": "wu.xiaofang"},
    )
    assert r.status_code == 403
    r = await client.post(f"/admin/staff/{world.users['org']}/reset-password", headers=htmx(csrf))
    assert r.status_code == 403
    async with db.session(write=False) as s:
        assert await s.scalar(select(User).where(User.username == "wu.xiaofang")) is None

    # The admin invites a colleague and resets their password: a one-time code, their old password ends.
    await make_org_admin(db)
    csrf = await console_login(client, "org")
    r = await client.post(
        "/admin/staff",
        data={"_csrf_token": csrf, "display_name": "吴小芳", "phone": "13511112222", "username": "wu.xiaofang"},
    )
    assert r.status_code == 200
    async with db.session(write=False) as s:
        invited = await s.scalar(select(User).where(User.username == "wu.xiaofang"))
    assert invited is not None
    page = await client.get("/admin/staff")
    assert f"/admin/staff/{invited.id}/reset-password" in page.text
    assert f"/admin/staff/{world.users['org']}/reset-password" not in page.text  # not one's own
    r = await client.post(f"/admin/staff/{invited.id}/reset-password", data={"_csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "已生成重置码" in r.text
    code = code_in(r.text)
    async with db.session(write=False) as s:
        reset = await s.get(User, invited.id)
    assert reset is not None and codes.check_code(reset, code) and reset.password_hash != invited.password_hash
    # Another organization's staff is out of reach.
    r = await client.post(f"/admin/staff/{world.users['org2']}/reset-password", headers=htmx(csrf))
    assert r.status_code == 404
