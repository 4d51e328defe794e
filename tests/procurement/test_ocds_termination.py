"""A contract ended early (解除合同) in the OCDS export (issue #16): its own ``contractTermination`` release, the
contract's status ``terminated`` (OCDS 1.1's contractStatus codelist) from that release on, the termination date and
reason in the release (the contract's description, its period's end and an amendment), accepted by libcoveocds
against the vendored 1.1.5 schema; the releases before it are unchanged."""

from __future__ import annotations

import datetime as dt

from marketplace import clock
from tests.conftest import Auth
from tests.procurement.test_ocds import accept, assert_accepted, buyer_code, merger, offline, signed_contract

__all__ = ["buyer_code", "offline"]

REASON = "服务机构停止运营，无法继续履约"


async def test_a_terminated_contract_has_its_termination_release(client, auth: Auth, world) -> None:
    officer = await auth("procurement")
    p, c = await signed_contract(client, auth, world)
    await accept(client, auth, c, 0)
    before = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()["records"][0]
    assert all(x["status"] == "active" for r in before["releases"] for x in r.get("contracts", []))
    on = clock.today()
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/terminate",
        json={"reason": REASON, "terminated_on": on.isoformat()},
        headers=officer,
    )
    assert r.status_code == 200, r.text
    package = (await client.get(f"/api/v1/procurements/{p['id']}/ocds", headers=officer)).json()
    assert_accepted(package, record=True)
    record = package["records"][0]
    releases = record["releases"]
    ocid = f"ocds-ft0001-{p['id']}"
    assert releases[: len(before["releases"])] == before["releases"]
    last = releases[-1]
    assert last["id"] == f"{ocid}-termination-{c['id']}" and last["tag"] == ["contractTermination"]
    assert last["date"] > releases[-2]["date"]
    (contract,) = last["contracts"]
    assert contract["status"] == "terminated"
    assert contract["description"] == f"合同于 {on.isoformat()} 提前解除：{REASON}"
    note = next(a for a in contract["amendments"] if a["id"] == f"termination-{c['id']}")
    assert note["rationale"] == REASON and note["date"].startswith(on.isoformat())
    assert "解除合同" in note["description"]
    if dt.date.fromisoformat(c["starts_on"]) <= on < dt.date.fromisoformat(c["ends_on"]):
        assert contract["period"]["endDate"].startswith(on.isoformat())
    compiled = record["compiledRelease"]["contracts"][0]
    assert compiled["status"] == "terminated" and compiled["description"].endswith(REASON)
    assert merger().create_compiled_release(releases[::-1]) == record["compiledRelease"]
    # The contract's own release package carries it too.
    own = await client.get(f"/api/v1/contracts/{c['id']}/ocds", headers=officer)
    assert own.status_code == 200, own.text
    assert any(x["tag"] == ["contractTermination"] for x in own.json()["releases"])
