"""Organizations' applications: validation, duplicates, the applicant's reference, the district's review."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.accounts.models import OrganizationApplication
from marketplace.auth.models import User
from marketplace.db import Database
from tests.accounts.support import application, audit_actions
from tests.conftest import Auth
from tests.support.world import World, valid_code

Client = AsyncTestClient[Litestar]
BASE = "/api/v1/organization-applications"


def form(world: World, **overrides: Any) -> dict[str, Any]:
    """An application serving the world's first street unless told otherwise."""
    return application(**{"street_ids": [world.streets[0]], **overrides})


async def submit(client: Client, world: World, **overrides: Any) -> dict[str, Any]:
    r = await client.post(BASE, json=form(world, **overrides))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_only_the_hash_of_the_reference_is_kept(client: Client, world: World, db: Database) -> None:
    receipt = await submit(client, world)
    async with db.session(write=False) as session:
        row = await session.get(OrganizationApplication, receipt["id"])
        assert row is not None
        assert row.reference_hash == hashlib.sha256(receipt["reference"].encode()).hexdigest()
        assert receipt["reference"] not in repr(row.__dict__)
    # The reference of one application does not open another.
    other = await submit(client, world, n=0, credit_code=valid_code(102), name="另一家机构")
    r = await client.post(f"{BASE}/{other['id']}/status", json={"reference": receipt["reference"]})
    assert r.status_code == 404


async def test_duplicates_are_conflicts(client: Client, world: World, auth: Auth) -> None:
    # An organization already in the pool (world's first), by code or by name.
    r = await client.post(BASE, json=form(world, credit_code=valid_code(1)))
    assert r.status_code == 409
    r = await client.post(BASE, json=form(world, name="深圳市福田区启航社会工作服务中心"))
    assert r.status_code == 409
    first = await submit(client, world)
    assert (await client.post(BASE, json=form(world))).status_code == 409  # pending application, same code
    # Once rejected, the organization may apply again.
    admin = await auth("admin")
    r = await client.post(f"{BASE}/{first['id']}/reject", json={"reason": "资质不符"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["review_note"] == "资质不符"
    assert (await client.post(BASE, json=form(world))).status_code == 201


async def test_the_review_state_machine(client: Client, world: World, auth: Auth) -> None:
    admin = await auth("admin")
    a = await submit(client, world)
    ref = a["reference"]
    # Supplementing is only an answer to a request for more.
    r = await client.post(f"{BASE}/{a['id']}/supplement", json={"reference": ref, "application": form(world)})
    assert r.status_code == 409
    r = await client.post(f"{BASE}/{a['id']}/request-more", json={"reason": "请补充章程"}, headers=admin)
    assert r.status_code == 200
    # Cannot approve while waiting for the applicant; asking twice is a conflict too.
    assert (await client.post(f"{BASE}/{a['id']}/approve", headers=admin)).status_code == 409
    r = await client.post(f"{BASE}/{a['id']}/request-more", json={"reason": "再补充"}, headers=admin)
    assert r.status_code == 409
    # A wrong reference cannot supplement.
    r = await client.post(f"{BASE}/{a['id']}/supplement", json={"reference": "A" * 32, "application": form(world)})
    assert r.status_code == 404
    r = await client.post(f"{BASE}/{a['id']}/supplement", json={"reference": ref, "application": form(world)})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    # A reason is required (blank is refused).
    for blank in ("   ", "a\x00b"):
        r = await client.post(f"{BASE}/{a['id']}/reject", json={"reason": blank}, headers=admin)
        assert r.status_code == 422
    r = await client.post(f"{BASE}/{a['id']}/approve", headers=admin)
    assert r.status_code == 200
    # Decided: nothing more happens to it.
    for path, body in (("approve", None), ("reject", {"reason": "x"}), ("request-more", {"reason": "x"})):
        assert (await client.post(f"{BASE}/{a['id']}/{path}", json=body, headers=admin)).status_code == 409
    r = await client.post(f"{BASE}/{a['id']}/status", json={"reference": ref})
    assert r.json()["status"] == "approved" and r.json()["organization_id"] is not None


async def test_who_reviews(client: Client, world: World, auth: Auth) -> None:
    a = await submit(client, world, contact_phone="13912345678")
    auditor = await auth("auditor")
    r = await client.get(BASE, headers=auditor)
    assert r.status_code == 200 and r.json()["items"][0]["contact_phone"] == "139****5678"
    assert (await client.post(f"{BASE}/{a['id']}/approve", headers=auditor)).status_code == 403
    for name in ("org", "director", "fund"):
        headers = await auth(name)
        assert (await client.get(BASE, headers=headers)).status_code == 403
        assert (await client.get(f"{BASE}/{a['id']}", headers=headers)).status_code == 403
        assert (await client.post(f"{BASE}/{a['id']}/approve", headers=headers)).status_code == 403
    assert (await client.get(BASE)).status_code == 401
    admin = await auth("admin")
    listed = (await client.get(f"{BASE}?status=submitted", headers=admin)).json()
    assert listed["total"] == 1 and listed["items"][0]["contact_phone"] == "13912345678"
    assert (await client.get(f"{BASE}?status=approved", headers=admin)).json()["total"] == 0


async def test_approval_names_the_admin_uniquely(client: Client, world: World, auth: Auth, db: Database) -> None:
    admin = await auth("admin")
    a = await submit(client, world, street_ids=[world.streets[0], world.streets[1], world.streets[0]], kind="charity")
    approval = (await client.post(f"{BASE}/{a['id']}/approve", headers=admin)).json()
    org_id = approval["organization_id"]
    assert approval["admin"]["username"] == f"org{org_id}-admin"
    assert approval["application"]["kind"] == "charity"
    r = await client.get(f"/api/v1/organizations/{org_id}", headers=admin)
    assert r.json()["status"] == "approved" and r.json()["street_ids"] == sorted(world.streets)
    # The kind the applicant chose is the organization's.
    assert r.json()["kind"] == "charity"
    # A username already taken gets a suffix.
    async with db.session() as session:
        session.add(User(username=f"org{org_id + 1}-admin", display_name="占用", password_hash="!", role="auditor"))
    b = await submit(client, world, credit_code=valid_code(103), name="第二家机构")
    second = (await client.post(f"{BASE}/{b['id']}/approve", headers=admin)).json()
    assert second["organization_id"] == org_id + 1
    assert second["admin"]["username"] == f"org{org_id + 1}-admin-2"
    rows = [a for a in await audit_actions(db) if a[0].startswith("application.")]
    assert [r[0] for r in rows] == [
        "application.submit",
        "application.approve",
        "application.submit",
        "application.approve",
    ]
    assert rows[0][3] == "system"  # the applicant has no account


@pytest.mark.parametrize(
    "overrides",
    [
        {"credit_code": "91440300MA5XXXXXX1"},  # wrong check character
        {"credit_code": "abc"},
        {"credit_code": valid_code(5)[:-1] + "I"},  # I is not in the alphabet
        {"street_ids": []},
        {"street_ids": [999_999]},
        {"street_ids": [0]},
        {"street_ids": [2**31]},
        {"contact_phone": "010-12345678"},
        {"qualifications": "短"},
        {"name": "x"},
        {"kind": "bank"},
        {"legal_representative": ""},
        {"unknown": 1},
        {"contact_email": "x" * 201},
        {"name": "\x00\x00"},
    ],
)
async def test_bad_applications_are_4xx(client: Client, world: World, overrides: dict[str, Any]) -> None:
    body = form(world)
    body.update(overrides)
    r = await client.post(BASE, json=body)
    assert 400 <= r.status_code < 500, r.text


async def test_bad_applicant_requests_are_4xx(client: Client, world: World) -> None:
    a = await submit(client, world, street_ids=[world.streets[0]])
    for path, body in [
        (f"{BASE}/{a['id']}/status", {}),
        (f"{BASE}/{a['id']}/status", {"reference": "short"}),
        (f"{BASE}/{a['id']}/status", {"reference": "x" * 65}),
        (f"{BASE}/{a['id']}/status", {"reference": "../../etc/passwd-xxxxxxxx"}),
        (f"{BASE}/{2**40}/status", {"reference": a["reference"]}),
        (f"{BASE}/0/status", {"reference": a["reference"]}),
        (f"{BASE}/{a['id']}/supplement", {"reference": a["reference"]}),
        (f"{BASE}/{a['id']}/supplement", {"reference": a["reference"], "application": {}}),
    ]:
        r = await client.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, body, r.text)
