"""Shared contact on referrals: the provider reads the contact fields the caseworker chose, decrypted, only while
it holds the referral (accepted … completed), never the fields not shared, never before or after."""

from __future__ import annotations

from sqlalchemy import select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child
from tests.cases.support import Cases, add_child, add_need
from tests.conftest import assert_problem

ADDRESS = "福田区福山社区某某花园3栋"


async def a_child(db, settings, world, *, consent: bool = True, seq: str = "971") -> tuple[int, int]:
    async with db.session() as s:
        child = await add_child(
            s, settings, world.communities[0], world.streets[0], name="周小安", consent=consent, seq=seq
        )
        child.address_enc = field_cipher(settings).encrypt(ADDRESS, "children.address")
        child.guardian_relation = "母亲"
        need = await add_need(s, child, "psych_counselling")
        return child.id, need.id


async def send(client, auth, world, need_id: int, fields: list[str], who: str = "director", **extra) -> dict:
    body = {"need_id": need_id, "service_id": world.services[0], "share_contact": fields, **extra}
    r = await client.post("/api/v1/referrals", json=body, headers=await auth(who))
    assert r.status_code == 201, r.text
    return r.json()


async def read(client, auth, rid: int, who: str = "org") -> dict:
    r = await client.get(f"/api/v1/referrals/{rid}", headers=await auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def last_read_fields(db, child_id: int, user_id: int) -> list[str]:
    async with db.session(write=False) as s:
        row = await s.scalar(
            select(AuditEntry)
            .where(AuditEntry.entity == "child", AuditEntry.entity_id == child_id, AuditEntry.user_id == user_id)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        assert row is not None
        return list(row.fields)


async def test_the_provider_reads_the_shared_fields_only_while_it_holds_the_referral(
    client, auth, cases: Cases, world, db, settings
) -> None:
    child_id, need_id = await a_child(db, settings, world)
    ref = await send(client, auth, world, need_id, ["guardian_phone", "address"])
    rid = ref["id"]
    assert ref["shared_fields"] == ["guardian_phone", "address"] and ref["contact"] is None
    # Sent, not yet accepted: nothing.
    sent = await read(client, auth, rid)
    assert sent["contact"] is None and sent["shared_fields"] == []
    assert "13900001234" not in str(sent)
    assert "guardian_phone" not in await last_read_fields(db, child_id, world.users["org"])
    org = await auth("org")
    assert (await client.post(f"/api/v1/referrals/{rid}/accept", headers=org)).status_code == 200
    for step in ("accepted", "in_service", "completed"):
        seen = await read(client, auth, rid)
        assert seen["status"] == step
        assert seen["shared_fields"] == ["guardian_phone", "address"]
        # Only the shared fields, decrypted; the guardian's name was not shared.
        assert seen["contact"] == {
            "guardian_name": None,
            "guardian_relation": None,
            "guardian_phone": "13900001234",
            "address": ADDRESS,
        }
        fields = await last_read_fields(db, child_id, world.users["org"])
        assert "guardian_phone" in fields and "address" in fields
        if step == "accepted":
            assert (await client.post(f"/api/v1/referrals/{rid}/start", headers=org)).status_code == 200
        elif step == "in_service":
            r = await client.post(f"/api/v1/referrals/{rid}/complete", json={"outcome": "got_help"}, headers=org)
            assert r.status_code == 200, r.text
    # Another provider never reads it; the child's staff see which fields are shared, not the contact.
    assert (await client.get(f"/api/v1/referrals/{rid}", headers=await auth("org2"))).status_code == 404
    for who in ("director", "supervisor"):
        staff = await read(client, auth, rid, who)
        assert staff["shared_fields"] == ["guardian_phone", "address"] and staff["contact"] is None
    # Closed (after the follow-up visit): gone.
    h = await auth("director")
    visit = {"visited_on": clock.today().isoformat(), "kind": "home", "findings": "回访"}
    assert (await client.post(f"/api/v1/children/{child_id}/visits", json=visit, headers=h)).status_code == 201
    r = await client.post(f"/api/v1/referrals/{rid}/close", json={"verdict": "met"}, headers=h)
    assert r.status_code == 200, r.text
    closed = await read(client, auth, rid)
    assert closed["status"] == "closed" and closed["contact"] is None and closed["shared_fields"] == []
    assert "guardian_phone" not in await last_read_fields(db, child_id, world.users["org"])
    # The list shows the same as the read.
    listed = (await client.get("/api/v1/referrals", headers=org)).json()["items"]
    assert all(item["contact"] is None for item in listed if item["id"] == rid)


async def test_revoked_or_declined_shows_nothing_and_the_caseworker_changes_what_is_shared(
    client, auth, cases: Cases, world, db, settings
) -> None:
    _, need_id = await a_child(db, settings, world)
    rid = (await send(client, auth, world, need_id, ["guardian_name"]))["id"]
    org = await auth("org")
    assert (await client.post(f"/api/v1/referrals/{rid}/accept", headers=org)).status_code == 200
    seen = await read(client, auth, rid)
    assert seen["contact"] == {
        "guardian_name": "张建国",
        "guardian_relation": "母亲",
        "guardian_phone": None,
        "address": None,
    }
    # The director shares the address instead: the provider reads that, and no longer the name.
    h = await auth("director")
    r = await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": ["address"]}, headers=h)
    assert r.status_code == 200 and r.json()["shared_fields"] == ["address"] and r.json()["contact"] is None
    seen = await read(client, auth, rid)
    assert seen["contact"] == {
        "guardian_name": None,
        "guardian_relation": None,
        "guardian_phone": None,
        "address": ADDRESS,
    }
    async with db.session(write=False) as s:
        change = await s.scalar(select(AuditEntry).where(AuditEntry.action == "share_contact"))
        assert change is not None and change.entity_id == rid and change.detail["before"] == ["guardian_name"]
    # Only the caseworker sets it; unknown fields are refused.
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": []}, headers=org), 403)
    assert_problem(
        await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": []}, headers=await auth("admin")), 403
    )
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": ["id_number"]}, headers=h), 400)
    # Revoked: gone, and no longer changeable.
    r = await client.post(f"/api/v1/referrals/{rid}/revoke", json={"reason": "家庭搬迁"}, headers=h)
    assert r.status_code == 200
    revoked = await read(client, auth, rid)
    assert revoked["contact"] is None and revoked["shared_fields"] == []
    assert_problem(await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": ["address"]}, headers=h), 409)
    # Declined: never shown.
    rid2 = (await send(client, auth, world, need_id, ["guardian_phone"]))["id"]
    r = await client.post(f"/api/v1/referrals/{rid2}/decline", json={"reason": "满员"}, headers=org)
    assert r.status_code == 200
    declined = await read(client, auth, rid2)
    assert declined["contact"] is None and declined["shared_fields"] == []


async def test_contact_is_shared_only_with_the_guardians_consent_or_an_override(
    client, auth, cases: Cases, world, db, settings
) -> None:
    _, need_id = await a_child(db, settings, world, consent=False, seq="973")
    body = {"need_id": need_id, "service_id": world.services[0], "share_contact": ["guardian_phone"]}
    r = await client.post("/api/v1/referrals", json=body, headers=await auth("director"))
    assert assert_problem(r, 409)["reason"] == "consent_missing"
    # The supervisor's override (with its reason) covers the contact too.
    ref = await send(
        client,
        auth,
        world,
        need_id,
        ["guardian_phone"],
        who="supervisor",
        consent_override_reason="监护人失联，情况紧急",
    )
    assert ref["shared_fields"] == ["guardian_phone"]
    # A file whose consent was withdrawn after the referral was sent shares no more contact.
    child2, need2 = await a_child(db, settings, world, seq="975")
    rid = (await send(client, auth, world, need2, []))["id"]
    async with db.session() as s:
        child = await s.get(Child, child2)
        assert child is not None
        child.consent_to_share = False
    h = await auth("director")
    r = await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": ["guardian_phone"]}, headers=h)
    assert assert_problem(r, 409)["reason"] == "consent_missing"
    assert (await client.post(f"/api/v1/referrals/{rid}/share", json={"fields": []}, headers=h)).status_code == 200
