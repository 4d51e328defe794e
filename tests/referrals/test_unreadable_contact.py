"""A contact field whose stored ciphertext cannot be decrypted (a corrupted value, a key the process lacks) shows as
``无法解密`` on every read path (the referral's shared contact, the child's contact reveal), with a warning in the log,
never a 500 (issue #17)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from marketplace.cases.crypto import FieldCipher, field_cipher
from marketplace.keyfiles import FieldKey
from marketplace.masking import UNREADABLE
from tests.cases.support import Cases
from tests.referrals.test_shared_contact import ADDRESS, a_child, send

FOREIGN = FieldCipher([FieldKey("gone", "Z29uZS1rZXktb2YtYS1kaXNjYXJkZWQtcmluZy0wMDA=")])


async def _corrupt(db, child_id: int) -> None:
    """The guardian's phone sealed under a key the ring does not hold; the address's sealed bytes tampered with."""
    current = field_cipher(db.settings).current_id
    async with db.session() as s:
        await s.execute(
            text("UPDATE children SET guardian_phone_enc = :p, address_enc = :a WHERE id = :i"),
            {
                "p": FOREIGN.encrypt("13900001234", "children.guardian_phone"),
                "a": f"v2:{current}:AAAAAAAAAAAAAAAAdGFtcGVyZWQtYWRkcmVzcw==",
                "i": child_id,
            },
        )


async def test_a_referrals_shared_contact_shows_unreadable_values_as_such(
    client, auth, cases: Cases, world, db, settings, caplog: pytest.LogCaptureFixture
) -> None:
    child_id, need_id = await a_child(db, settings, world, seq="961")
    ref = await send(client, auth, world, need_id, ["guardian_phone", "address"])
    org = await auth("org")
    assert (await client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=org)).status_code == 200
    before = await client.get(f"/api/v1/referrals/{ref['id']}", headers=org)
    assert before.json()["contact"]["address"] == ADDRESS
    await _corrupt(db, child_id)
    with caplog.at_level(logging.WARNING, logger="marketplace"):
        r = await client.get(f"/api/v1/referrals/{ref['id']}", headers=org)
        listed = await client.get("/api/v1/referrals", headers=org)
    assert r.status_code == 200, r.text
    contact = r.json()["contact"]
    assert (contact["guardian_phone"], contact["address"]) == (UNREADABLE, UNREADABLE)
    assert listed.status_code == 200, listed.text
    messages = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any(f"child {child_id}" in m and "children.guardian_phone" in m for m in messages)
    assert any(f"child {child_id}" in m and "children.address" in m for m in messages)


async def test_the_contact_reveal_and_the_file_show_unreadable_values_as_such(
    client, auth, cases: Cases, world, db, settings
) -> None:
    child_id, _ = await a_child(db, settings, world, seq="963")
    await _corrupt(db, child_id)
    h = await auth("director")
    one = await client.get(f"/api/v1/children/{child_id}", headers=h)
    assert one.status_code == 200, one.text
    assert one.json()["guardian_phone_masked"] == UNREADABLE and one.json()["address_masked"] == UNREADABLE
    r = await client.post(
        f"/api/v1/children/{child_id}/contact", json={"reason": "家访前联系监护人确认时间"}, headers=h
    )
    assert r.status_code in (200, 201), r.text
    assert UNREADABLE in r.text


async def test_a_birth_date_change_with_an_unreadable_stored_number_asks_for_the_number(
    client, auth, cases: Cases, world, db, settings
) -> None:
    child_id, _ = await a_child(db, settings, world, seq="965")
    async with db.session() as s:
        await s.execute(
            text("UPDATE children SET id_number_enc = :n WHERE id = :i"),
            {"n": FOREIGN.encrypt("110101201501010011", "children.id_number"), "i": child_id},
        )
    r = await client.patch(
        f"/api/v1/children/{child_id}", json={"birth_date": "2015-01-02"}, headers=await auth("director")
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "无法解密" in r.json()["detail"]
