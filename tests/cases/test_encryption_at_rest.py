"""Issue #17: the words that describe a child or a household (names, notes, findings, report descriptions, the
free text of referrals, transfers, escalations, allowance decisions and notifications) are encrypted at rest with
the field key ring (``marketplace.cases.crypto.EncryptedText``); the search indexes never receive them.

Each test reads the stored value with a plain SQL query (no column type in between), on SQLite and (with
``TEST_DATABASE=postgresql``) on PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, Text, func, select, text

from marketplace.cases import rotation
from marketplace.cases.crypto import UNREADABLE, EncryptedText, FieldCipher, encrypted_columns, field_cipher
from marketplace.cases.models import Child, MandatoryReport, Need, Visit
from marketplace.db import Base, Database
from marketplace.indexing.documents import BUILDERS
from marketplace.indexing.sync import backend_for, reindex_all
from marketplace.keyfiles import FieldKey
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Organization, Service
from marketplace.settings import Settings
from tests.admin.console import console_login
from tests.cases.support import Cases, birth_for_age, cases, id_number

__all__ = ["cases"]

K2 = FieldKey("k2", "a2V5LXR3by1mb3ItdGhlLXJvdGF0aW9uLXRlc3QtMDE=")

NOTES = "父母离异，随祖母生活，祖母腿脚不便"
FINDINGS = "孩子独自在家两天，冰箱里没有食物"
NEED_NOTE = "夜里常哭，需要心理辅导"


def child_body(world: Any, **kw: Any) -> dict[str, Any]:
    birth = birth_for_age(8)
    body = {
        "community_id": world.communities[0],
        "name": "陈小乐",
        "gender": "female",
        "birth_date": birth.isoformat(),
        "id_number": id_number(birth, "992"),
        "categories": ["left_behind"],
        "guardianship": "entrusted",
        "risk_level": "high",
        "school": "福田区第一小学",
        "household_notes": NOTES,
        "guardian_name": "陈大山",
        "guardian_relation": "外祖母",
        "consent_to_share": True,
        "share_note": "喜欢踢足球",
    }
    body.update(kw)
    return body


async def raw(db: Database, sql: str, **params: Any) -> Any:
    async with db.session(write=False) as s:
        return (await s.execute(text(sql), params)).one()


def is_sealed(value: str) -> bool:
    return value.startswith("v2:")


async def test_a_file_its_visit_and_need_are_stored_encrypted_and_read_back_in_clear(client, auth, world, db) -> None:
    h = await auth("director")
    r = await client.post("/api/v1/children", json=child_body(world), headers=h)
    assert r.status_code == 201, r.text
    child = r.json()
    visit = await client.post(
        f"/api/v1/children/{child['id']}/visits",
        json={"visited_on": birth_for_age(0).isoformat(), "kind": "home", "findings": FINDINGS},
        headers=h,
    )
    need = await client.post(
        f"/api/v1/children/{child['id']}/needs",
        json={"category": "psych_counselling", "urgency": 3, "note": NEED_NOTE},
        headers=h,
    )
    assert visit.status_code == 201, visit.text
    assert need.status_code == 201, need.text

    # At rest: every word is a ciphertext, none of them in clear.
    stored = await raw(
        db,
        "SELECT name, school, household_notes, guardian_name, guardian_relation, share_note FROM children WHERE id = :i",
        i=child["id"],
    )
    assert all(is_sealed(v) for v in stored), stored
    flat = " ".join(stored)
    for word in ("陈小乐", "小乐", "第一小学", "祖母", "陈大山", "外祖母", "踢足球"):
        assert word not in flat
    (name_hmac,) = await raw(db, "SELECT name_hmac FROM children WHERE id = :i", i=child["id"])
    assert len(name_hmac) == 64 and name_hmac != "陈小乐"
    (findings,) = await raw(db, "SELECT findings FROM visits WHERE id = :i", i=visit.json()["id"])
    (note,) = await raw(db, "SELECT note FROM needs WHERE id = :i", i=need.json()["id"])
    assert is_sealed(findings) and "冰箱" not in findings
    assert is_sealed(note) and "心理" not in note
    # Sealed per column: a ciphertext copied into another column does not open there.
    cipher = field_cipher(db.settings)
    assert cipher.decrypt(stored.name, "children.name") == "陈小乐"
    assert cipher.readable(stored.name, "children.guardian_name") == UNREADABLE

    # Read back in clear through the API.
    one = (await client.get(f"/api/v1/children/{child['id']}", headers=h)).json()
    assert (one["name"], one["household_notes"], one["guardian_name"], one["guardian_relation"]) == (
        "陈小乐",
        NOTES,
        "陈大山",
        "外祖母",
    )
    assert (one["school"], one["share_note"]) == ("福田区第一小学", "喜欢踢足球")
    visits = (await client.get(f"/api/v1/children/{child['id']}/visits", headers=h)).json()
    assert [v["findings"] for v in visits["items"]] == [FINDINGS]

    # An edit is encrypted too, and its blind index follows the name.
    patched = await client.patch(f"/api/v1/children/{child['id']}", json={"name": "陈乐乐"}, headers=h)
    assert patched.status_code == 200, patched.text
    after = await raw(db, "SELECT name, name_hmac FROM children WHERE id = :i", i=child["id"])
    assert is_sealed(after.name) and after.name_hmac == cipher.name_hash("陈乐乐") != name_hmac


async def test_search_by_name_and_duplicate_detection_work_on_encrypted_names(client, auth, world, db) -> None:
    h = await auth("director")
    first = await client.post("/api/v1/children", json=child_body(world), headers=h)
    assert first.status_code == 201, first.text
    other = await client.post(
        "/api/v1/children",
        json=child_body(world, name="王小华", id_number=id_number(birth_for_age(8), "996")),
        headers=h,
    )
    assert other.status_code == 201, other.text
    # The list's name search (a substring, as before): filtered over the scoped rows after decryption.
    found = await client.get("/api/v1/children", params={"q": "小乐"}, headers=h)
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["items"]] == [first.json()["id"]] and found.json()["total"] == 1
    both = await client.get("/api/v1/children", params={"q": "小"}, headers=h)
    assert sorted(c["name"] for c in both.json()["items"]) == ["王小华", "陈小乐"]
    none = await client.get("/api/v1/children", params={"q": "%"}, headers=h)
    assert none.json()["items"] == []
    # Same name (typed with a space and a full-width form) and birth date, another number: the blind index warns.
    again = await client.post(
        "/api/v1/children",
        json=child_body(world, name="陈　小乐 ", id_number=id_number(birth_for_age(8), "994")),
        headers=h,
    )
    assert again.status_code == 201, again.text
    assert {w["code"]: w["child_ids"] for w in again.json()["warnings"]} == {"possible_duplicate": [first.json()["id"]]}
    # The console's search goes through the same read path.
    await console_login(client, "director")
    page = await client.get("/admin/children", params={"q": "小乐"})
    assert page.status_code == 200 and "陈小乐" in page.text and "王小华" not in page.text


async def test_a_value_no_key_opens_shows_as_unreadable(
    client, auth, db, cases: Cases, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = FieldCipher([FieldKey("gone", "Z29uZS1rZXktb2YtYS1kaXNjYXJkZWQtcmluZy0wMDA=")])
    async with db.session() as s:
        await s.execute(
            text("UPDATE children SET name = :n, household_notes = :h WHERE id = :i"),
            {
                "n": foreign.encrypt("张小明", "children.name"),
                "h": "v2:" + field_cipher(db.settings).current_id + ":AAAAdGFtcGVyZWQ=",
                "i": cases.children["A"],
            },
        )
    h = await auth("director")
    with caplog.at_level(logging.WARNING, logger="marketplace.cases.crypto"):
        one = await client.get(f"/api/v1/children/{cases.children['A']}", headers=h)
        listed = await client.get("/api/v1/children", headers=h)
    assert one.status_code == 200, one.text
    assert (one.json()["name"], one.json()["household_notes"]) == (UNREADABLE, UNREADABLE)
    assert UNREADABLE in [c["name"] for c in listed.json()["items"]]
    assert any("children.name" in r.getMessage() for r in caplog.records)
    await console_login(client, "director")
    page = await client.get(f"/admin/children/{cases.children['A']}")
    assert page.status_code == 200 and UNREADABLE in page.text


async def test_rotation_moves_the_free_text_of_every_table(db, settings: Settings, cases: Cases) -> None:
    async with db.session() as s:
        child = await s.get(Child, cases.children["A"])
        assert child is not None
        child.household_notes = NOTES
        s.add(
            Visit(
                child_id=child.id,
                visited_on=birth_for_age(0),
                kind="home",
                findings=FINDINGS,
                next_visit_due=birth_for_age(0),
            )
        )
        need = await s.get(Need, cases.needs["A"])
        assert need is not None
        need.note = NEED_NOTE
        s.add(
            ReferralLog(referral_id=cases.referrals["A"], delivered_on=birth_for_age(0), minutes=30, note="第一次辅导")
        )
        s.add(
            MandatoryReport(
                community_id=child.community_id,
                street_id=child.street_id,
                kind="alone",
                description="独自在家",
                subject_name="无名男孩",
                place="福田公园",
            )
        )
    new = dataclasses.replace(settings, field_key=K2.secret, field_key_id=K2.id, old_field_keys=settings.field_key_ring)
    report = await rotation.rotate(db, field_cipher(new), batch_size=2)
    assert report.done and report.texts_unreadable == [] and report.remaining == {}
    assert {
        "children.name",
        "children.household_notes",
        "visits.findings",
        "needs.note",
        "referral_logs.note",
        "mandatory_reports.description",
        "mandatory_reports.place",
    } <= set(report.fields)
    # Every stored value is now under k2 ...
    async with db.session(write=False) as s:
        for table, columns in encrypted_columns(Base.metadata).items():
            for c, _ in columns:
                values = (await s.execute(text(f"SELECT {c} FROM {table}"))).scalars().all()
                assert all(v.startswith("v2:k2:") for v in values if v), (table, c)
    # ... and reads back in clear with k2 alone (the old key dropped), names found by their blind index.
    only_new = Database(dataclasses.replace(new, old_field_keys=()))
    try:
        async with only_new.session(write=False) as s:
            assert (await s.get(Child, cases.children["A"])).household_notes == NOTES  # type: ignore[union-attr]
            assert (await s.scalars(select(Visit.findings))).all() == [FINDINGS]
            assert (await s.get(Need, cases.needs["A"])).note == NEED_NOTE  # type: ignore[union-attr]
            assert (await s.scalars(select(MandatoryReport.subject_name))).all() == ["无名男孩"]
            named = await s.scalars(
                select(Child.id).where(Child.name_hmac.in_(field_cipher(only_new.settings).name_hashes("张小明")))
            )
            assert cases.children["A"] in named.all()
    finally:
        await only_new.dispose()
    again = await rotation.rotate(db, field_cipher(new), batch_size=2)
    assert (again.rotated, again.texts_rotated) == (0, 0)


def _texts(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


async def test_demo_data_keeps_no_clear_text_at_rest_and_the_search_index_never_receives_it(
    demo_db: Database, demo_settings: Settings
) -> None:
    db, settings = demo_db, demo_settings
    columns = encrypted_columns(Base.metadata)
    assert {"children", "needs", "visits", "mandatory_reports", "referrals", "referral_logs"} <= set(columns)
    clear_names: set[str] = set()
    free_texts: set[str] = set()
    async with db.session(write=False) as s:
        clear_names.update(n for n in (await s.scalars(select(Child.name))).all() if len(n) >= 2)
        for attr in (Child.household_notes, Visit.findings, Need.note, Referral.share_note, ReferralLog.note):
            free_texts.update(v for v in (await s.scalars(select(attr))).all() if v and len(v) >= 8)
        assert len(clear_names) > 300 and len(free_texts) > 50
        # Every encrypted column holds ciphertexts only (a plain query, no column type in between).
        for table, cols in columns.items():
            for c, _ in cols:
                values = (await s.execute(text(f"SELECT {c} FROM {table}"))).scalars().all()
                assert all(is_sealed(v) for v in values if v), (table, c)
        # No other text column of any table carries a note or a finding in clear.
        for table in Base.metadata.sorted_tables:
            for col in table.columns:
                if isinstance(col.type, EncryptedText) or not isinstance(col.type, (String, Text)):
                    continue
                values = (await s.execute(text(f'SELECT "{col.name}" FROM "{table.name}"'))).scalars().all()
                blob = "\n".join(v for v in values if v)
                assert not [t for t in free_texts if t in blob], f"{table.name}.{col.name}"
        services = (await s.scalar(select(func.count()).select_from(Service))) or 0
        orgs = (await s.scalar(select(func.count()).select_from(Organization))) or 0
    assert services and orgs

    # Index everything, then look at every document and at the index's own storage.
    backend = backend_for(settings)
    counts = await reindex_all(db, backend)
    assert counts == {"services": services, "organizations": orgs}
    async with db.session(write=False) as s:
        documents = []
        for name, build in BUILDERS.items():
            model = Service if name == "services" else Organization
            ids = list((await s.scalars(select(model.id))).all())
            docs, _ = await build(s, ids)
            documents.extend(docs)
    dumped = json.dumps(documents, ensure_ascii=False)
    assert not [t for t in free_texts if t in dumped]
    assert not [n for n in clear_names if len(n) >= 3 and n in dumped]
    stored = b"".join(
        p.read_bytes() for p in Path(settings.search_path).parent.glob(Path(settings.search_path).name + "*")
    )
    assert stored, "the embedded index keeps its documents in the search file"
    assert not [t for t in free_texts if t.encode() in stored]
    assert not [n for n in clear_names if len(n) >= 3 and n.encode() in stored]
