"""``GET /metrics``: Prometheus text for the operator's scraper (or a signed-in district admin).

Two kinds of figures: what processes counted (requests, sign-in failures, task failures: merged from every
process's file, ``marketplace.observability.metrics``) and what the database holds at the moment of the scrape (the
outbox's backlog and failures, the search index's pending documents), read here in one short query each, so they
hold whichever process answers. Access: ``Authorization: Bearer <MARKETPLACE_METRICS_TOKEN>`` (compared in constant
time), else a valid API token of a district admin (``district_admin``); anyone else gets a 401 or 403 problem.
"""

from __future__ import annotations

import datetime as dt
import hmac
from functools import partial
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, func, select

from marketplace import clock
from marketplace.auth.cache import PrincipalCache
from marketplace.auth.service import decode_claims, load_principal
from marketplace.db import Database
from marketplace.errors import Forbidden, Unauthorized
from marketplace.indexing.models import IndexState
from marketplace.observability import metrics
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings

READER_ROLE = "district_admin"
MISSING_CREDENTIALS = "需要监控令牌或区级管理员登录 (bearer token required: the metrics token or a district admin's)"
NOT_ALLOWED = "仅区级管理员或监控系统可读取运行指标 (only a district admin or the metrics scraper may read metrics)"


def _database_figures(conn: Connection) -> dict[str, Any]:
    events = OutboxEvent.__table__
    pending = events.c.processed_at.is_(None)
    unprocessed, oldest = conn.execute(select(func.count(), func.min(events.c.created_at)).where(pending)).one()
    failing = conn.execute(select(func.count()).where(pending, events.c.last_error.is_not(None))).scalar_one()
    unhandled = conn.execute(
        select(func.count()).where(events.c.processed_at.is_not(None), events.c.last_error.is_not(None))
    ).scalar_one()
    index = IndexState.__table__
    dirty, dirty_oldest = conn.execute(
        select(func.count(), func.min(index.c.changed_at)).where(index.c.dirty.is_(True))
    ).one()
    return {
        "unprocessed": unprocessed,
        "oldest": oldest,
        "failing": failing,
        "unhandled": unhandled,
        "dirty": dirty,
        "dirty_oldest": dirty_oldest,
    }


def _age(then: dt.datetime | None, now: dt.datetime) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite hands back naive UTC
        then = then.replace(tzinfo=dt.UTC)
    return max((now - then).total_seconds(), 0.0)


def _gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


def database_families(figures: dict[str, Any], now: dt.datetime) -> list[Metric]:
    return [
        _gauge(
            "marketplace_outbox_unprocessed_events",
            "Outbox events committed and not yet handled.",
            figures["unprocessed"],
        ),
        _gauge(
            "marketplace_outbox_lag_seconds",
            "Age of the oldest outbox event not yet handled (0 when none waits).",
            _age(figures["oldest"], now),
        ),
        _gauge(
            "marketplace_outbox_failed_events",
            "Outbox events not yet handled whose last attempt failed (the sweeper tries them again).",
            figures["failing"],
        ),
        _gauge(
            "marketplace_outbox_unhandled_events",
            "Outbox events set aside with an error (no handler for their topic).",
            figures["unhandled"],
        ),
        _gauge(
            "marketplace_search_index_pending_documents",
            "Documents changed and not yet (re)indexed (IndexState rows marked dirty).",
            figures["dirty"],
        ),
        _gauge(
            "marketplace_search_index_pending_oldest_seconds",
            "Age of the oldest change not yet indexed (0 when none waits).",
            _age(figures["dirty_oldest"], now),
        ),
    ]


async def _check_access(request: Request[Any, Any, Any], state: State) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(MISSING_CREDENTIALS)
    settings: Settings = state.settings
    if settings.metrics_token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return
    principals: PrincipalCache = state.principals
    db: Database = state.db
    user_id, version = principals.claims(token, partial(decode_claims, settings=settings))
    principal = await principals.principal(user_id, version, partial(load_principal, db))
    if principal.role != READER_ROLE or principal.must_change_password:
        raise Forbidden(NOT_ALLOWED)


@get("/metrics", include_in_schema=False, name="metrics", cache_control=None)
async def read_metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    await _check_access(request, state)
    db: Database = state.db
    figures = await db.read(_database_figures)
    body = metrics.render(database_families(figures, clock.now()))
    return Response(content=body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})


ROUTES = [read_metrics]
