"""The pool's answers are kept per serving process (issue 12), and never older than the pool: an organization
pauses its service in the console on a phone, and the director's next API listing (answered from the cache a moment
before) no longer offers it; resumed, it is offered again."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_closed_loop import api
from tests.browser.test_console import login
from tests.support.world import World

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def offered(base: str) -> list[int]:
    return [s["id"] for s in api(base, "director", "/api/v1/services?limit=50")["items"]]


def test_a_service_paused_in_the_console_leaves_the_directors_listing_at_once(
    live_server: str, world: World, shots: Path, browser: Any
) -> None:
    sid = world.services[0]
    assert sid in offered(live_server) and sid in offered(live_server)  # the second answer comes from the cache
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    login(page, live_server, "org")
    page.goto(f"{live_server}/admin/pool?tab=published")
    row = page.locator(f"#service-{sid}")
    row.locator("form[action$='/pause'] button").click()
    page.locator(f"#service-{sid}").get_by_text("已暂停").wait_for()
    page.screenshot(path=str(shots / "pool-paused-phone.png"), full_page=True)

    assert sid not in offered(live_server)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(live_server, "director", f"/api/v1/services/{sid}")
    assert refused.value.code == 404
    own = api(live_server, "org", f"/api/v1/services/{sid}")
    assert own["status"] == "paused"

    page.goto(f"{live_server}/admin/pool?tab=paused")
    page.locator(f"#service-{sid}").locator("form[action$='/resume'] button").click()
    page.locator(f"#service-{sid}").get_by_text("已发布").wait_for()
    assert sid in offered(live_server)
    assert api(live_server, "director", f"/api/v1/services/{sid}")["status"] == "published"
    context.close()
