"""Helpers to drive the console like a browser does: cookie session, CSRF token from the page."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.world import PASSWORD

CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def console_login(
    client: AsyncTestClient[Litestar], username: str, password: str = PASSWORD, *, clear: bool = True
) -> str:
    """Log in through the form (as a new browser unless ``clear=False``); returns the page's CSRF token."""
    if clear:
        client.cookies.clear()
    page = await client.get("/admin/login")
    assert page.status_code == 200
    r = await client.post(
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": username, "password": password, "next": "/admin/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = await client.get("/admin/")
    assert home.status_code == 200, home.text
    return csrf_of(home.text)


def htmx(csrf: str) -> dict[str, Any]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf}
