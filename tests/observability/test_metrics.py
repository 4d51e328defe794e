"""``GET /metrics``: who may read it, that its counters move, the figures read from the database at the scrape,
and the merge of several processes' files."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from marketplace import clock
from marketplace.app import create_app
from marketplace.db import Database
from marketplace.indexing.models import IndexState
from marketplace.observability import metrics
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings
from tests.conftest import Auth, assert_problem
from tests.support import figures
from tests.support.world import PASSWORD, World

TOKEN = "scraper-token-0123456789-abcdefghij"
ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> Samples:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


@pytest.fixture
async def token_client(settings: Settings, world: World) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(replace(settings, metrics_token=TOKEN))) as c:
        yield c


async def test_only_the_scraper_token_or_a_district_admin_reads_metrics(
    token_client: AsyncTestClient[Litestar],
) -> None:
    client = token_client
    refusals = 0
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Authorization": "Bearer " + TOKEN[:-1] + "X"}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
    ]:
        assert_problem(await client.get("/metrics", headers=headers), status)
        refusals += 1
    auth = Auth(client)
    for role_user in ("director", "supervisor", "org", "fund", "auditor"):
        assert_problem(await client.get("/metrics", headers=await auth(role_user)), 403)
        refusals += 1
    await scrape(client, {"Authorization": f"Bearer {TOKEN}"})
    await scrape(client, await auth("admin"))
    figures.record("observability", "/metrics refusals checked", refusals)


async def test_without_a_configured_token_only_the_district_admin(
    client: AsyncTestClient[Litestar], auth: Auth
) -> None:
    assert_problem(await client.get("/metrics", headers={"Authorization": "Bearer "}), 401)
    assert_problem(await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}), 401)
    await scrape(client, await auth("admin"))


async def test_request_counts_and_latency_move(client: AsyncTestClient[Litestar], auth: Auth) -> None:
    admin = await auth("admin")
    before = await scrape(client, admin)
    for _ in range(3):
        assert (await client.get("/health")).status_code == 200
    assert (await client.get("/api/v1/children/5")).status_code == 401
    assert (await client.get("/no/such/path")).status_code == 404
    after = await scrape(client, admin)
    health = {"route": "/health", "method": "GET", "status": "2xx"}
    assert (
        value(after, "marketplace_http_requests_total", **health)
        - value(before, "marketplace_http_requests_total", **health)
        == 3
    )
    assert (
        value(after, "marketplace_http_request_duration_seconds_count", **health)
        - value(before, "marketplace_http_request_duration_seconds_count", **health)
        == 3
    )
    assert value(after, "marketplace_http_request_duration_seconds_bucket", le="+Inf", **health) >= 3
    child = {"route": "/api/v1/children/{child_id}", "method": "GET", "status": "4xx"}
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "4xx"}
    for labels in (child, unmatched):
        moved = value(after, "marketplace_http_requests_total", **labels) - value(
            before, "marketplace_http_requests_total", **labels
        )
        assert moved == 1, labels
    routes = {dict(labels).get("route") for (_, labels) in after}
    assert not any(r and ("/5" in r or "such" in r) for r in routes), routes  # templates only
    figures.record("observability", "counted requests checked", 5)


async def test_sign_in_failures_are_counted_by_reason_without_names(
    client: AsyncTestClient[Litestar], auth: Auth
) -> None:
    admin = await auth("admin")
    before = await scrape(client, admin)
    for username in ("director", "someone-unknown-zz"):
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD + "x"})
        assert r.status_code == 401
    text = (await client.get("/metrics", headers=admin)).text
    after = parse(text)
    moved = sum(
        v - before.get(k, 0.0)
        for k, v in after.items()
        if k[0] == "marketplace_login_failures_total" and ("action", "login_failed") in k[1]
    )
    assert moved == 2
    assert "someone-unknown-zz" not in text and "director" not in text


async def test_outbox_and_search_backlogs_are_read_at_the_scrape(
    client: AsyncTestClient[Litestar], auth: Auth, db: Database
) -> None:
    admin = await auth("admin")
    before = await scrape(client, admin)
    long_ago = clock.now() - dt.timedelta(minutes=10)
    async with db.session() as s:
        s.add(OutboxEvent(topic="test.waiting", payload={}, created_at=long_ago))
        s.add(OutboxEvent(topic="test.failing", payload={}, created_at=clock.now(), last_error="boom", attempts=2))
        s.add(IndexState(index_name="services", doc_id=987654, dirty=True, changed_at=long_ago))
    after = await scrape(client, admin)
    assert (
        value(after, "marketplace_outbox_unprocessed_events")
        == value(before, "marketplace_outbox_unprocessed_events") + 2
    )
    assert value(after, "marketplace_outbox_failed_events") == value(before, "marketplace_outbox_failed_events") + 1
    assert 600 <= value(after, "marketplace_outbox_lag_seconds") < 3600
    assert value(after, "marketplace_search_index_pending_documents") >= 1
    assert 600 <= value(after, "marketplace_search_index_pending_oldest_seconds") < 3600


def test_a_failed_task_is_counted_by_name() -> None:
    from workers.celery_app import app  # deferred import: Celery's app (and its signals) only for this test

    @app.task(name="tests.observability.fails")
    def fails() -> None:
        raise RuntimeError("fails on purpose")

    try:
        before = parse(metrics.render().decode())
        fails.apply()
        after = parse(metrics.render().decode())
    finally:  # the worker's app lists its tasks (tests/integration/test_celery_every_job.py): leave it as found
        app.tasks.pop("tests.observability.fails", None)
    name = "marketplace_task_failures_total"
    assert (
        value(after, name, task="tests.observability.fails") - value(before, name, task="tests.observability.fails")
        == 1
    )


COUNTER_PROCESS = """
import sys
from marketplace.observability import metrics
from tests.support import databases
settings = databases.test_settings("sqlite:///unused.db", __import__("pathlib").Path(sys.argv[1]))
metrics.use_directory(settings, sys.argv[2], fresh=sys.argv[3] == "fresh")
for _ in range(int(sys.argv[4])):
    metrics.HTTP_REQUESTS.labels("/health", "GET", "2xx").inc()
    metrics.HTTP_DURATION.labels("/health", "GET", "2xx").observe(0.002)
metrics.TASK_FAILURES.labels("workers.tasks.run_job").inc()
"""


def test_the_scrape_sums_every_process_and_a_role_start_drops_dead_processes_files(tmp_path: Path) -> None:
    def run(role: str, n: int, fresh: bool = False) -> None:
        subprocess.run(
            [sys.executable, "-c", COUNTER_PROCESS, str(tmp_path), role, "fresh" if fresh else "", str(n)],
            cwd=ROOT,
            check=True,
            timeout=60,
        )

    run("serve", 3)
    run("serve", 4)
    run("worker", 1)
    root = tmp_path / "metrics"
    merged = parse(metrics.render(root=root).decode())
    health = {"route": "/health", "method": "GET", "status": "2xx"}
    assert value(merged, "marketplace_http_requests_total", **health) == 3 + 4 + 1
    assert value(merged, "marketplace_http_request_duration_seconds_bucket", le="0.005", **health) == 8
    assert value(merged, "marketplace_task_failures_total", task="workers.tasks.run_job") == 3
    # A new start of the serving role: the files of its processes that exited go; the worker's stay.
    run("serve", 2, fresh=True)
    merged = parse(metrics.render(root=root).decode())
    assert value(merged, "marketplace_http_requests_total", **health) == 2 + 1
    assert len({path.stem.rsplit("_", 1)[1] for path in (root / "serve").glob("*.db")}) == 1  # one process's
    assert value(merged, "marketplace_task_failures_total", task="workers.tasks.run_job") == 2
    figures.record("observability", "processes merged in a scrape", 4)
