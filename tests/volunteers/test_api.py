"""Volunteers through the API: the register's identity check (nothing stored on a refusal), one registration per
person, scope and masking per role, memberships with their history, the hours' rules (24 h a day, no future, not
before registration, reversal, the activity's and referral's scope), totals, and certificates (issue, the same one
again, a new one when hours changed, the public verification and a tampered code)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
from typing import Any

import pytest
from sqlalchemy import func, select, text

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import rotation
from marketplace.cases.crypto import field_cipher
from marketplace.db import Database
from marketplace.errors import Conflict
from marketplace.keyfiles import FieldKey
from marketplace.resources.models import VolunteerTeam
from marketplace.volunteers import service
from marketplace.volunteers.models import Hours, Volunteer
from marketplace.volunteers.schemas import VolunteerIn
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.support import figures
from tests.volunteers.support import add_activity, id_of_age, with_check

SUITE = "Volunteers"


def person(**kw) -> dict:
    return {
        "name": "陈志愿",
        "id_number": id_of_age(30),
        "phone": "13912345678",
        "skills": ["tutoring", "photography"],
        "availability": "周六上午",
        **kw,
    }


async def register(client, auth, who: str = "director", **kw) -> dict:
    r = await client.post("/api/v1/volunteers", json=person(**kw), headers=await auth(who))
    assert r.status_code == 201, r.text
    return r.json()


async def count(db) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count(Volunteer.id))) or 0)


async def add_team(db, street_id: int, name: str, org: int | None = None) -> int:
    async with db.session() as s:
        team = VolunteerTeam(street_id=street_id, name=name, organization_id=org, skills=[])
        s.add(team)
        await s.flush()
        return team.id


async def test_registration_reads_the_number_and_encrypts_it(client, auth, db, world) -> None:
    v = await register(client, auth)
    assert v["street_id"] == world.streets[0] and v["community_id"] == world.communities[0]
    assert v["age"] == 30 and v["gender"] in ("male", "female") and v["status"] == "active"
    # The director sees the birth date, so no digit of the number; the phone masked.
    assert set(v["id_number_masked"]) == {"*"} and v["id_number_full"] is None and v["phone"] == "139****5678"
    assert v["skill_labels"] == ["课业辅导", "摄影"]
    async with db.session(write=False) as s:
        raw = (await s.execute(text("SELECT id_number, phone FROM volunteers WHERE id = :i"), {"i": v["id"]})).one()
    assert raw[0].startswith("v2:") and raw[1].startswith("v2:") and "1391234" not in raw[1]


async def test_bad_numbers_are_refused_and_nothing_is_stored(client, auth, db) -> None:
    good = id_of_age(30)
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    bad_date = with_check("44030419990231123")
    future = with_check(f"440304{clock.today().year + 1}0101123")
    cases = {
        "checksum": bad_check,
        "short": good[:10],
        "no such day": bad_date,
        "future": future,
        "too young": id_of_age(15),
        "16 without consent": id_of_age(16, "125"),
    }
    for label, number in cases.items():
        r = await client.post("/api/v1/volunteers", json=person(id_number=number), headers=await auth("director"))
        assert_problem(r, 422)
        assert r.json()["errors"][0]["field"] in ("id_number", "guardian_consent"), label
    assert await count(db) == 0
    minor = await register(client, auth, id_number=id_of_age(16, "127"), guardian_consent=True, name="王小志")
    assert minor["guardian_consent"] is True and minor["age"] == 16
    figures.record(SUITE, "bad identity numbers refused", len(cases))


async def test_one_person_registers_once(client, auth, db) -> None:
    number = id_of_age(40, "333")
    await register(client, auth, id_number=number)
    r = await client.post(
        "/api/v1/volunteers", json=person(id_number=number.lower(), name="别名"), headers=await auth("supervisor2")
    )
    assert_problem(r, 409)
    assert "福田街道" in r.json()["detail"] and "陈志愿" not in r.json()["detail"]
    assert await count(db) == 1


async def test_scope_and_masking_per_role(client, auth, db, world) -> None:
    mine = await register(client, auth, id_number=id_of_age(30, "201"))
    other = await register(client, auth, "director3", id_number=id_of_age(31, "203"), name="李四")
    street = await register(client, auth, "supervisor", id_number=id_of_age(32, "205"), name="赵六")
    assert street["community_id"] is None
    seen = {}
    for who in ("director", "director2", "director3", "supervisor", "supervisor2", "admin", "auditor", "org"):
        r = await client.get("/api/v1/volunteers", headers=await auth(who))
        assert r.status_code == 200, r.text
        seen[who] = {v["id"] for v in r.json()["items"]}
    assert seen["director"] == {mine["id"], street["id"]}
    assert seen["director2"] == {street["id"]}
    assert seen["director3"] == {other["id"]}
    assert seen["supervisor"] == {mine["id"], street["id"]} and seen["supervisor2"] == {other["id"]}
    assert seen["admin"] == seen["auditor"] == {mine["id"], other["id"], street["id"]}
    assert seen["org"] == set()
    r = await client.get("/api/v1/volunteers", headers=await auth("fund"))
    assert_problem(r, 403)
    # Another scope's volunteer does not exist for the caller.
    for who, vid in (("director", other["id"]), ("supervisor2", mine["id"]), ("org", mine["id"]), ("fund", mine["id"])):
        assert_problem(await client.get(f"/api/v1/volunteers/{vid}", headers=await auth(who)), 404)
    number = await _plain_number(db, mine["id"])
    listed = await client.get("/api/v1/volunteers", headers=await auth("admin"))
    row = next(v for v in listed.json()["items"] if v["id"] == mine["id"])
    assert (
        row["id_number_masked"] == "*" * 14 + number[-4:]
        and row["id_number_full"] is None
        and row["birth_date"] is None
        and row["phone"] == "139****5678"
    )
    # The district admin's single read shows the number and phone whole, and says so in the audit log.
    single = await client.get(f"/api/v1/volunteers/{mine['id']}", headers=await auth("admin"))
    assert single.json()["id_number_full"] == number and single.json()["phone"] == "13912345678"
    audited = await client.get(f"/api/v1/volunteers/{mine['id']}", headers=await auth("auditor"))
    assert audited.json()["id_number_masked"].endswith(number[-4:]) and number not in audited.text
    async with db.session(write=False) as s:
        rows = (
            await s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "volunteer", AuditEntry.entity_id == mine["id"])
            )
        ).all()
    assert any("id_number_full" in (r.fields or []) and r.username == "admin" for r in rows)
    # An organization reads the members of its own teams, masked.
    team = await add_team(db, world.streets[1], "启航志愿服务队", org=world.orgs[0])
    joined = await client.post(
        f"/api/v1/volunteers/{mine['id']}/memberships", json={"team_id": team}, headers=await auth("director")
    )
    assert joined.status_code == 201, joined.text
    org_view = await client.get(f"/api/v1/volunteers/{mine['id']}", headers=await auth("org"))
    assert org_view.status_code == 200 and org_view.json()["name"] == "陈**"
    assert org_view.json()["id_number_masked"] == "" and org_view.json()["birth_date"] is None
    assert_problem(await client.get(f"/api/v1/volunteers/{mine['id']}", headers=await auth("org2")), 404)
    # Reading is not changing: the auditor and the org are refused a change of a volunteer they see.
    for who in ("auditor", "org"):
        r = await client.patch(f"/api/v1/volunteers/{mine['id']}", json={"status": "paused"}, headers=await auth(who))
        assert_problem(r, 403)


async def _plain_number(db, volunteer_id: int) -> str:
    async with db.session(write=False) as s:
        v = await s.get(Volunteer, volunteer_id)
        assert v is not None
        return v.id_number


async def test_memberships_keep_their_history(client, auth, db, world) -> None:
    v = await register(client, auth)
    team = await add_team(db, world.streets[0], "福田街道巾帼志愿服务队")
    elsewhere = await add_team(db, world.streets[1], "园岭街道青年志愿服务队")
    h = await auth("director")
    r = await client.post(f"/api/v1/volunteers/{v['id']}/memberships", json={"team_id": elsewhere}, headers=h)
    assert_problem(r, 422)
    r = await client.post(f"/api/v1/volunteers/{v['id']}/memberships", json={"team_id": team}, headers=h)
    assert r.status_code == 201 and r.json()["team_name"] == "福田街道巾帼志愿服务队"
    membership = r.json()["id"]
    assert_problem(
        await client.post(f"/api/v1/volunteers/{v['id']}/memberships", json={"team_id": team}, headers=h), 409
    )
    listed = await client.get("/api/v1/volunteers", params={"team_id": team}, headers=h)
    assert [x["id"] for x in listed.json()["items"]] == [v["id"]]
    left = await client.post(f"/api/v1/volunteers/memberships/{membership}/leave", json={}, headers=h)
    assert left.status_code == 201 and left.json()["left_on"] == clock.today().isoformat()
    assert_problem(await client.post(f"/api/v1/volunteers/memberships/{membership}/leave", json={}, headers=h), 409)
    assert_problem(
        await client.post(
            f"/api/v1/volunteers/memberships/{membership}/leave", json={}, headers=await auth("director3")
        ),
        404,
    )
    again = await client.post(f"/api/v1/volunteers/{v['id']}/memberships", json={"team_id": team}, headers=h)
    assert again.status_code == 201
    shown = (await client.get(f"/api/v1/volunteers/{v['id']}", headers=h)).json()["teams"]
    assert len(shown) == 2 and sum(1 for m in shown if m["left_on"] is None) == 1


async def test_hours_rules(client, auth, db, world, cases: Cases, frozen_clock) -> None:
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    h = await auth("director")
    v = await register(client, auth)
    today = clock.today()
    act = await add_activity(db, s1, c1, today)
    act_other = await add_activity(db, s2, c3, today, title="园岭手工课")
    act_future = await add_activity(db, s1, c1, today + dt.timedelta(days=3), title="下周活动")
    act_old = await add_activity(db, s1, c1, today - dt.timedelta(days=3), title="上周活动")

    async def log(body: dict, who: str = "director"):
        return await client.post(f"/api/v1/volunteers/{v['id']}/hours", json=body, headers=await auth(who))

    first = await log({"activity_id": act, "minutes": 120, "task": "带读绘本"})
    assert first.status_code == 201, first.text
    assert first.json()["served_on"] == today.isoformat() and first.json()["what"].endswith("暑期阅读会")
    refused = {
        "another street's activity": ({"activity_id": act_other, "minutes": 60}, 422),
        "neither": ({"minutes": 60}, 422),
        "both": ({"activity_id": act, "referral_id": cases.referrals["A"], "minutes": 60}, 422),
        "future": ({"activity_id": act_future, "minutes": 60}, 422),
        "before registration": ({"activity_id": act_old, "minutes": 60}, 422),
        "over 24 h": ({"activity_id": act, "minutes": 23 * 60}, 422),
        "zero": ({"activity_id": act, "minutes": 0}, 400),
        "another community's referral": ({"referral_id": cases.referrals["C"], "minutes": 30}, 422),
    }
    for label, (body, status) in refused.items():
        r = await log(body)
        assert r.status_code == status, (label, r.text)
    assert_problem(await log({"activity_id": act, "minutes": 30}, "director3"), 404)
    assert_problem(await log({"activity_id": act, "minutes": 30}, "auditor"), 403)
    on_case = await log({"referral_id": cases.referrals["A"], "minutes": 90, "task": "陪同就医"})
    assert on_case.status_code == 201 and on_case.json()["what"] == f"个案服务 #{cases.referrals['A']}"
    # 22 h more fits exactly up to 24 h that day (2 h + 1.5 h + 20.5 h).
    assert (await log({"activity_id": act, "minutes": 20 * 60 + 30})).status_code == 201
    assert_problem(await log({"activity_id": act, "minutes": 1}), 422)
    # A correction reverses a row (once); the day has room again.
    rev = await client.post(f"/api/v1/volunteers/hours/{first.json()['id']}/reverse", headers=h)
    assert rev.status_code == 201 and rev.json()["minutes"] == -120 and rev.json()["reverses_id"] == first.json()["id"]
    assert_problem(await client.post(f"/api/v1/volunteers/hours/{first.json()['id']}/reverse", headers=h), 409)
    assert_problem(await client.post(f"/api/v1/volunteers/hours/{rev.json()['id']}/reverse", headers=h), 409)
    assert_problem(
        await client.post(f"/api/v1/volunteers/hours/{first.json()['id']}/reverse", headers=await auth("director3")),
        404,
    )
    assert (await log({"activity_id": act, "minutes": 60})).status_code == 201
    listed = await client.get(f"/api/v1/volunteers/{v['id']}/hours", headers=h)
    body = listed.json()
    assert body["total"] == 5 and body["total_minutes"] == 90 + 20 * 60 + 30 + 60
    assert next(x for x in body["items"] if x["id"] == first.json()["id"])["reversed"] is True
    assert "张小明" not in listed.text
    assert_problem(await client.get(f"/api/v1/volunteers/{v['id']}/hours", headers=await auth("org")), 404)
    async with db.session(write=False) as s:
        stored = (await s.scalars(select(Hours).where(Hours.volunteer_id == v["id"]))).all()
    assert len(stored) == 5  # nothing refused was stored, nothing edited
    figures.record(SUITE, "hours refused by rule", len(refused))
    # Totals per street and team in the caller's area.
    totals = (await client.get("/api/v1/volunteers/totals", headers=h)).json()
    assert totals["year"] == today.year and totals["total_minutes"] == body["total_minutes"]
    assert [s["id"] for s in totals["streets"]] == [s1]
    other_street = (await client.get("/api/v1/volunteers/totals", headers=await auth("supervisor2"))).json()
    assert other_street["total_minutes"] == 0 and other_street["streets"] == []
    assert_problem(await client.get("/api/v1/volunteers/totals", headers=await auth("org")), 403)


async def test_certificates_issue_verify_and_tamper(client, auth, db, world, settings) -> None:
    s1 = world.streets[0]
    c1 = world.communities[0]
    h = await auth("director")
    v = await register(client, auth)
    today = clock.today()
    act = await add_activity(db, s1, c1, today)
    r = await client.post(f"/api/v1/volunteers/{v['id']}/hours", json={"activity_id": act, "minutes": 150}, headers=h)
    assert r.status_code == 201
    period = {"period_from": f"{today.year}-01-01", "period_to": today.isoformat()}
    empty = await client.post(
        f"/api/v1/volunteers/{v['id']}/certificates",
        json={"period_from": f"{today.year - 1}-01-01", "period_to": f"{today.year - 1}-12-31"},
        headers=h,
    )
    assert_problem(empty, 422)
    future = {"period_from": period["period_from"], "period_to": (today + dt.timedelta(days=1)).isoformat()}
    assert_problem(await client.post(f"/api/v1/volunteers/{v['id']}/certificates", json=future, headers=h), 422)
    first = await client.post(f"/api/v1/volunteers/{v['id']}/certificates", json=period, headers=h)
    assert first.status_code == 201, first.text
    cert = first.json()
    assert cert["total_minutes"] == 150 and cert["hours"] == 2.5 and cert["number"].startswith("ZYSC")
    same = await client.post(f"/api/v1/volunteers/{v['id']}/certificates", json=period, headers=h)
    assert same.json()["id"] == cert["id"] and same.json()["code"] == cert["code"]
    public = await client.get(f"/api/v1/public/volunteer-certificates/{cert['code']}")
    assert public.status_code == 200
    check = public.json()
    assert check["valid"] is True and check["name"] == "陈**" and check["hours"] == 2.5
    assert "1391234" not in public.text and "id_number" not in check
    tampered = cert["code"][:-1] + ("0" if cert["code"][-1] != "0" else "1")
    bad = await client.get(f"/api/v1/public/volunteer-certificates/{tampered}")
    assert bad.status_code == 200 and bad.json() == {**bad.json(), "valid": False, "status": "invalid"}
    assert bad.json()["name"] is None
    # A row changed behind the app's back no longer verifies either.
    async with db.session() as s:
        await s.execute(
            text("UPDATE volunteers_certificates SET total_minutes = 6000 WHERE id = :i"), {"i": cert["id"]}
        )
    assert (await client.get(f"/api/v1/public/volunteer-certificates/{cert['code']}")).json()["valid"] is False
    async with db.session() as s:
        await s.execute(text("UPDATE volunteers_certificates SET total_minutes = 150 WHERE id = :i"), {"i": cert["id"]})
    # Hours changed: a new certificate supersedes the first.
    r = await client.post(f"/api/v1/volunteers/{v['id']}/hours", json={"activity_id": act, "minutes": 30}, headers=h)
    assert r.status_code == 201
    second = (await client.post(f"/api/v1/volunteers/{v['id']}/certificates", json=period, headers=h)).json()
    assert second["id"] != cert["id"] and second["total_minutes"] == 180
    old = (await client.get(f"/api/v1/public/volunteer-certificates/{cert['code']}")).json()
    assert old["valid"] is False and old["status"] == "superseded"
    assert (await client.get(f"/api/v1/public/volunteer-certificates/{second['code']}")).json()["valid"] is True
    got = await client.get(f"/api/v1/volunteers/certificates/{second['id']}", headers=await auth("supervisor"))
    assert got.status_code == 200 and got.json()["volunteer_name"] == "陈志愿"
    assert_problem(
        await client.get(f"/api/v1/volunteers/certificates/{second['id']}", headers=await auth("director3")), 404
    )
    figures.record(SUITE, "tampered certificate codes accepted", 0)


async def test_a_key_rotation_keeps_one_registration_per_person(client, auth, db, settings) -> None:
    """The rotation re-encrypts the number and rewrites its lookup hash under the new key: with the old key dropped,
    the same person is still refused a second registration."""
    number = id_of_age(45, "611")
    await register(client, auth, id_number=number)
    new_key = FieldKey("k9", base64.b64encode(os.urandom(32)).decode())
    new = dataclasses.replace(
        settings, field_key=new_key.secret, field_key_id=new_key.id, old_field_keys=settings.field_key_ring
    )
    report = await rotation.rotate(db, field_cipher(new), batch_size=5)
    assert report.done and "volunteers.id_number" in report.fields
    only_new = Database(dataclasses.replace(new, old_field_keys=()))
    try:
        async with only_new.session() as s:
            stored = (await s.scalars(select(Volunteer))).one()
            assert stored.id_number == number
            assert stored.id_number_hash == field_cipher(only_new.settings).lookup_hash(number)
            principal = await _principal(s, "director")
            with pytest.raises(Conflict):
                await service.register(s, principal, only_new.settings, VolunteerIn(name="再登记", id_number=number))
            await s.rollback()
    finally:
        await only_new.dispose()


async def _principal(s: Any, username: str) -> Principal:
    user = (await s.scalars(select(User).where(User.username == username))).one()
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        street_id=user.street_id,
        community_id=user.community_id,
    )
