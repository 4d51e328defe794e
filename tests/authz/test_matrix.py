"""The authorization matrix (issue #17): every role and the anonymous caller × every operation of the app's OpenAPI
schema × the caller's own object and someone else's, answered as tests/authz/policy.py writes down.

Refused attempts run first, on the untouched district: a refused write must leave every table as it was (the audit
log excepted: it records refused attempts). Then the allowed reads, then the allowed writes (which change the
district, so they run last and are only checked to reach the operation's rules).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from marketplace.db import Base
from tests.authz.bodies import body_for, example
from tests.authz.conftest import District
from tests.authz.policy import EMPTY, OK, POLICY, Rule, expected
from tests.authz.scenario import ROLES, Obj, login
from tests.support import figures

pytestmark = pytest.mark.asyncio(loop_scope="package")

SUITE = "Authorization matrix"
METHODS = ("get", "post", "put", "patch", "delete")
# Tables a refused request may write to: the record of the attempt itself.
AUDIT_TABLES = frozenset({"audit_log", "chain_verifications", "login_failures"})
# Operations whose allowed call ends the caller's session: they run with a token of their own.
OWN_TOKEN = frozenset({"POST /api/v1/auth/logout", "POST /api/v1/auth/password"})
# Allowed writes that move objects out of their owners' scope (a transfer moves the child): they run last.
LAST = ("POST /api/v1/child-transfers/{transfer_id}/approve", *OWN_TOKEN)
# The test app has no payment provider: an allowed online gift answers 503 (problem+json), the outage's answer.
OUTAGE_OK = frozenset({"POST /api/v1/donations"})
CHUNK = 12


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    }


async def test_every_operation_has_a_policy(district: District) -> None:
    ops = set(operations(district.schema))
    missing = sorted(ops - set(POLICY))
    stale = sorted(set(POLICY) - ops)
    assert not missing, f"operations without an entry in tests/authz/policy.py: {missing}"
    assert not stale, f"policy entries for operations the app does not have: {stale}"


@dataclass
class Attempt:
    label: str
    role: str | None
    ownership: str
    want: int | str
    got: int = 0
    detail: str = ""


def _path(label: str, obj: Obj | None) -> str:
    path = label.split(" ", 1)[1]
    for k, v in (obj.params if obj else {}).items():
        path = path.replace("{" + k + "}", str(v))
    return path


async def snapshot(district: District) -> dict[str, str]:
    """A digest of every table's rows but the audit's."""
    out: dict[str, str] = {}
    async with district.db.session(write=False) as s:
        for table in Base.metadata.sorted_tables:
            if table.name in AUDIT_TABLES:
                continue
            rows = (await s.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return out


def _ok(status: int) -> bool:
    return status < 500 and status not in (401, 403, 404)


async def test_the_matrix(district: District) -> None:
    sc = district.scenario
    comps = district.schema.get("components", {}).get("schemas", {})
    ops = operations(district.schema)
    plan: list[tuple[str, Rule, str | None, str, Obj | None]] = []
    for label, rule in POLICY.items():
        if label not in ops:
            continue
        for role in (None, *ROLES):
            if rule.kind is None:
                plan.append((label, rule, role, "own", None))
                continue
            own, other = sc.pick(rule.kind, role)
            assert own or other, f"{label}: the scenario has no {rule.kind}"
            if own is not None:
                plan.append((label, rule, role, "own", own))
            if other is not None:
                plan.append((label, rule, role, "other", other))

    client = district.client
    results: list[Attempt] = []
    changed: list[str] = []

    async def attempt(label: str, rule: Rule, role: str | None, ownership: str, obj: Obj | None) -> Attempt:
        want = expected(rule, role, ownership)
        method, _ = label.split(" ", 1)
        headers = dict(sc.headers[role]) if role else {}
        if label in OWN_TOKEN and role:
            headers = await login(client, sc.principals[role].username)
        query = {
            p["name"]: example(p.get("schema", {}), comps, sc, p["name"])
            for p in ops[label].get("parameters", [])
            if p.get("in") == "query" and p.get("required")
        }
        body = body_for(ops[label], comps, sc, label) if method != "GET" else None
        kw: dict[str, Any] = {}
        if body is not None:
            form, payload = body
            kw = {"files": payload} if form == "multipart" else {"json": payload}
        r = await client.request(method, _path(label, obj), headers=headers, params=query, **kw)
        a = Attempt(label, role, ownership, want, r.status_code)
        if want == EMPTY and r.status_code == 200:
            page = r.json()
            a.got = 200 if not page.get("items") and not page.get("total") else 299  # 299: a page with items
        if label in OUTAGE_OK and r.status_code == 503:
            a.got = 202
        if r.status_code >= 400:
            try:
                a.detail = str(r.json().get("detail", ""))[:120]
            except ValueError:
                a.detail = r.text[:120]
        results.append(a)
        return a

    refused = [p for p in plan if expected(p[1], p[2], p[3]) not in (OK, EMPTY)]
    allowed_reads = [p for p in plan if expected(p[1], p[2], p[3]) in (OK, EMPTY) and p[0].startswith("GET ")]
    allowed_writes = [p for p in plan if expected(p[1], p[2], p[3]) == OK and not p[0].startswith("GET ")]
    allowed_writes.sort(key=lambda p: LAST.index(p[0]) if p[0] in LAST else -1)

    writes_refused = 0
    by_label: dict[str, list[tuple[str, Rule, str | None, str, Obj | None]]] = {}
    for p in refused:
        by_label.setdefault(p[0], []).append(p)
    for label, group in by_label.items():
        if label.startswith("GET "):
            for p in group:
                await attempt(*p)
    # The refused writes, in chunks between two digests of the district (a digest costs a few hundred ms): a chunk
    # that changed anything names its operations and the tables.
    writes = [label for label in by_label if not label.startswith("GET ")]
    for start in range(0, len(writes), CHUNK):
        chunk = writes[start : start + CHUNK]
        before = await snapshot(district)
        for label in chunk:
            for p in by_label[label]:
                await attempt(*p)
                writes_refused += 1
        after = await snapshot(district)
        diff = sorted(t for t in after if after[t] != before.get(t))
        if diff:
            changed.append(f"{chunk}: {diff}")
    for p in allowed_reads:
        await attempt(*p)
    for p in allowed_writes:
        await attempt(*p)

    cross = [
        a for a in results if (a.want not in (OK, EMPTY) and 200 <= a.got < 300) or (a.want == EMPTY and a.got == 299)
    ]
    wrong = [
        a
        for a in results
        if a.got >= 500
        or (a.want == OK and not _ok(a.got))
        or (a.want == EMPTY and a.got != 200)
        or (a.want not in (OK, EMPTY) and a.got != a.want)
    ]
    figures.record(SUITE, "roles", len(ROLES))
    figures.record(SUITE, "operations", len({p[0] for p in plan}))
    figures.record(SUITE, "attempts (role × operation × object)", len(results))
    figures.record(SUITE, "refused attempts", len(refused))
    figures.record(SUITE, "cross-scope successes", len(cross))
    figures.record(SUITE, "refused writes", writes_refused)
    figures.record(SUITE, "refused writes that changed something", len(changed))
    lines = [f"{a.label} as {a.role} ({a.ownership}): want {a.want}, got {a.got} {a.detail}" for a in wrong]
    assert not cross, "cross-scope successes:\n" + "\n".join(
        f"{a.label} as {a.role} ({a.ownership}): {a.got}" for a in cross
    )
    assert not changed, "refused writes that changed something:\n" + "\n".join(changed)
    assert not wrong, f"{len(wrong)} answers differ from the policy:\n" + "\n".join(lines)
