"""Scope matrix: every role against every child, need and referral endpoint, own and other objects.

Each endpoint is one test: all disallowed (role, object) pairs are tried first and must fail with 403/404 and
change nothing; then the allowed ones must succeed. No role ever succeeds outside its scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from marketplace.cases.models import Child
from tests.cases.support import Cases
from tests.conftest import Auth, assert_problem

ROLES = [
    "admin",
    "supervisor",
    "supervisor2",
    "director",
    "director2",
    "director3",
    "org",
    "org2",
    "org3",
    "fund",
    "procurement",
    "auditor",
]
READ_CHILD = {
    "admin": "ABC",
    "auditor": "ABC",
    "supervisor": "AB",
    "supervisor2": "C",
    "director": "A",
    "director2": "B",
    "director3": "C",
}
WRITE_CHILD = {"director": "A", "director2": "B", "director3": "C"}
REPORT = {**WRITE_CHILD, "supervisor": "AB", "supervisor2": "C"}
MATCH = {**REPORT, "admin": "ABC"}
READ_REFERRAL = {**READ_CHILD, "org": "A", "org2": "C"}
ACCEPT = {"org": "A", "org2": "C"}
REVOKE = {"director": "A", "director3": "C", "supervisor": "A", "supervisor2": "C"}

# (name, method, path template, body, kind of object, allowed map)
ENDPOINTS: list[tuple[str, str, str, Any, str, dict[str, str]]] = [
    ("read child", "GET", "/api/v1/children/{child}", None, "child", READ_CHILD),
    ("patch child", "PATCH", "/api/v1/children/{child}", {"school": "福田小学"}, "child", WRITE_CHILD),
    (
        "add need",
        "POST",
        "/api/v1/children/{child}/needs",
        {"category": "legal_aid", "urgency": 2},
        "child",
        WRITE_CHILD,
    ),
    (
        "add visit",
        "POST",
        "/api/v1/children/{child}/visits",
        {"visited_on": "2026-01-02", "kind": "home"},
        "child",
        WRITE_CHILD,
    ),
    ("list visits", "GET", "/api/v1/children/{child}/visits", None, "child", READ_CHILD),
    (
        "report",
        "POST",
        "/api/v1/children/{child}/reports",
        {"kind": "lives_alone", "description": "独自在家"},
        "child",
        REPORT,
    ),
    ("read need", "GET", "/api/v1/needs/{need}", None, "need", READ_CHILD),
    ("match need", "POST", "/api/v1/needs/{need}/matches", {"limit": 3}, "need", MATCH),
    ("read referral", "GET", "/api/v1/referrals/{referral}", None, "referral", READ_REFERRAL),
    ("referral logs", "GET", "/api/v1/referrals/{referral}/logs", None, "referral", READ_REFERRAL),
    ("accept referral", "POST", "/api/v1/referrals/{referral}/accept", None, "referral", ACCEPT),
    ("revoke referral", "POST", "/api/v1/referrals/{referral}/revoke", {"reason": "x"}, "referral", REVOKE),
]


def _objects(cases: Cases, kind: str) -> dict[str, int]:
    return {"child": cases.children, "need": cases.needs, "referral": cases.referrals}[kind]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
async def test_scope_matrix(client, auth: Auth, cases: Cases, endpoint) -> None:
    name, method, template, body, kind, allowed = endpoint
    objects = _objects(cases, kind)
    attempts = [(role, label, oid) for role in ROLES for label, oid in objects.items()]
    denied = [a for a in attempts if a[1] not in allowed.get(a[0], "")]
    granted = [a for a in attempts if a[1] in allowed.get(a[0], "")]
    assert denied and granted
    for role, label, oid in denied:
        path = template.format(**{kind: oid})
        r = await client.request(method, path, json=body, headers=await auth(role))
        assert r.status_code in (403, 404), f"{name}: {role} on {label} got {r.status_code}"
        assert_problem(r, r.status_code)
    # Revoking or accepting twice is a state conflict, not a scope question: one success per object suffices.
    done: set[str] = set()
    for role, label, oid in granted:
        if method == "POST" and "referral" in template and label in done:
            continue
        path = template.format(**{kind: oid})
        r = await client.request(method, path, json=body, headers=await auth(role))
        assert r.status_code in (200, 201), f"{name}: {role} on {label} got {r.status_code}: {r.text}"
        done.add(label)


LISTS = [
    ("/api/v1/children", "child", READ_CHILD, "id"),
    ("/api/v1/needs", "need", READ_CHILD, "id"),
    ("/api/v1/referrals", "referral", READ_REFERRAL, "id"),
]


@pytest.mark.parametrize("path,kind,allowed,key", LISTS, ids=[x[0] for x in LISTS])
async def test_lists_hold_only_what_the_role_may_see(
    client, auth: Auth, cases: Cases, path, kind, allowed, key
) -> None:
    objects = _objects(cases, kind)
    by_id = {v: k for k, v in objects.items()}
    for role in ROLES:
        r = await client.get(path, headers=await auth(role))
        if role not in allowed and not (kind == "referral" and role.startswith("org")):
            assert_problem(r, 403)
            continue
        assert r.status_code == 200, (role, r.text)
        seen = {by_id[item[key]] for item in r.json()["items"]}
        assert seen == set(allowed.get(role, "")) & set(objects), (role, seen)


async def test_overdue_visits_are_scoped(client, auth: Auth, cases: Cases, db) -> None:
    async with db.session() as s:
        await s.execute(update(Child).values(next_visit_due=dt.date(2020, 1, 1)))
    ids = {v: k for k, v in cases.children.items()}
    for role in ROLES:
        r = await client.get("/api/v1/visits/overdue", headers=await auth(role))
        if role not in READ_CHILD:
            assert_problem(r, 403)
            continue
        assert {ids[i["child_id"]] for i in r.json()["items"]} == set(READ_CHILD[role])
