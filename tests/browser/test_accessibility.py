"""Every console page of the director, the street supervisor, the organization's staff and the district admin (and
the login and public pages) checked by axe-core against the WCAG 2 A/AA rules and axe's best practices (landmarks,
headings), in a real browser, on a phone (360×740) and on a laptop (1366×900); at each width the page must also fit
without sideways scrolling.

axe-core is vendored (tests/browser/vendor/, see its README: version, source, licence); it is injected into each
page after it loads. The console's content security policy allows scripts from its own files only, so the test's
browser context bypasses the policy for the injected script (the pages themselves are served unchanged).

The pages are the navigation each role sees (read from the page, as admin.web.navigation builds it) and the key
pages behind it: a child's file, a need's matches, a referral's follow page, a service's form, the inbox, the street
board, the approvals, funds, procurement, the pool's tabs, the reports; then a few states: a refused login and
refused forms, the identity number's check swapped in by htmx, a not-found page, and the phone's menu opened. One
browser, one login per role; each page is loaded once and checked at both widths.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from marketplace import clock
from marketplace.cases.models import Child, Need
from marketplace.funds import service as funds
from marketplace.referrals.models import Referral
from marketplace.resources.models import Service
from marketplace.safety import service as safety
from tests.browser.test_console import login, logout
from tests.browser.test_director_journey import SCROLL, api
from tests.browser.test_supervisor_journey import GRANT, escalated  # noqa: F401 - a fixture used below
from tests.procurement.helpers import LINES
from tests.reports.data import Cases, build_cases

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).resolve().parent / "vendor"
AXE = VENDOR / "axe.min.js"
AXE_VERSION = "4.14.1"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe's own tags for them), and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
# Rules switched off, each with the reason it is a false positive here. None so far: fix the page instead.
EXCLUDED: dict[str, str] = {}
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 360, "height": 740}}
WIDE = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 3).map((e) => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ").join(".") : ""))
  .join(", ")"""
RUN = """async ([tags, excluded]) => {
  const rules = Object.fromEntries(excluded.map((id) => [id, {enabled: false}]));
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, rules, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@pytest.fixture
async def district(db: Any, world: Any, settings: Any, escalated: dict[str, int]) -> dict[str, Any]:  # noqa: F811
    """The reports' picture of children, needs, visits and referrals, a child of 福山 with a real file (its
    identity number and the guardian's phone encrypted) and a mandatory report the ladder escalated, a referral
    sent to 启航 for that child, and a service of 阳光 waiting for the district's review."""
    async with db.session() as session:
        cases: Cases = await build_cases(session, world)
        child = escalated["child"]
        need = Need(
            child_id=child,
            street_id=world.streets[0],
            community_id=world.communities[0],
            category="psych_counselling",
            urgency=2,
            status="matched",
        )
        open_need = Need(
            child_id=child,
            street_id=world.streets[0],
            community_id=world.communities[0],
            category="education_aid",
            urgency=3,
            note="学费有困难",
        )
        session.add_all([need, open_need])
        await session.flush()
        referral = Referral(
            need_id=need.id,
            child_id=child,
            service_id=world.services[0],
            organization_id=world.orgs[0],
            street_id=world.streets[0],
            community_id=world.communities[0],
            status="sent",
            sent_at=clock.now() - dt.timedelta(hours=3),
        )
        session.add(referral)
        pending = await session.get(Service, world.services[2])
        assert pending is not None
        pending.status = "pending_review"
        # The fund the fund manager's pages work on.
        await funds.ensure_fund(session, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
        await session.flush()
        # The child's 十防 warning (its visit is overdue), escalated: the safety pages have one to show.
        kid = await session.get(Child, child)
        assert kid is not None
        await safety.grade_child(session, safety.facts_of(kid), clock.now() - dt.timedelta(days=40), clock.today())
        await safety.escalate_due(session, clock.now())
        warning = await safety.open_warning(session, child)
        assert warning is not None
        return {
            "warning": warning.id,
            "cases": cases,
            "child": child,
            "need": open_need.id,
            "referral": referral.id,
            "report": escalated["report"],
        }


def nav_links(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("nav.nav a", "els => els.map(e => e.getAttribute('href'))"))


def extra_pages(role: str, world: Any, d: dict[str, Any]) -> list[str]:
    """The key pages behind each role's navigation."""
    cases: Cases = d["cases"]
    if role == "director":
        return [
            f"/admin/children/{d['child']}",
            f"/admin/children/{d['child']}/guardianship",
            f"/admin/children/{d['child']}/guardianship/assess",
            f"/admin/conferences/new?child={d['child']}",
            "/admin/children/new",
            f"/admin/needs/{d['need']}/matches",
            f"/admin/referrals/{cases.referrals[0]}/follow",
            f"/admin/referrals/{d['referral']}/follow",
            f"/admin/safety/warnings/{d['warning']}",
            f"/admin/children/{d['child']}/safety-check?prevention=drowning",
            "/admin/password",
        ]
    if role == "supervisor":
        return [
            f"/admin/children/{d['child']}",
            "/admin/cases?tab=overdue",
            "/admin/password",
            "/admin/account/notifications",
            f"/admin/safety/warnings/{d['warning']}",
        ]
    if role == "org":
        return [
            "/admin/services/new",
            f"/admin/services/{world.services[0]}",
            "/admin/referrals/inbox?tab=accepted",
            "/admin/password",
        ]
    if role == "fund":
        return [
            "/admin/funds/donations/new",
            "/admin/funds/donors",
            "/admin/funds/statements",
            "/admin/funds/reconciliations",
            "/admin/funds/disbursements/new",
            "/admin/funds/disclosures",
        ]
    if role == "procurement":
        return [
            "/admin/procurement/new",
            f"/admin/allowances/runs/{d['run']}",
            "/admin/allowances/quarter",
            "/admin/password",
        ]
    return [
        "/admin/pool?tab=revisions",
        "/admin/pool?tab=published",
        "/admin/pool?tab=organizations",
        f"/admin/accounts/{world.users['director']}",
        "/admin/accounts/handover",
        "/admin/allowances",
        f"/admin/allowances/runs/{d['run']}",
        "/admin/allowances/quarter",
        "/admin/audit/verify",
        "/admin/password",
        "/admin/messaging",
    ]


def axe(page: Any, where: str, found: list[str]) -> None:
    for v in page.evaluate(RUN, [TAGS, list(EXCLUDED)]):
        for node in v["nodes"]:
            why = " ".join(line.strip() for line in (node["summary"] or "").splitlines()[1:2])
            found.append(f"{where} {v['rule']} ({v['impact']}): {node['target']} — {v['help']}. {why}")


def check(page: Any, where: str, found: list[str], *, menu: bool = False) -> None:
    """Run axe on the page as it is at each width (with ``menu``, also with the phone's folded navigation open);
    violations go to ``found`` as readable lines."""
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        try:  # the charts redraw at the new width on the window's resize event
            page.wait_for_function(f"({SCROLL}) <= 1", timeout=3000)
        except PlaywrightTimeout:
            found.append(f"{where} [{name}] scrolls sideways by {page.evaluate(SCROLL)}px: {page.evaluate(WIDE)}")
        axe(page, f"{where} [{name}]", found)
    if menu:
        page.click("label.nav-button")
        page.locator("nav.nav").wait_for(state="visible")
        axe(page, f"{where} [phone, menu open]", found)
        page.click("label.nav-button")
    page.set_viewport_size(VIEWPORTS["laptop"])


def states(page: Any, base: str, role: str, found: list[str]) -> None:
    """What a page shows after something happened: a form refused, an htmx answer swapped in, an error page."""
    if role == "director":
        page.goto(f"{base}/admin/children/new")
        page.fill("input[name=id_number]", "44030420150101123X")
        page.locator("#id-check .msg").first.wait_for()
        check(page, "director /admin/children/new (identity number checked)", found)
        response = page.goto(f"{base}/admin/children/999999")
        assert response is not None and response.status == 404
        check(page, "director /admin/children/999999 (not found)", found)
    if role == "org":
        page.goto(f"{base}/admin/org")
        page.fill("input[name=contact_phone]", "电话")
        page.click("text=保存机构资料")
        page.locator(".msg-error").wait_for()
        check(page, "org /admin/org (refused)", found)
        page.goto(f"{base}/admin/org/people")
        page.fill("form[action='/admin/org/workers'] input[name=name]", "周社工")
        page.fill("input[name=max_caseload]", "很多")
        page.click("button:has-text('登记社工')")
        page.locator(".msg-error").wait_for()
        check(page, "org /admin/org/people (refused)", found)


def test_axe_is_the_vendored_version() -> None:
    assert f"axe v{AXE_VERSION}" in AXE.read_text()[:200]
    assert f"| {AXE_VERSION} |" in (VENDOR / "README.md").read_text()
    assert (VENDOR / "axe.LICENSE").read_text().startswith("Mozilla Public License")


def test_every_console_page_passes_axe(live_server: str, world: Any, district: dict[str, Any], browser: Any) -> None:
    base = live_server
    api(base, "director", f"/api/v1/children/{district['child']}/allowance-decisions", GRANT)
    # A month's run to open (the directors' post subsidy is due without any decision).
    year = clock.today().year
    total = sum(x["appropriation_fen"] for x in LINES)
    api(
        base,
        "procurement",
        "/api/v1/budgets",
        {"name": "专项资金", "fiscal_year": year, "total_fen": total, "lines": LINES},
    )
    district["run"] = api(base, "procurement", "/api/v1/allowances/runs", {"month": clock.month_key()})["id"]
    context = browser.new_context(viewport=VIEWPORTS["laptop"], locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    found: list[str] = []
    checked: list[str] = []

    page.goto(f"{base}/admin/login")
    check(page, "/admin/login", found)
    page.fill("input[name=username]", "director")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    page.locator(".msg-error").wait_for()
    check(page, "/admin/login (refused)", found)
    checked.append("/admin/login")
    # The public pages around the login: an organization's application and its status, an account's activation.
    for path in ("/admin/apply", "/admin/apply/status", "/admin/activate"):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        check(page, path, found)
        checked.append(path)
    for role in ("director", "supervisor", "org", "fund", "procurement", "admin"):
        login(page, base, role)
        for path in ["/admin/", *nav_links(page)[1:], *extra_pages(role, world, district)]:
            response = page.goto(base + path)
            assert response is not None and response.status == 200, (role, path, response and response.status)
            check(page, f"{role} {path}", found, menu=path == "/admin/")
            checked.append(f"{role} {path}")
        states(page, base, role, found)
        page.goto(f"{base}/admin/")
        logout(page)
    context.close()

    assert len(checked) > 40, checked
    assert not found, f"{len(found)} accessibility violations:\n" + "\n".join(found)
    assert not errors, errors


def test_the_keyboard_reaches_the_skip_link_and_the_phone_menu(live_server: str, world: Any, browser: Any) -> None:
    """On a phone the navigation folds behind 菜单: Tab reaches its toggle and Space opens it; the first Tab of every
    page offers to skip the header to the page's content."""
    base = live_server
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    login(page, base, "director")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # shown while it has the focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.goto(f"{base}/admin/")
    assert not page.locator("nav.nav").is_visible()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "nav-toggle":
            break
    else:
        raise AssertionError("Tab never reaches the menu toggle")
    page.keyboard.press("Space")
    page.locator("nav.nav").wait_for(state="visible")
    # Past the urgent report's link (kept outside the menu), the menu's first item.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "⚠ 紧急上报"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('nav.nav') !== null")
    assert page.evaluate("document.activeElement.textContent") == "工作台"
    context.close()
