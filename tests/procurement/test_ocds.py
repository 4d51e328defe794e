"""OCDS 1.1.5 releases and records that the standard's own tools accept.

libcoveocds (the Open Contracting Partnership's validator, the library behind the Data Review Tool) checks each
package against the schema of the standard's 1__1__5 archive, vendored in ocds/ (see ocds/SOURCE.md). The packages
declare no extension, so nothing is fetched; the tests forbid the network to prove it.
"""

from __future__ import annotations

import json
import random
import tempfile
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from libcoveocds.api import ocds_json_output
from libcoveocds.config import LibCoveOCDSConfig
from ocdsmerge import Merger

from marketplace.procurement import demo
from marketplace.settings import get_settings
from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import (
    accept,
    awarded_procurement,
    bid,
    contract_body,
    line_id,
    make_budget,
    open_procurement,
)

STANDARD_ZIP = Path(__file__).parent / "ocds" / "standard-1__1__5-schema.zip"
STANDARD_URL = "https://standard.open-contracting.org/schema/1__1__5/"
BUYER_CODE = "11440304MB2C12345X"  # an example 统一社会信用代码 of the buyer, set through the settings


@pytest.fixture(autouse=True)
def buyer_code(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The buyer's credit code comes from the settings (the procurement rules are read from the environment)."""
    monkeypatch.setenv("PROCUREMENT_BUYER_CREDIT_CODE", BUYER_CODE)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: the standard's schema files are served from the vendored archive, anything else fails.

    (The record package schema refers to the versioned release schema by its URL, which jsonref resolves with
    requests.)
    """
    with zipfile.ZipFile(STANDARD_ZIP) as archive:
        files = {Path(n).name: archive.read(n) for n in archive.namelist() if n.endswith(".json")}

    def serve(session: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        name = url.removeprefix(STANDARD_URL)
        if method.upper() != "GET" or not url.startswith(STANDARD_URL) or name not in files:
            raise AssertionError(f"network access during an OCDS check: {method} {url}")
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response._content = files[name]
        response.headers["Content-Type"] = "application/json"
        return response

    monkeypatch.setattr(requests.Session, "request", serve)


def merger() -> Merger:
    """ocdsmerge (the merge routine of the standard's tools) with the vendored 1.1.5 release schema."""
    with zipfile.ZipFile(STANDARD_ZIP) as archive:
        schema = json.loads(archive.read("standard-1__1__5/schema/release-schema.json"))
    return Merger(schema=schema)


def cove(package: dict[str, Any], *, record: bool = False) -> dict[str, Any]:
    """libcoveocds's report on a package, validated against the vendored 1.1.5 schema with every check."""
    config = LibCoveOCDSConfig()
    config.config["standard_zip"] = f"file://{STANDARD_ZIP}"
    config.config["additional_checks"] = "all"
    config.config["context"] = "api"
    with tempfile.TemporaryDirectory() as out:
        result: dict[str, Any] = ocds_json_output(
            out, json_data=package, lib_cove_ocds_config=config, record_pkg=record
        )
    return result


def assert_accepted(package: dict[str, Any], *, record: bool = False) -> None:
    result = cove(package, record=record)
    assert result["version_used"] == "1.1"
    assert result["validation_errors"] == [], result["validation_errors"][:3]
    assert result["additional_fields"] == [], result["additional_fields"][:5]
    assert result["all_additional_fields"] == []
    assert result["deprecated_fields"] == []
    assert result["additional_closed_codelist_values"] == {}
    assert result.get("additional_checks", {}) == {}, result["additional_checks"]


async def signed_contract(client: Any, auth: Auth, world: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    officer = await auth("procurement")
    line = line_id(await make_budget(client, officer), "purchase_services")
    p = await awarded_procurement(
        client,
        auth,
        line,
        org_id=world.orgs[0],
        price_fen=12_345_679,
        method="competitive_consultation",
        categories=["psych_counselling", "hotline"],
    )
    c = (
        await client.post("/api/v1/contracts", json=contract_body(p["id"], world.orgs[0], 12_345_679), headers=officer)
    ).json()
    return p, c


async def test_contract_release_package_is_accepted_by_libcoveocds(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    p, c = await signed_contract(client, auth, world)
    await accept(client, auth, c, 0)
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 4_938_271},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    for delta in (5, 7, -2):  # three amendments: three releases, each with its own id and date
        r = await client.post(
            f"/api/v1/contracts/{c['id']}/amendments", json={"delta_fen": delta, "reason": "追加"}, headers=officer
        )
        assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=await auth("auditor"))
    assert r.status_code == 200, r.text
    raw = r.text
    package = json.loads(raw, parse_float=Decimal)
    assert_accepted(json.loads(raw))
    releases = package["releases"]
    ocid = f"ocds-ft0001-{p['id']}"
    assert [x["tag"] for x in releases] == [
        ["tender"],
        ["award"],
        ["contract"],
        ["implementation"],
        ["implementation"],
        ["contractAmendment"],
        ["contractAmendment"],
        ["contractAmendment"],
    ]
    assert len({x["id"] for x in releases}) == len(releases)
    assert len({x["date"] for x in releases}) == len(releases)
    assert [x["date"] for x in releases] == sorted(x["date"] for x in releases)
    assert all(x["ocid"] == ocid for x in releases)
    assert releases[1]["id"] == f"{ocid}-award-{p['awarded_bid_id']}"
    release = releases[-1]
    assert release["tender"]["procurementMethod"] == "limited"
    assert release["tender"]["procurementMethodDetails"] == "竞争性磋商"
    assert [i["description"] for i in release["tender"]["items"]] == ["心理疏导", "热线运行"]
    contract = release["contracts"][0]
    # Exact yuan from fen: 12,345,679 + 5 + 7 - 2 fen = 123456.89 yuan; a JSON number, not a string or float.
    assert contract["value"] == {"amount": Decimal("123456.89"), "currency": "CNY"}
    assert '"amount":123456.89' in raw.replace(" ", "")
    assert [a["description"] for a in contract["amendments"]] == [
        "合同金额变更 +0.05元",
        "合同金额变更 +0.07元",
        "合同金额变更 -0.02元",
    ]
    tx = contract["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in tx] == [Decimal("49382.71")]
    assert [m["status"] for m in contract["milestones"]] == ["met", "scheduled", "scheduled"]
    # Each release carries the state after its own change: the contract release has no payment yet.
    assert "implementation" not in releases[2]["contracts"][0]
    assert "contracts" not in releases[1] and "awards" not in releases[0]
    supplier = next(x for x in release["parties"] if "supplier" in x["roles"])
    assert supplier["identifier"]["scheme"] == "CN-USCI" and len(supplier["identifier"]["id"]) == 18
    assert supplier["id"] == f"CN-USCI-{supplier['identifier']['id']}"
    buyer = next(x for x in release["parties"] if "buyer" in x["roles"])
    assert buyer["identifier"] == {"scheme": "CN-USCI", "id": BUYER_CODE, "legalName": "深圳市福田区民政局"}
    assert release["buyer"] == {"id": f"CN-USCI-{BUYER_CODE}", "name": "深圳市福田区民政局"}
    assert_problem(await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=await auth("org")), 403)
    assert_problem(await client.get("/api/v1/contracts/9999/ocds", headers=officer), 404)


async def test_record_package_compiles_the_same_in_any_order(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    p, c = await signed_contract(client, auth, world)
    await accept(client, auth, c, 0)
    await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 1_000_000},
        headers=officer,
    )
    for delta in (5, 7):
        await client.post(
            f"/api/v1/contracts/{c['id']}/amendments", json={"delta_fen": delta, "reason": "追加"}, headers=officer
        )
    r = await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)
    assert r.status_code == 200, r.text
    package = r.json()
    assert_accepted(package, record=True)
    (record,) = package["records"]
    releases = record["releases"]
    merge = merger()
    compiled = merge.create_compiled_release(releases)
    rng = random.Random(14)
    for _ in range(5):
        shuffled = releases[:]
        rng.shuffle(shuffled)
        assert merge.create_compiled_release(shuffled) == compiled
        assert merge.create_compiled_release(list(reversed(releases))) == compiled
    # The record's own compiled release is the one the standard's merge routine makes.
    assert record["compiledRelease"] == compiled
    assert compiled["contracts"][0]["value"]["amount"] == 123456.91
    # The contract endpoint's releases are the same releases.
    contract_package = (await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=officer)).json()
    assert contract_package["releases"] == releases
    assert_problem(await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=await auth("org")), 403)
    assert_problem(await client.get("/api/v1/procurements/9999/ocds", headers=officer), 404)


async def test_a_tender_not_yet_awarded_has_one_release(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    line = line_id(await make_budget(client, officer), "purchase_services")
    body = {
        "budget_line_id": line,
        "title": "困境儿童心理服务项目",
        "method": "open_tender",
        "estimated_fen": 1_000_000,
        "service_categories": ["psych_counselling"],
    }
    p = (await client.post("/api/v1/procurements", json=body, headers=officer)).json()
    package = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()
    assert_accepted(package, record=True)
    (record,) = package["records"]
    assert [x["tag"] for x in record["releases"]] == [["tender"]]
    assert record["compiledRelease"]["tender"]["status"] == "active"


async def test_method_mapping(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    line = line_id(await make_budget(client, officer), "purchase_services")
    expected = [
        ("open_tender", "open", "公开招标"),
        ("invited_tender", "selective", "邀请招标"),
        ("competitive_negotiation", "limited", "竞争性谈判"),
        ("request_for_quotation", "limited", "询价"),
        ("single_source", "direct", "单一来源采购"),
    ]
    for method, code, label in expected:
        p = await awarded_procurement(client, auth, line, org_id=world.orgs[1], price_fen=1_000_000, method=method)
        c = (
            await client.post(
                "/api/v1/contracts", json=contract_body(p["id"], world.orgs[1], 1_000_000), headers=officer
            )
        ).json()
        package = (await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=officer)).json()
        assert_accepted(package)
        tender = package["releases"][-1]["tender"]
        assert (tender["procurementMethod"], tender["procurementMethodDetails"]) == (code, label)


async def test_every_demo_package_is_accepted(client, auth: Auth, db, world) -> None:
    ctx = {"organizations": list(dict.fromkeys(world.orgs + world.suppliers)), "users": dict(world.users)}
    async with db.session() as session:
        await demo.load(session, ctx)
    officer = await auth("procurement")
    procurements = (await client.get("/api/v1/procurements", headers=officer)).json()["items"]
    contracts = (await client.get("/api/v1/contracts", headers=officer)).json()["items"]
    assert procurements and contracts
    for p in procurements:
        package = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()
        assert_accepted(package, record=True)
        releases = package["records"][0]["releases"]
        assert merger().create_compiled_release(releases[::-1]) == package["records"][0]["compiledRelease"]
    for c in contracts:
        package = (await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=officer)).json()
        assert_accepted(package)


async def test_releases_are_stored_as_made_and_never_rewritten(client, auth: Auth, db, world) -> None:
    from sqlalchemy import select, update

    from marketplace.procurement.models import OcdsRelease, Procurement

    officer = await auth("procurement")
    p, c = await signed_contract(client, auth, world)
    async with db.session(write=False) as session:
        stored = (await session.scalars(select(OcdsRelease).order_by(OcdsRelease.date))).all()
    ocid = f"ocds-ft0001-{p['id']}"
    assert [(r.release_id, r.tag) for r in stored] == [
        (f"{ocid}-tender-{p['id']}", ["tender"]),
        (f"{ocid}-award-{p['awarded_bid_id']}", ["award"]),
        (f"{ocid}-contract-{c['id']}", ["contract"]),
    ]
    assert stored[2].contract_id == c["id"] and stored[0].contract_id is None
    before = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()["records"][0]
    # A later edit of the rows changes only the releases of later changes.
    async with db.session() as session:
        await session.execute(update(Procurement).where(Procurement.id == p["id"]).values(title="更正后的项目名称"))
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/amendments", json={"delta_fen": 100, "reason": "追加"}, headers=officer
    )
    assert r.status_code == 201, r.text
    record = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()["records"][0]
    assert record["releases"][:3] == before["releases"]
    assert [x["tender"]["title"] for x in record["releases"]] == ["困境儿童心理服务项目"] * 3 + ["更正后的项目名称"]
    assert record["releases"][3]["tag"] == ["contractAmendment"]
    assert record["releases"][3]["date"] > record["releases"][2]["date"]
    assert record["compiledRelease"]["tender"]["title"] == "更正后的项目名称"
    assert merger().create_compiled_release(record["releases"][::-1]) == record["compiledRelease"]
    assert_accepted({**(await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()}, record=True)
    async with db.session(write=False) as session:
        assert len((await session.scalars(select(OcdsRelease))).all()) == 4


@pytest.mark.parametrize(
    ("end", "status", "label"), [("fail", "unsuccessful", "采购失败（废标）"), ("cancel", "cancelled", "采购终止")]
)
async def test_a_failed_or_cancelled_procurement_ends_with_a_tender_cancellation(
    client, auth: Auth, world, end: str, status: str, label: str
) -> None:
    officer = await auth("procurement")
    line = line_id(await make_budget(client, officer), "purchase_services")
    p = await open_procurement(client, auth, line, estimated_fen=3_000_000)
    for org in world.suppliers[:2]:
        assert (await bid(client, auth, p["id"], org, 2_900_000)).status_code == 201
    body = {"reason": "投标人不足3家，废标"} if end == "fail" else None
    r = await client.post(f"/api/v1/procurements/{p['id']}/{end}", json=body, headers=officer)
    assert r.status_code == 200, r.text
    package = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()
    assert_accepted(package, record=True)
    releases = package["records"][0]["releases"]
    ocid = f"ocds-ft0001-{p['id']}"
    assert [(x["id"], x["tag"]) for x in releases] == [
        (f"{ocid}-tender-{p['id']}", ["tender"]),
        (f"{ocid}-cancellation-{p['id']}", ["tenderCancellation"]),
    ]
    assert releases[0]["tender"]["status"] == "active" and releases[0]["date"] < releases[1]["date"]
    ended = package["records"][0]["compiledRelease"]["tender"]
    assert ended["status"] == status and ended["description"].startswith(label)
    assert ended["numberOfTenderers"] == 2


async def test_open_data_names_no_contact_person_or_mobile(client, auth: Auth, db, world) -> None:
    """Suppliers appear by name, credit code and address; never their contact person or phone (issue #17), not
    even from releases stored before (they are redacted as they are served)."""
    from sqlalchemy import select

    from marketplace.procurement.models import OcdsRelease
    from marketplace.resources.models import Organization

    p, c = await signed_contract(client, auth, world)
    async with db.session() as session:
        orgs = (await session.scalars(select(Organization))).all()
        private = {o.contact_name for o in orgs} | {o.contact_phone for o in orgs}
        stored = (await session.scalars(select(OcdsRelease))).all()
        assert stored
        for row in stored:  # as a release stored before the change carried it
            assert "contactPoint" not in row.body
            row.body = row.body.replace(
                '"roles":', '"contactPoint":{"name":"李主任","telephone":"13800000001"},"roles":'
            )
    auditor = await auth("auditor")
    for url in (f"/api/v1/contracts/{c['id']}/ocds", f"/api/v1/procurements/{p['id']}/ocds"):
        r = await client.get(url, headers=auditor)
        assert r.status_code == 200, r.text
        assert "contactPoint" not in r.text
        assert not [x for x in private if x and x in r.text]
        assert_accepted(r.json(), record="procurements" in url)
