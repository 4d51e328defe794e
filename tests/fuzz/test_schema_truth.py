"""The app's OpenAPI schema tells the truth about its answers (what the fuzzer's conformance checks found wrong once,
checked here without a server):

* every refusal an operation can give is declared, as ``application/problem+json`` with the problem schema (it
  was Litestar's own ``application/json`` error shape for 400, and 401/403/404/409/422/429/503 were undeclared);
* the routes that send files say so (CSV, XLSX, the bank file, evidence), a report's JSON is not "anything", the OCDS
  packages are JSON objects (they were declared as JSON strings);
* a text download's Content-Type names its charset once (it was ``text/csv; charset=gbk; charset=utf-8``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Response, get
from litestar.testing import AsyncTestClient, TestClient

from marketplace import tabular
from marketplace.app import create_app
from marketplace.errors import PROBLEM_JSON
from tests.conftest import Auth
from tests.support import databases

XLSX = tabular.FORMATS["xlsx"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(databases.test_settings(f"sqlite:///{tmp}/unused.db", Path(tmp)))
        document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    methods = {"get", "put", "post", "delete", "patch"}
    return {f"{m.upper()} {p}": op for p, item in schema["paths"].items() for m, op in item.items() if m in methods}


def test_every_refusal_is_declared_as_a_problem(schema: dict[str, Any]) -> None:
    operations = _operations(schema)
    assert len(operations) > 150
    for label, op in operations.items():
        responses = op["responses"]
        errors = {int(s) for s in responses if int(s) >= 400}
        assert {400, 503} <= errors, label
        for status in errors:
            content = responses[str(status)]["content"]
            assert list(content) == [PROBLEM_JSON], (label, status)
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}, (label, status)
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_the_refusals_of_each_kind_of_operation(schema: dict[str, Any]) -> None:
    ops = _operations(schema)

    def statuses(label: str) -> set[int]:
        return {int(s) for s in ops[label]["responses"] if int(s) >= 400}

    # behind a login, a path id, a write with a body
    assert statuses("PATCH /api/v1/services/{service_id}") == {400, 401, 403, 404, 409, 413, 422, 503}
    assert statuses("GET /api/v1/streets") >= {400, 401, 403, 503}
    # open to all: no 401/403; a path id can be unknown
    assert statuses("GET /api/v1/public/funds/{fund_id}") == {400, 404, 503}
    # sign-in answers a wrong password with 401 and too many attempts with 429; anonymous writes are rate limited
    assert {401, 429} <= statuses("POST /api/v1/auth/login")
    assert {401, 429} <= statuses("POST /api/v1/auth/activate")
    assert 429 in statuses("POST /api/v1/donations")
    assert 429 in statuses("POST /api/v1/organization-applications")
    assert 429 not in statuses("GET /api/v1/services")


def _content(schema: dict[str, Any], label: str, status: str = "200") -> dict[str, Any]:
    content: dict[str, Any] = _operations(schema)[label]["responses"][status]["content"]
    return content


def test_downloads_declare_their_media_types(schema: dict[str, Any]) -> None:
    binary = {"type": "string", "format": "binary"}
    for label in (
        "GET /api/v1/reports/coverage",
        "GET /api/v1/reports/quarterly",
        "GET /api/v1/reports/allowances",
        "GET /api/v1/reports/budget-execution",
    ):
        content = _content(schema, label)
        assert set(content) == {"application/json", "text/csv", XLSX}, label
        assert content["text/csv"]["schema"] == binary
    assert set(_content(schema, "GET /api/v1/reports/fund")) == {"application/json", "text/csv", XLSX}
    assert _content(schema, "GET /api/v1/reports/fund")["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FundReport"
    }
    assert set(_content(schema, "GET /api/v1/allowances/runs/{run_id}/bank-file")) == {"text/csv"}
    assert set(_content(schema, "GET /api/v1/reports/exports/{job_id}/download")) == {"text/csv", XLSX}
    evidence = "GET /api/v1/contracts/{contract_id}/milestones/{milestone_id}/evidence/{sha256}"
    assert set(_content(schema, evidence)) == {"*/*"}
    for label in ("GET /api/v1/procurements/{procurement_id}/ocds", "GET /api/v1/contracts/{contract_id}/ocds"):
        assert _content(schema, label)["application/json"]["schema"]["type"] == "object"
    donation = _content(schema, "POST /api/v1/donations", "201")["application/json"]["schema"]
    assert donation == {"$ref": "#/components/schemas/DonationStarted"}


def test_no_success_answer_is_one_of_anything(schema: dict[str, Any]) -> None:
    """``oneOf: [X, {}]`` refuses every X (it matches both): such a response could never conform."""
    for label, op in _operations(schema).items():
        for status, response in op["responses"].items():
            for media in (response.get("content") or {}).values():
                assert {} not in media.get("schema", {}).get("oneOf", []), (label, status)


def test_a_text_download_names_its_charset_once() -> None:
    @get("/bank")
    async def bank() -> Response[bytes]:
        return tabular.file_response("收款人".encode("gbk"), "text/csv; charset=gbk", "bank.csv")

    @get("/sheet")
    async def sheet() -> Response[bytes]:
        return tabular.download([tabular.Sheet("表", ["a"], [[1]])], "xlsx", "sheet")

    with TestClient(Litestar([bank, sheet])) as client:
        r = client.get("/bank")
        assert r.headers["content-type"] == "text/csv; charset=gbk"
        assert r.content.decode("gbk") == "收款人"
        assert r.headers["content-disposition"] == 'attachment; filename="bank.csv"'
        assert client.get("/sheet").headers["content-type"] == XLSX


async def test_a_report_csv_names_its_charset_once(client: AsyncTestClient[Litestar], auth: Auth) -> None:
    r = await client.get("/api/v1/reports/coverage?format=csv", headers=await auth("admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    r = await client.get("/api/v1/reports/coverage?format=xlsx", headers=await auth("admin"))
    assert r.headers["content-type"] == XLSX
