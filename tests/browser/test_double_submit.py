"""A console form sent twice from the browser with the key the page rendered (a double click, a resend) creates
once, and both submits end on the same page; admin.js gives a form htmx keeps a fresh key after a success."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from marketplace.resources.models import Service
from marketplace.settings import Settings
from tests.browser.test_console import login

pytestmark = pytest.mark.browser

TITLE = "双击提交的服务项目"
SEND_TWICE = """async () => {
    const form = document.querySelector('#service-form');
    const send = () => fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form))});
    const answers = await Promise.all([send(), send()]);
    return answers.map(r => [r.status, r.url, r.headers.get('idempotent-replayed')]);
}"""
FRESH_KEY = """(successful) => {
    const form = document.querySelector('#service-form');
    const input = form.querySelector('input[name=_idempotency_key]');
    const before = input.value;
    form.dispatchEvent(new CustomEvent('htmx:afterRequest', {bubbles: true, detail: {elt: form, successful}}));
    return [before, input.value];
}"""


def services_titled(settings: Settings) -> int:
    engine = create_engine(settings.sync_database_url)
    with engine.connect() as conn:
        found = int(conn.scalar(select(func.count()).select_from(Service).where(Service.title == TITLE)) or 0)
    engine.dispose()
    return found


def test_a_form_sent_twice_creates_once(live_server: str, settings: Settings, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server, "org")
    page.goto(f"{live_server}/admin/services/new")
    page.fill("input[name=title]", TITLE)
    page.fill("input[name=capacity_per_month]", "6")
    page.check("input[name=categories][value=emotional_support]")
    page.check("input[name=child_categories][value=left_behind]")
    page.fill("input[name=cost_per_case]", "150")
    page.fill("textarea[name=description]", "每周末由社工和志愿者陪伴留守儿童")

    # admin.js: a failed request keeps the key (the corrected form may reuse it), a success changes it.
    kept = page.evaluate(FRESH_KEY, False)
    assert kept[0] == kept[1] and len(kept[0]) == 32
    key = page.input_value("#service-form input[name=_idempotency_key]")

    answers = page.evaluate(SEND_TWICE)
    assert [a[0] for a in answers] == [200, 200], answers  # both followed the redirect to the saved service
    assert answers[0][1] == answers[1][1] and "/admin/services/" in answers[0][1] and "saved=1" in answers[0][1]
    assert services_titled(settings) == 1

    fresh = page.evaluate(FRESH_KEY, True)
    assert fresh[0] == key and fresh[1] != key and len(fresh[1]) == 32
    assert errors == []
    context.close()
