"""Accounts in a real browser on a phone: an organization applies, the district approves and reads the code, the
organization's admin activates with it; the district creates a child director and reads its code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console import login, logout
from tests.browser.viewports import PHONE
from tests.support.world import PASSWORD, valid_code

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Chunya-Kids-2026-Futian!"


def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling on the phone."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def open_menu(page: Any, label: str) -> None:
    # On a phone the navigation folds behind the 菜单 button.
    page.click("label.nav-button")
    page.click(f"nav >> text={label}")


def test_apply_approve_activate_and_create_a_director(live_server: str, world: Any, shots: Path, browser: Any) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # The console asks before approving (data-confirm): say yes.
    page.on("dialog", lambda dialog: dialog.accept())
    base = live_server

    # An organization finds the application form from the login page and applies, without an account.
    page.goto(f"{base}/admin/login")
    page.click("text=社会组织入驻申请")
    page.wait_for_url("**/admin/apply")
    page.fill("input[name=name]", "深圳市福田区春芽儿童服务中心")
    page.fill("input[name=credit_code]", valid_code(50))
    page.fill("input[name=legal_representative]", "林春芽")
    page.fill("input[name=contact_name]", "黄晓燕")
    page.fill("input[name=contact_phone]", "13688886666")
    page.fill("input[name=contact_email]", "contact@chunya.example")
    page.fill("input[name=address]", "福田区福华路1号")
    page.check("label.check:has-text('福田街道') input")
    page.check("label.check:has-text('园岭街道') input")
    page.fill("textarea[name=qualifications]", "民政局登记的社会服务机构，持证社工8名，开展儿童个案服务五年。")
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "phone-apply-form.png"), full_page=True)
    page.click("button:has-text('提交申请')")
    page.locator("h1", has_text="申请已提交").wait_for()
    number = page.inner_text("[data-number]").strip()
    reference = page.inner_text("[data-reference]").strip()
    assert number.isdigit() and len(reference) >= 8
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "phone-apply-receipt.png"), full_page=True)

    # The district admin approves it and reads the organization admin's username and code.
    login(page, base, "admin")
    open_menu(page, "机构入驻申请")
    page.click("text=深圳市福田区春芽儿童服务中心")
    assert "林春芽" in page.content() and "福田街道、园岭街道" in page.content()
    page.click("button:has-text('通过并创建机构管理员账号')")
    page.locator("[data-code]").wait_for()
    org_admin = page.inner_text("[data-username]").strip()
    org_code = page.inner_text("[data-code]").strip()
    assert org_admin and len(org_code) == 14
    assert "只显示这一次" in page.content()
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "phone-application-approved.png"), full_page=True)

    # Then a new child director for 福山社区: the form shows the community selector once the role is chosen.
    open_menu(page, "账号管理")
    assert not page.is_visible("#create select[name=community_id]")
    page.fill("input[name=display_name]", "陈晓梅")
    page.fill("input[name=phone]", "13912345678")
    page.fill("input[name=username]", "chen.xiaomei")
    page.select_option("#create select[name=role]", "child_director")
    assert page.is_visible("#create select[name=community_id]") and not page.is_visible(
        "#create select[name=organization_id]"
    )
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "phone-accounts.png"), full_page=True)
    page.select_option("#create select[name=community_id]", label="福田街道 · 福山社区")
    page.click("button:has-text('创建账号并生成激活码')")
    page.locator("h1", has_text="账号已创建").wait_for()
    assert page.inner_text("[data-username]").strip() == "chen.xiaomei"
    director_code = page.inner_text("[data-code]").strip()
    assert len(director_code) == 14 and director_code != org_code
    assert fits_the_screen(page)
    page.screenshot(path=str(shots / "phone-director-created.png"), full_page=True)
    # Back on the list the new account waits for its password, and the code is gone.
    page.click("text=查看该账号")
    assert "待本人设置密码" in page.content() and director_code not in page.content()
    assert "福田街道 · 福山社区" in page.content()
    logout(page)

    # The organization's admin activates with the code and finds its staff page.
    page.goto(f"{base}/admin/login")
    page.click("text=激活账号")
    page.fill("input[name=username]", org_admin)
    page.fill("input[name=code]", org_code)
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=confirm_password]", NEW_PASSWORD)
    page.click("button:has-text('激活并登录')")
    page.wait_for_url(f"{base}/admin/")
    open_menu(page, "本机构人员")
    assert "本机构人员" in page.inner_text("h1") and org_admin in page.content()
    page.screenshot(path=str(shots / "phone-org-staff.png"), full_page=True)
    logout(page)

    # The applicant sees the outcome with its number and reference.
    page.goto(f"{base}/admin/apply/status?number={number}")
    page.fill("input[name=reference]", reference)
    page.click("button:has-text('查询')")
    page.locator("[data-status]", has_text="已通过").wait_for()
    assert not errors, errors
    context.close()


def test_a_director_changes_the_password_on_the_phone_and_the_other_browser_is_signed_out(
    live_server: str, world: Any, shots: Path, browser: Any
) -> None:
    base = live_server
    desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    login(desk, base, "director")
    login(phone, base, "director")

    # From the header, on the phone: a wrong current password is refused with a message and changes nothing.
    phone.click("header >> text=修改密码")
    phone.wait_for_url(f"{base}/admin/password")
    phone.fill("input[name=current_password]", "not-my-password")
    phone.fill("input[name=new_password]", NEW_PASSWORD)
    phone.fill("input[name=confirm_password]", NEW_PASSWORD)
    phone.click("button:has-text('修改密码')")
    phone.locator("[role=alert]").wait_for()
    assert "当前密码不正确" in phone.inner_text("[role=alert]")

    phone.fill("input[name=current_password]", PASSWORD)
    phone.fill("input[name=new_password]", NEW_PASSWORD)
    phone.fill("input[name=confirm_password]", NEW_PASSWORD)
    phone.click("button:has-text('修改密码')")
    phone.locator("[role=status]", has_text="密码已修改").wait_for()
    assert fits_the_screen(phone)
    phone.screenshot(path=str(shots / "phone-password-changed.png"), full_page=True)

    # The phone carries on; the desk browser's session ended with the change.
    phone.goto(f"{base}/admin/cases")
    assert phone.url == f"{base}/admin/cases"
    desk.goto(f"{base}/admin/cases")
    desk.wait_for_url("**/admin/login**")

    # The old password no longer opens the console; the new one does.
    logout(phone)
    phone.fill("input[name=username]", "director")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.locator("[role=alert]").wait_for()
    phone.fill("input[name=username]", "director")
    phone.fill("input[name=password]", NEW_PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{base}/admin/")
    assert not errors, errors
    phone_context.close()
