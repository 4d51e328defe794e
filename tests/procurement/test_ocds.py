"""The contract as an OCDS 1.1.5 release package, validated against the schema shipped in shared/data/ocds."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.conftest import Auth, assert_problem
from tests.procurement.helpers import accept, awarded_procurement, contract_body, line_id, make_budget

# Copied unchanged from shared/data/ocds (OCDS 1.1.5, open-contracting/standard; see ocds/SOURCE.md).
OCDS = Path(__file__).parent / "ocds"
RELEASE_URL = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"


def validator():
    import jsonschema
    import referencing
    from referencing.jsonschema import DRAFT4

    package = json.loads((OCDS / "release-package-schema.json").read_text())
    release = json.loads((OCDS / "release-schema.json").read_text())
    registry = referencing.Registry().with_resource(RELEASE_URL, DRAFT4.create_resource(release))
    return jsonschema.Draft4Validator(package, registry=registry, format_checker=jsonschema.FormatChecker())


async def test_contract_exports_valid_ocds(client, auth: Auth, world) -> None:
    check = validator()
    assert list(check.iter_errors({"version": "1.1", "releases": [{"ocid": 1}]}))
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
    await accept(client, auth, c, 0)
    await client.post(
        f"/api/v1/contracts/{c['id']}/payments",
        json={"milestone_id": c["milestones"][0]["id"], "amount_fen": 4_938_271},
        headers=officer,
    )
    await client.post(
        f"/api/v1/contracts/{c['id']}/amendments", json={"delta_fen": 5, "reason": "追加"}, headers=officer
    )
    r = await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=await auth("auditor"))
    assert r.status_code == 200, r.text
    raw = r.text
    package = json.loads(raw, parse_float=Decimal)
    errors = sorted(check.iter_errors(json.loads(raw)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    release = package["releases"][0]
    assert release["ocid"] == f"ocds-ft0001-{p['id']}"
    assert release["tender"]["procurementMethod"] == "limited"
    assert release["tender"]["procurementMethodDetails"] == "竞争性磋商"
    contract = release["contracts"][0]
    # Exact yuan from fen: 12,345,679 + 5 fen = 123456.84 yuan; written as a JSON number, not a string or float.
    assert contract["value"] == {"amount": Decimal("123456.84"), "currency": "CNY"}
    assert '"amount":123456.84' in raw.replace(" ", "")
    tx = contract["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in tx] == [Decimal("49382.71")]
    assert [m["status"] for m in contract["milestones"]] == ["met", "scheduled", "scheduled"]
    assert contract["amendments"][0]["rationale"] == "追加"
    supplier = next(x for x in release["parties"] if "supplier" in x["roles"])
    assert supplier["identifier"]["scheme"] == "CN-USCC" and len(supplier["identifier"]["id"]) == 18
    assert_problem(await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=await auth("org")), 403)
    assert_problem(await client.get("/api/v1/contracts/9999/ocds", headers=officer), 404)


async def test_method_mapping(client, auth: Auth, world) -> None:
    check = validator()
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
        assert not list(check.iter_errors(package)), method
        tender = package["releases"][0]["tender"]
        assert (tender["procurementMethod"], tender["procurementMethodDetails"]) == (code, label)
