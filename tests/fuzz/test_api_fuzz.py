"""Every operation in the app's own OpenAPI schema, fuzzed by schemathesis against a running server on the Futian
demo, with a token for each role of the system (and none): no request may produce a 5xx, every 4xx is an
``application/problem+json`` with a ``detail``, and every response conforms to the schema (its status is declared,
its content type is the declared one, its body and headers validate against the declared schemas). Where they did
not, the app's schema was wrong and was fixed (the problem responses of marketplace.errors.ProblemResponses, the
routes' declared types); there is no exclusion list.

Each role's operations are fuzzed in a few shards (separate tests, so pytest-xdist's workers share them; each worker
serves its own copy of the demo). Generation is bounded and derandomized so a CI failure reproduces locally: a few
examples per operation and role, more for the district admin, half of them valid (positive), half not (negative).

Inputs that once gave a 500 (issue #17) run over every operation too: every generated string carrying a NUL
character (body, query, path and header values), JSON nested 1,000 deep, and JSON bodies whose numbers are sent as
strings: each answers a 4xx problem.

Figures (tests/support/figures.py, suite "Fuzzing (schemathesis)"): operations, roles, cases sent, and what came of
them: server errors, schema violations, problem-format violations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import ROLE_LOGINS, DemoServer
from tests.support import figures

pytestmark = pytest.mark.fuzz

SUITE = "Fuzzing (schemathesis)"
MAX_EXAMPLES = 8
# Examples per operation and role: more for the district admin, who reaches every route's rules.
ROLE_EXAMPLES = {"district_admin": 4}
OTHER_ROLE_EXAMPLES = 2
SHARDS = 3
# Operations that end the caller's session: the fuzzer signs in again after each success.
SESSION_ENDING = {"POST /api/v1/auth/logout"}
# Seconds a request may take: generous, because some operations are whole batches (dispatching a demo matching run
# creates dozens of referrals, each with its notifications) on a machine that runs several suites at once.
TIMEOUT = 120
SLOW = 10  # printed (pytest -s) when a request takes longer
SCHEMA_CHECKS = (
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Path ids that exist in the demo, so generated cases reach past the 404 into the handlers' rules.
DEMO_IDS = st.integers(min_value=1, max_value=6)
# The fuzz server has no payment provider (its Stripe key points nowhere): creating a donation answers 503 "payment
# provider unavailable, retry" (problem+json), the honest answer to an outage. tests/integration covers it with the
# Stripe fake.
# So does the readiness probe whenever one of its checks misses its timeout (a loaded machine): the probe's own
# answer for "not ready", a problem with Retry-After (tests/health).
PROVIDER_OUTAGE_OK = {"POST /api/v1/donations", "GET /health/ready"}


def no_server_error(ctx: Any, response: Any, case: Case) -> None:
    if case.operation.label in PROVIDER_OUTAGE_OK and response.status_code == 503:
        problem_details(ctx, response, case, statuses=range(503, 504))
        return
    not_a_server_error(ctx, response, case)


def problem_details(ctx: Any, response: Any, case: Case, statuses: range = range(400, 500)) -> None:
    """A 4xx is a problem document: the right content type, and a detail a person can read."""
    if response.status_code in statuses:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), f"{response.status_code} answered as {ctype!r}"
        body = response.json()
        assert isinstance(body, dict) and body.get("detail"), f"{response.status_code} without a detail: {body!r}"
        assert body.get("status") == response.status_code, body


def _operations(schema: Any, methods: set[str] | None = None) -> Iterator[APIOperation]:
    for result in schema.get_all_operations():
        operation: APIOperation = result.ok()
        if methods is None or operation.method.upper() in methods:
            yield operation


def _strategy(operation: APIOperation, mode: GenerationMode) -> st.SearchStrategy[Case]:
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if not names:
        return generated
    # Half the cases address demo objects (ids 1..6); the other half keep schemathesis's own ids.
    existing = DEMO_IDS.flatmap(
        lambda i: operation.as_strategy(generation_mode=mode, path_parameters={n: i for n in names})
    )
    return st.one_of(existing, generated)


def with_nul(value: Any) -> Any:
    """``value`` with a NUL character inside every string (dictionary keys left as the schema names them)."""
    if isinstance(value, str):
        half = len(value) // 2
        return value[:half] + "\x00" + value[half:]
    if isinstance(value, dict):
        return {k: with_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_nul(v) for v in value]
    return value


def nul_everywhere(case: Case) -> Case:
    if isinstance(case.body, dict | list | str):
        case.body = with_nul(case.body)
    if case.query:
        case.query = with_nul(dict(case.query))
    if case.path_parameters:
        case.path_parameters = {k: with_nul(v) if isinstance(v, str) else v for k, v in case.path_parameters.items()}
    return case


def numbers_as_strings(value: Any) -> tuple[Any, bool]:
    """``value`` with every integer (not a boolean) sent as its decimal text; whether there was one."""
    if isinstance(value, bool):
        return value, False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, dict):
        pairs = {k: numbers_as_strings(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(c for _, c in pairs.values())
    if isinstance(value, list):
        items = [numbers_as_strings(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _fuzz(
    operation: APIOperation,
    base_url: str,
    headers: dict[str, str],
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    change: Callable[[Case], Case] | None = None,
    examples: int = MAX_EXAMPLES,
) -> int:
    """Fuzz ``operation``; the number of cases sent (raises at the first failing case)."""
    checks: list[Callable[..., Any]] = [no_server_error, problem_details]
    sent = 0
    strategy = st.one_of(*(_strategy(operation, mode) for mode in modes))
    if change is not None:
        strategy = strategy.map(change)

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, headers=headers, timeout=TIMEOUT)
        sent += 1
        case.validate_response(response, checks=checks, headers=headers)

    run()
    return sent


def _fuzz_all(
    server: DemoServer,
    headers: dict[str, str],
    methods: set[str] | None = None,
    fuzz: Callable[[APIOperation, str, dict[str, str]], int] = _fuzz,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    failures: list[str] = []
    count = sent = 0
    started = time.monotonic()
    for operation in _operations(schema, methods):
        count += 1
        try:
            sent += fuzz(operation, server.url, headers)
        except (Exception, BaseExceptionGroup) as exc:
            sent += 1
            failures.append(f"{operation.label}:\n{exc}")
    elapsed = time.monotonic() - started
    print(f"fuzzed {count} operations in {elapsed:.1f}s")
    hostile(sent, len(failures))
    assert count > 0
    assert not failures, (
        f"{len(failures)} of {count} operations failed:\n\n"
        + "\n\n".join(failures)
        + "\n\nserver log:\n"
        + server.tail()
    )


# ------------------------------------------------------------------------------------------ every role, conformance

ROOT = Path(__file__).resolve().parents[2]


def _labels() -> list[str]:
    """The operations of the committed schema (tests/test_docs.py keeps it equal to the app's), for collection."""
    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    methods = {"get", "put", "post", "delete", "patch"}
    return sorted(f"{m.upper()} {path}" for path, item in document["paths"].items() for m in item if m in methods)


@dataclass
class Outcome:
    """What the cases of one role's shard came to."""

    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    schema_violations: list[str] = field(default_factory=list)
    problem_violations: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        return self.server_errors + self.schema_violations + self.problem_violations


def _failed(case: Case, response: Any, headers: dict[str, str], checks: list[Callable[..., Any]]) -> str | None:
    try:
        case.validate_response(response, checks=checks, headers=headers)
    except (Exception, BaseExceptionGroup) as exc:
        return f"{case.operation.label} ({response.status_code}): {str(exc)[:1500]}"
    return None


class Caller:
    """A role's headers; signs in again when an operation ended the session."""

    def __init__(self, server: DemoServer, role: str) -> None:
        self.server = server
        self.role = role
        self.headers = server.login_as(role)

    def renew(self) -> None:
        self.headers = self.server.login_as(self.role)


def _fuzz_conformance(operation: APIOperation, caller: Caller, outcome: Outcome, examples: int) -> None:
    base_url = caller.server.url
    strategy = st.one_of(*(_strategy(operation, mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=strategy)
    def run(case: Case) -> None:
        headers = dict(caller.headers)
        began = time.monotonic()
        response = case.call(base_url=base_url, headers=headers, timeout=TIMEOUT)
        took = time.monotonic() - began
        if took > SLOW:
            print(f"slow: {case.operation.label} as {caller.role} answered {response.status_code} in {took:.1f}s")
        outcome.cases += 1
        for found, checks in (
            (outcome.server_errors, [no_server_error]),
            (outcome.schema_violations, list(SCHEMA_CHECKS)),
            (outcome.problem_violations, [problem_details]),
        ):
            failure = _failed(case, response, headers, checks)
            if failure:
                found.append(failure)
        if operation.label in SESSION_ENDING and response.status_code < 400 and headers:
            caller.renew()

    run()


_SCHEMAS: dict[str, Any] = {}


def _served_operations(server: DemoServer) -> dict[str, APIOperation]:
    if server.url not in _SCHEMAS:
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
        _SCHEMAS[server.url] = {op.label: op for op in _operations(schema)}
    operations: dict[str, APIOperation] = _SCHEMAS[server.url]
    return operations


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda n: f"shard{n}")
@pytest.mark.parametrize("role", list(ROLE_LOGINS))
def test_every_operation_with_each_role(demo_server: DemoServer, role: str, shard: int) -> None:
    """Every operation as each role: 0 server errors, 0 schema violations, 0 problem-format violations."""
    served = _served_operations(demo_server)
    labels = _labels()
    assert sorted(served) == labels, "the served schema differs from docs/openapi.json: regenerate it"
    mine = labels[shard::SHARDS]
    caller = Caller(demo_server, role)
    outcome = Outcome()
    examples = ROLE_EXAMPLES.get(role, OTHER_ROLE_EXAMPLES)
    started = time.monotonic()
    for label in mine:
        _fuzz_conformance(served[label], caller, outcome, examples)
    print(f"{role} shard {shard}: {len(mine)} operations, {outcome.cases} cases in {time.monotonic() - started:.1f}s")

    if role == "district_admin":
        figures.record(SUITE, "operations", len(mine))
    if shard == 0:
        figures.record(SUITE, "roles (and anonymous)", 1)
    figures.record(SUITE, "cases sent", outcome.cases)
    figures.record(SUITE, "server errors", len(outcome.server_errors))
    figures.record(SUITE, "schema violations", len(outcome.schema_violations))
    figures.record(SUITE, "problem-format violations", len(outcome.problem_violations))

    assert outcome.cases >= len(mine)
    failures = outcome.failures()
    assert not failures, (
        f"{len(outcome.server_errors)} server errors, {len(outcome.schema_violations)} schema violations, "
        f"{len(outcome.problem_violations)} problem-format violations in {outcome.cases} cases as {role}:\n\n"
        + "\n\n".join(failures[:40])
        + "\n\nserver log:\n"
        + demo_server.tail()
    )


def hostile(cases: int, not_refused: int) -> None:
    """The figures of the inputs that once gave a 500: what was sent, and how many were not a 4xx problem."""
    figures.record(SUITE, "hostile-input cases (NUL, 1,000-deep JSON, numbers as text)", cases)
    figures.record(SUITE, "hostile inputs not refused with a 4xx problem", not_refused)


def _nul_fuzz(operation: APIOperation, base_url: str, headers: dict[str, str]) -> int:
    return _fuzz(operation, base_url, headers, (GenerationMode.POSITIVE,), nul_everywhere, examples=2)


def test_nul_in_every_string_as_district_admin(demo_server: DemoServer) -> None:
    _fuzz_all(demo_server, demo_server.login_as("district_admin"), fuzz=_nul_fuzz)


def test_nul_in_every_string_anonymously(demo_server: DemoServer) -> None:
    _fuzz_all(demo_server, {}, fuzz=_nul_fuzz)


def _json_operations(server: DemoServer) -> list[APIOperation]:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    return [op for op in _operations(schema, WRITES) if any(b.media_type == "application/json" for b in op.body)]


def _problem_4xx(response: httpx.Response, label: str) -> str | None:
    if not 400 <= response.status_code < 500:
        return f"{label}: {response.status_code} {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{label}: {response.status_code} answered as {response.headers.get('content-type')!r}"
    return None


def test_json_nested_1000_deep_on_every_json_operation(demo_server: DemoServer) -> None:
    headers = {**demo_server.login_as("district_admin"), "Content-Type": "application/json"}
    deep = b"[" * 1000 + b"]" * 1000
    failures = []
    operations = _json_operations(demo_server)
    for op in operations:
        path = op.path.replace("{", "").replace("}", "")
        for name in (p.name for p in op.path_parameters):
            path = path.replace(name, "1")
        r = httpx.request(op.method.upper(), f"{demo_server.url}{path}", content=deep, headers=headers, timeout=TIMEOUT)
        failures.append(_problem_4xx(r, op.label))
    hostile(len(operations), len([f for f in failures if f]))
    assert operations
    assert not [f for f in failures if f], failures
    assert "RecursionError" not in demo_server.tail(200_000)


def test_numbers_sent_as_strings_on_every_json_operation(demo_server: DemoServer) -> None:
    """A valid body with its integers as text (``"100"`` for 100) is refused by every operation, never coerced."""
    headers = demo_server.login_as("district_admin")
    failures: list[str] = []
    tried = 0
    for op in _json_operations(demo_server):

        @hypothesis.settings(
            max_examples=3,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @hypothesis.given(case=_strategy(op, GenerationMode.POSITIVE))
        def run(case: Case) -> None:
            nonlocal tried
            body, changed = numbers_as_strings(case.body)
            if not changed:
                return
            tried += 1
            case.body = body
            r = case.call(base_url=demo_server.url, headers=headers, timeout=TIMEOUT)
            problem = (
                None
                if 400 <= r.status_code < 500
                else f"{case.operation.label}: {r.status_code} for {json.dumps(body)[:200]}"
            )
            if problem:
                failures.append(problem)

        run()
    hostile(tried, len(failures))
    assert tried > 20
    assert not failures, failures
