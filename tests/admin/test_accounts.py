"""The console's account pages through HTTP with a real session and CSRF: district accounts, handover, the review
of organization applications, an organization admin's staff page and the public application pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.accounts.models import OrganizationApplication
from marketplace.auth import codes
from marketplace.auth.models import LoginFailure, User
from marketplace.cases.models import Child
from marketplace.resources.models import Organization
from tests.admin.console import console_login, csrf_of, htmx
from tests.reports.data import build_cases
from tests.support.world import valid_code

CODE_RE = re.compile(r"data-code>([A-Z0-9-]+)<")
REFERENCE_RE = re.compile(r"data-reference>([^<]+)<")
NUMBER_RE = re.compile(r"data-number>(\d+)<")


def code_in(html: str) -> str:
    found = CODE_RE.search(html)
    assert found, "no one-time code on the page"
    return found.group(1)


async def user_named(db: Any, username: str) -> User | None:
    async with db.session() as s:
        return await s.scalar(select(User).where(User.username == username))


async def user_count(db: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(User)) or 0)


async def accounts_csrf(client: Any) -> str:
    return csrf_of((await client.get("/admin/accounts")).text)


def new_director(csrf: str, world: Any, **extra: str) -> dict[str, str]:
    return {
        "_csrf_token": csrf,
        "display_name": "陈晓梅",
        "phone": "13912345678",
        "username": "chen.xiaomei",
        "role": "child_director",
        "community_id": str(world.communities[0]),
        **extra,
    }


# ---------------------------------------------------------------- who sees what


async def test_account_pages_for_district_admins_and_auditors_only(client, world) -> None:
    for user in ("admin", "auditor"):
        await console_login(client, user)
        home = (await client.get("/admin/")).text
        assert "账号管理" in home and "机构入驻申请" in home
        page = await client.get("/admin/accounts")
        assert page.status_code == 200, page.text
        # Names, role labels and the scope by name.
        assert "supervisor2" in page.text and "儿童督导员" in page.text and "园岭街道" in page.text
        assert "福田街道 · 福山社区" in page.text and "深圳市福田区启航社会工作服务中心" in page.text
        # Only the district admin gets the create form and the row actions.
        assert ('action="/admin/accounts#create"' in page.text) == (user == "admin")
        assert (f"/admin/accounts/{world.users['director']}/disable" in page.text) == (user == "admin")
        detail = await client.get(f"/admin/accounts/{world.users['director']}")
        assert detail.status_code == 200 and "最近的登录失败" in detail.text
        assert ("reset-password" in detail.text) == (user == "admin")
        assert (await client.get("/admin/applications")).status_code == 200
    for user in ("supervisor", "director", "org", "fund", "procurement"):
        await console_login(client, user)
        assert "账号管理" not in (await client.get("/admin/")).text
        for path in ("/admin/accounts", f"/admin/accounts/{world.users['admin']}", "/admin/applications"):
            assert (await client.get(path)).status_code == 403, (user, path)
        # Not an organization's admin: no staff page either.
        assert (await client.get("/admin/staff")).status_code == 403, user
    client.cookies.clear()
    for path in ("/admin/accounts", "/admin/applications", "/admin/staff", "/admin/accounts/handover"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login"), path


async def test_auditors_cannot_change_accounts(client, world, db) -> None:
    csrf = await console_login(client, "auditor")
    target = world.users["director"]
    r = await client.post(f"/admin/accounts/{target}/disable", data={"_csrf_token": csrf})
    assert r.status_code == 403
    r = await client.post("/admin/accounts", data=new_director(csrf, world))
    assert r.status_code == 403
    r = await client.post(f"/admin/accounts/{target}/reset-password", data={"_csrf_token": csrf})
    assert r.status_code == 403
    user = await user_named(db, "director")
    assert user is not None and user.is_active and user.one_time_code_hash is None
    assert await user_named(db, "chen.xiaomei") is None


async def test_search_filter_and_pages(client, world) -> None:
    await console_login(client, "admin")
    found = await client.get("/admin/accounts", params={"q": "director", "role": "child_director"})
    assert found.status_code == 200
    assert "director3" in found.text and "supervisor2" not in found.text
    assert "共 3 个账号" in found.text
    none = await client.get("/admin/accounts", params={"active": "0"})
    assert "没有符合条件的账号" in none.text
    assert (await client.get("/admin/accounts", params={"role": "nobody"})).status_code == 422


async def test_the_pager_keeps_the_filters(client, world, db) -> None:
    async with db.session() as s:
        for n in range(25):
            s.add(
                User(
                    username=f"sup-extra-{n:02d}",
                    display_name=f"督导{n:02d}",
                    password_hash="!",
                    role="child_supervisor",
                    street_id=world.streets[1],
                )
            )
    await console_login(client, "admin")
    first = await client.get("/admin/accounts", params={"role": "child_supervisor"})
    assert "共 27 个账号" in first.text and "第 1 / 2 页" in first.text
    assert 'href="/admin/accounts?role=child_supervisor&amp;page=2"' in first.text
    second = await client.get("/admin/accounts", params={"role": "child_supervisor", "page": 2})
    assert "第 2 / 2 页" in second.text and "sup-extra-24" in second.text and "sup-extra-00" not in second.text
    assert "儿童主任</td>" not in second.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


# ---------------------------------------------------------------- create, edit, disable, reset


async def test_admin_creates_an_account_and_sees_its_code_once(client, world, db) -> None:
    await console_login(client, "admin")
    csrf = await accounts_csrf(client)
    r = await client.post("/admin/accounts", data=new_director(csrf, world, street_id=str(world.streets[1])))
    assert r.status_code == 200, r.text
    code = code_in(r.text)
    assert "只显示这一次" in r.text and "/admin/activate" in r.text and "chen.xiaomei" in r.text
    user = await user_named(db, "chen.xiaomei")
    assert user is not None
    # The director's street follows from its community, whatever the street selector still held.
    assert (user.role, user.community_id, user.street_id) == ("child_director", world.communities[0], world.streets[0])
    assert user.must_change_password and user.one_time_code_purpose == "activate"
    assert user.one_time_code_hash and code not in user.one_time_code_hash and codes.check_code(user, code)
    # Nowhere else: not on the list, not on the account's page.
    listing = (await client.get("/admin/accounts")).text
    detail = (await client.get(f"/admin/accounts/{user.id}")).text
    assert "陈晓梅" in listing and "待设置密码" in listing
    assert code not in listing and code not in detail


async def test_a_refused_create_form_comes_back_with_a_message_and_creates_nothing(client, world, db) -> None:
    await console_login(client, "admin")
    csrf = await accounts_csrf(client)
    before = await user_count(db)
    cases = [
        ({"phone": "12345"}, 422, "手机号"),
        ({"username": "x"}, 422, "用户名"),
        ({"community_id": ""}, 422, "社区"),
        ({"role": "emperor"}, 422, "角色"),
        ({"username": "director2"}, 409, "已被使用"),
        ({"role": "org_staff", "organization_id": "999999"}, 422, "机构"),
    ]
    for change, status, message in cases:
        r = await client.post("/admin/accounts", data=new_director(csrf, world, **change))
        assert r.status_code == status, (change, r.text)
        assert message in r.text and 'class="msg msg-error"' in r.text, change
        # The form is shown again with what was typed.
        assert 'value="陈晓梅"' in r.text and not CODE_RE.search(r.text)
    assert await user_count(db) == before
    # Without the CSRF token nothing happens either.
    r = await client.post("/admin/accounts", data={**new_director("forged", world)})
    assert r.status_code == 403 and await user_named(db, "chen.xiaomei") is None


async def test_admin_edits_an_account(client, world, db) -> None:
    await console_login(client, "admin")
    target = world.users["director2"]
    csrf = csrf_of((await client.get(f"/admin/accounts/{target}")).text)
    form = {
        "_csrf_token": csrf,
        "display_name": "周建国",
        "phone": "13700001111",
        "role": "child_supervisor",
        "street_id": str(world.streets[1]),
        "community_id": str(world.communities[1]),
    }
    r = await client.post(f"/admin/accounts/{target}", data=form)
    assert r.status_code == 200, r.text
    assert "已保存" in r.text and "周建国" in r.text and "园岭街道" in r.text
    user = await user_named(db, "director2")
    assert user is not None
    assert (user.display_name, user.phone, user.role) == ("周建国", "13700001111", "child_supervisor")
    assert (user.street_id, user.community_id) == (world.streets[1], None)
    # A bad phone number: the form again, with the message and what was typed; the account unchanged.
    r = await client.post(f"/admin/accounts/{target}", data={**form, "display_name": "周建华", "phone": "555"})
    assert r.status_code == 422 and "手机号" in r.text and 'value="周建华"' in r.text
    user = await user_named(db, "director2")
    assert user is not None and user.display_name == "周建国"


async def test_disable_and_enable_with_htmx_rows_and_plain_forms(client, world, db) -> None:
    await console_login(client, "admin")
    csrf = await accounts_csrf(client)
    target = world.users["supervisor2"]
    page = (await client.get("/admin/accounts")).text
    assert "data-confirm=" in page and "确定停用账号" in page
    r = await client.post(f"/admin/accounts/{target}/disable", headers=htmx("forged"))
    assert r.status_code == 403
    user = await user_named(db, "supervisor2")
    assert user is not None and user.is_active
    r = await client.post(f"/admin/accounts/{target}/disable", headers=htmx(csrf))
    assert r.status_code == 200
    assert f'id="account-{target}"' in r.text and "已停用" in r.text and 'hx-swap-oob="innerHTML"' in r.text
    assert f"/admin/accounts/{target}/enable" in r.text
    user = await user_named(db, "supervisor2")
    assert user is not None and not user.is_active
    # Without JavaScript: a plain post, back to the account's page.
    r = await client.post(
        f"/admin/accounts/{target}/enable",
        data={"_csrf_token": csrf, "back": f"/admin/accounts/{target}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/accounts/{target}"
    user = await user_named(db, "supervisor2")
    assert user is not None and user.is_active
    # An open redirect is not on offer.
    r = await client.post(
        f"/admin/accounts/{target}/enable", data={"_csrf_token": csrf, "back": "//evil.example"}, follow_redirects=False
    )
    assert r.headers["location"] == "/admin/accounts"
    # Disabling oneself is refused with the console's message.
    r = await client.post(f"/admin/accounts/{world.users['admin']}/disable", headers=htmx(csrf))
    assert r.status_code == 409 and "不能停用自己" in r.text


async def test_reset_shows_a_code_once_and_ends_the_old_password(client, world, db) -> None:
    await console_login(client, "admin")
    target = world.users["org2"]
    csrf = csrf_of((await client.get(f"/admin/accounts/{target}")).text)
    r = await client.post(f"/admin/accounts/{target}/reset-password", data={"_csrf_token": csrf})
    assert r.status_code == 200, r.text
    code = code_in(r.text)
    assert "重置码" in r.text and "原密码已失效" in r.text
    user = await user_named(db, "org2")
    assert user is not None and user.one_time_code_purpose == "reset" and codes.check_code(user, code)
    assert code not in (await client.get(f"/admin/accounts/{target}")).text
    # The old password no longer opens the console.
    client.cookies.clear()
    login = await client.get("/admin/login")
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(login.text), "username": "org2", "password": "test-password", "next": "/admin/"},
        follow_redirects=False,
    )
    assert r.status_code != 303 or r.headers["location"] != "/admin/"


async def test_the_account_page_lists_recent_login_failures(client, world, db) -> None:
    now = clock.now()
    async with db.session() as s:
        for minutes, address in ((5, "203.0.113.7"), (30, "198.51.100.23")):
            s.add(
                LoginFailure(
                    username="director3", address=address, reason="password", at=now - dt.timedelta(minutes=minutes)
                )
            )
        s.add(LoginFailure(username="director2", address="192.0.2.99", reason="password", at=now))
    await console_login(client, "auditor")
    page = await client.get(f"/admin/accounts/{world.users['director3']}")
    assert page.status_code == 200
    assert "203.0.113.7" in page.text and "198.51.100.23" in page.text and "192.0.2.99" not in page.text
    assert "2 次" in page.text
    listing = await client.get("/admin/accounts", params={"q": "director3"})
    assert 'badge badge-alert">2<' in listing.text


# ---------------------------------------------------------------- handover


async def test_handover_shows_what_moves_and_hands_over(client, world, db) -> None:
    async with db.session() as s:
        await build_cases(s, world)
    async with db.session() as s:
        children = await s.scalar(
            select(func.count())
            .select_from(Child)
            .where(Child.community_id == world.communities[0], Child.status == "active")
        )
    assert children
    await console_login(client, "admin")
    csrf = await accounts_csrf(client)
    created = await client.post(
        "/admin/accounts",
        data=new_director(csrf, world, username="new.director", display_name="接任主任"),
    )
    assert created.status_code == 200, created.text
    new = await user_named(db, "new.director")
    old_id = world.users["director"]
    assert new is not None
    page = await client.get("/admin/accounts/handover", params={"from_id": old_id})
    assert page.status_code == 200 and "接任主任" in page.text
    # Directors of other communities cannot take this one.
    assert "director2（director2 ·" not in page.text and "接任主任（new.director ·" in page.text
    page = await client.get("/admin/accounts/handover", params={"from_id": old_id, "to_id": new.id})
    assert "将要移交" in page.text and "福田街道 · 福山社区" in page.text
    assert f"在册儿童 <strong>{children}</strong> 名" in page.text and "将被<strong>停用</strong>" in page.text
    # A refused handover (to itself) changes nothing.
    r = await client.post(
        "/admin/accounts/handover", data={"_csrf_token": csrf, "from_id": str(old_id), "to_id": str(old_id)}
    )
    assert r.status_code == 422 and "msg-error" in r.text
    old = await user_named(db, "director")
    assert old is not None and old.is_active
    r = await client.post(
        "/admin/accounts/handover", data={"_csrf_token": csrf, "from_id": str(old_id), "to_id": str(new.id)}
    )
    assert r.status_code == 200, r.text
    assert "交接完成" in r.text and "接任主任" in r.text and "已停用" in r.text
    old = await user_named(db, "director")
    assert old is not None and not old.is_active
    # Only the district admin hands over.
    csrf = await console_login(client, "auditor")
    assert (await client.get("/admin/accounts/handover")).status_code == 403
    r = await client.post(
        "/admin/accounts/handover", data={"_csrf_token": csrf, "from_id": str(new.id), "to_id": str(old_id)}
    )
    assert r.status_code == 403


# ---------------------------------------------------------------- applications


def application_form(csrf: str, world: Any, **extra: Any) -> dict[str, Any]:
    return {
        "_csrf_token": csrf,
        "name": "深圳市福田区春芽儿童服务中心",
        "kind": "social_work_agency",
        "credit_code": valid_code(50),
        "legal_representative": "林春芽",
        "contact_name": "黄晓燕",
        "contact_phone": "13688886666",
        "contact_email": "contact@chunya.example",
        "address": "福田区福华路1号",
        "street_ids": [str(world.streets[0]), str(world.streets[1])],
        "qualifications": "民政局登记的社会服务机构，持证社工8名，开展儿童个案服务五年。",
        **extra,
    }


async def apply(client: Any, world: Any, **extra: Any) -> tuple[int, str]:
    client.cookies.clear()
    page = await client.get("/admin/apply")
    assert page.status_code == 200
    r = await client.post("/admin/apply", data=application_form(csrf_of(page.text), world, **extra))
    assert r.status_code == 200, r.text
    number, reference = NUMBER_RE.search(r.text), REFERENCE_RE.search(r.text)
    assert number and reference
    return int(number.group(1)), reference.group(1)


async def test_login_page_links_to_the_public_pages(client) -> None:
    page = (await client.get("/admin/login")).text
    assert 'href="/admin/apply">社会组织入驻申请' in page and 'href="/admin/activate">激活账号' in page


async def test_an_organization_applies_without_logging_in(client, world, db) -> None:
    client.cookies.clear()
    page = await client.get("/admin/apply")
    assert page.status_code == 200
    assert "福田街道" in page.text and 'name="street_ids"' in page.text and "退出登录" not in page.text
    number, reference = await apply(client, world)
    async with db.session() as s:
        stored = await s.get(OrganizationApplication, number)
        assert stored is not None and stored.status == "submitted"
        assert reference not in stored.reference_hash
        assert sorted(stored.street_ids) == sorted(world.streets)
    # The status page, by number and reference (posted, never in a URL).
    status_page = await client.get("/admin/apply/status", params={"number": number})
    csrf = csrf_of(status_page.text)
    r = await client.post("/admin/apply/status", data={"_csrf_token": csrf, "number": number, "reference": reference})
    assert r.status_code == 200 and "待审核" in r.text and "春芽" in r.text
    r = await client.post("/admin/apply/status", data={"_csrf_token": csrf, "number": number, "reference": "nope"})
    assert r.status_code == 404 and "查询码不正确" in r.text and "春芽" not in r.text


async def test_a_refused_application_comes_back_with_a_message(client, world, db) -> None:
    client.cookies.clear()
    csrf = csrf_of((await client.get("/admin/apply")).text)
    for change, message in (
        ({"credit_code": "123"}, "统一社会信用代码"),
        ({"contact_phone": "12"}, "手机号"),
        ({"street_ids": []}, "服务街道"),
        ({"qualifications": "短"}, "资质说明"),
        ({"credit_code": valid_code(1)}, "已入库"),
    ):
        r = await client.post("/admin/apply", data=application_form(csrf, world, **change))
        assert r.status_code in (409, 422), (change, r.text)
        assert message in r.text and "msg-error" in r.text, change
        assert 'value="林春芽"' in r.text and not REFERENCE_RE.search(r.text)
    async with db.session() as s:
        assert not await s.scalar(select(func.count()).select_from(OrganizationApplication))
    # The checked streets stay checked on the form shown again.
    r = await client.post("/admin/apply", data=application_form(csrf, world, contact_phone="12"))
    assert r.text.count("checked") == 2


async def test_district_asks_for_more_the_applicant_supplements_and_the_district_approves(client, world, db) -> None:
    number, reference = await apply(client, world)
    csrf = await console_login(client, "admin")
    listing = await client.get("/admin/applications")
    assert listing.status_code == 200 and "春芽" in listing.text and "福田街道、园岭街道" in listing.text
    detail = await client.get(f"/admin/applications/{number}")
    assert "林春芽" in detail.text and "持证社工8名" in detail.text and "福田街道、园岭街道" in detail.text
    # No reason: the page again with a message, the application unchanged.
    r = await client.post(f"/admin/applications/{number}/more", data={"_csrf_token": csrf, "reason": "  "})
    assert r.status_code == 422 and "请填写原因" in r.text
    async with db.session() as s:
        stored = await s.get(OrganizationApplication, number)
        assert stored is not None and stored.status == "submitted"
    r = await client.post(
        f"/admin/applications/{number}/more", data={"_csrf_token": csrf, "reason": "请补充社工证书编号"}
    )
    assert r.status_code == 200 and "已请申请人补充材料" in r.text

    # The applicant reads the note and supplements.
    client.cookies.clear()
    csrf_public = csrf_of((await client.get("/admin/apply/status")).text)
    r = await client.post(
        "/admin/apply/status", data={"_csrf_token": csrf_public, "number": number, "reference": reference}
    )
    assert "待补充材料" in r.text and "请补充社工证书编号" in r.text and "/admin/apply/supplement" in r.text
    supplement = application_form(csrf_public, world, qualifications="持证社工8名，证书编号 S-2021-0088 等，详见附件。")
    supplement.update(number=str(number), reference=reference)
    bad = await client.post("/admin/apply/supplement", data={**supplement, "contact_phone": "1"})
    assert bad.status_code == 422 and "手机号" in bad.text and "S-2021-0088" in bad.text
    r = await client.post("/admin/apply/supplement", data=supplement)
    assert r.status_code == 200 and "补充材料已提交" in r.text and "待审核" in r.text

    # The auditor reads it but has no review buttons and cannot approve.
    auditor_csrf = await console_login(client, "auditor")
    page = await client.get(f"/admin/applications/{number}")
    assert page.status_code == 200 and "S-2021-0088" in page.text and "/approve" not in page.text
    r = await client.post(f"/admin/applications/{number}/approve", data={"_csrf_token": auditor_csrf})
    assert r.status_code == 403

    csrf = await console_login(client, "admin")
    r = await client.post(f"/admin/applications/{number}/approve", data={"_csrf_token": csrf})
    assert r.status_code == 200, r.text
    code = code_in(r.text)
    async with db.session() as s:
        stored = await s.get(OrganizationApplication, number)
        assert stored is not None and stored.status == "approved" and stored.admin_user_id
        org = await s.get(Organization, stored.organization_id)
        admin = await s.get(User, stored.admin_user_id)
        assert org is not None and org.status == "approved"
        assert admin is not None and admin.is_org_admin and admin.organization_id == org.id
        assert codes.check_code(admin, code)
    assert admin.username in r.text and "黄晓燕" in r.text
    assert code not in (await client.get(f"/admin/applications/{number}")).text
    # Approved: approving again is refused with a message, nothing changes.
    again = await client.post(f"/admin/applications/{number}/approve", data={"_csrf_token": csrf})
    assert again.status_code in (409, 422) and not CODE_RE.search(again.text)


async def test_district_rejects_with_a_reason(client, world, db) -> None:
    number, reference = await apply(client, world)
    csrf = await console_login(client, "admin")
    r = await client.post(
        f"/admin/applications/{number}/reject", data={"_csrf_token": csrf, "reason": "服务范围不在本区"}
    )
    assert r.status_code == 200 and "未通过" in r.text
    rejected = await client.get("/admin/applications", params={"status": "rejected"})
    assert "春芽" in rejected.text
    client.cookies.clear()
    csrf_public = csrf_of((await client.get("/admin/apply/status")).text)
    r = await client.post(
        "/admin/apply/status", data={"_csrf_token": csrf_public, "number": number, "reference": reference}
    )
    assert "未通过" in r.text and "服务范围不在本区" in r.text and "/admin/apply/supplement" not in r.text


# ---------------------------------------------------------------- an organization's own staff


async def make_org_admin(db: Any, username: str = "org") -> None:
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.username == username))
        assert user is not None
        user.is_org_admin = True


async def test_an_organization_admin_invites_and_disables_its_staff(client, world, db) -> None:
    await make_org_admin(db)
    csrf = await console_login(client, "org")
    assert "本机构人员" in (await client.get("/admin/")).text
    page = await client.get("/admin/staff")
    assert page.status_code == 200, page.text
    assert ">org<" in page.text and "org2" not in page.text
    r = await client.post(
        "/admin/staff",
        data={"_csrf_token": csrf, "display_name": "吴小芳", "phone": "13511112222", "username": "wu.xiaofang"},
    )
    assert r.status_code == 200, r.text
    code = code_in(r.text)
    invited = await user_named(db, "wu.xiaofang")
    assert invited is not None and invited.role == "org_staff" and invited.organization_id == world.orgs[0]
    assert not invited.is_org_admin and codes.check_code(invited, code)
    assert code not in (await client.get("/admin/staff")).text
    # A bad form: the message, nothing created.
    before = await user_count(db)
    r = await client.post(
        "/admin/staff", data={"_csrf_token": csrf, "display_name": "郑", "phone": "1", "username": "zheng"}
    )
    assert r.status_code == 422 and "手机号" in r.text and await user_count(db) == before
    r = await client.post(f"/admin/staff/{invited.id}/disable", headers=htmx(csrf))
    assert r.status_code == 200 and "已停用" in r.text
    invited = await user_named(db, "wu.xiaofang")
    assert invited is not None and not invited.is_active
    r = await client.post(f"/admin/staff/{invited.id}/enable", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/staff"
    # Another organization's staff is out of reach.
    r = await client.post(f"/admin/staff/{world.users['org2']}/disable", headers=htmx(csrf))
    assert r.status_code == 404
    other = await user_named(db, "org2")
    assert other is not None and other.is_active
