"""Field keys with ids, the key ring, and ``marketplace rotate-field-key``.

Ciphertexts name their key (``v2:<key id>:…``) and legacy ``v1:`` ones still read; rotation re-encrypts every
encrypted field of the children's files in committed batches, lookups by identity number work before, during and
after it, a second run changes nothing, and the API reads every child's identity number afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import keyfiles
from marketplace.app import create_app
from marketplace.audit.models import AuditEntry
from marketplace.cases import rotation
from marketplace.cases.crypto import FieldCipher, UnknownFieldKey, field_cipher, key_id_of
from marketplace.cases.models import Child
from marketplace.cli import main
from marketplace.db import Database
from marketplace.keyfiles import FieldKey
from marketplace.settings import Settings, get_settings, load_settings
from tests.cases.support import add_child, birth_for_age, id_number
from tests.support.world import PASSWORD, World

K1 = FieldKey("k1", base64.b64encode(os.urandom(32)).decode())
K2 = FieldKey("k2", base64.b64encode(os.urandom(32)).decode())
AAD = "children.id_number"


def legacy_v1(key: FieldKey, plaintext: str, field: str) -> str:
    """A ciphertext as the code before key ids wrote it: ``v1:`` + base64(nonce + sealed)."""
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(key.secret)).encrypt(nonce, plaintext.encode(), field.encode())
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def ring(settings: Settings, *keys: FieldKey) -> Settings:
    """``settings`` with the ring ``keys`` (the first current), as MARKETPLACE_FIELD_KEYS gives it."""
    return dataclasses.replace(settings, field_key=keys[0].secret, field_key_id=keys[0].id, old_field_keys=keys[1:])


# ---------------------------------------------------------------- the cipher


def test_ciphertexts_carry_the_id_of_their_key() -> None:
    c = FieldCipher([K2, K1])
    token = c.encrypt("440304201501019911", AAD)
    assert token.startswith("v2:k2:") and key_id_of(token) == "k2" and c.is_current(token)
    assert c.decrypt(token, AAD) == "440304201501019911"
    old = FieldCipher([K1]).encrypt("440304201501019911", AAD)
    assert key_id_of(old) == "k1" and not c.is_current(old)
    assert c.decrypt(old, AAD) == "440304201501019911"  # an older key of the ring still decrypts
    with pytest.raises(UnknownFieldKey):
        FieldCipher([K1]).decrypt(token, AAD)  # a process without k2 says so (503), never guesses
    with pytest.raises(InvalidTag):  # the associated data binds a value to its field
        c.decrypt(token, "children.address")


def test_legacy_v1_ciphertexts_still_read() -> None:
    token = legacy_v1(K1, "13900001234", "children.guardian_phone")
    assert key_id_of(token) is None
    assert FieldCipher([K2, K1]).decrypt(token, "children.guardian_phone") == "13900001234"
    with pytest.raises(UnknownFieldKey):
        FieldCipher([K2]).decrypt(token, "children.guardian_phone")


def test_a_key_given_without_an_id_is_found_under_its_derived_id() -> None:
    """MARKETPLACE_FIELD_KEY alone writes ``v2:<derived id>:``; named later in MARKETPLACE_FIELD_KEYS, it still reads."""
    settings = load_settings({"MARKETPLACE_FIELD_KEY": K1.secret})
    token = field_cipher(settings).encrypt("x", AAD)
    assert key_id_of(token) == keyfiles.fingerprint(K1.secret)
    later = load_settings({"MARKETPLACE_FIELD_KEYS": f"k2:{K2.secret},k1:{K1.secret}"})
    assert field_cipher(later).decrypt(token, AAD) == "x"
    both = load_settings({"MARKETPLACE_FIELD_KEYS": f"k2:{K2.secret}", "MARKETPLACE_FIELD_KEY": K1.secret})
    assert [k.id for k in both.field_key_ring] == ["k2", keyfiles.fingerprint(K1.secret)]


def test_the_lookup_hash_is_found_under_every_key_of_the_ring() -> None:
    number = "440304201501019911"
    old, new = FieldCipher([K1]), FieldCipher([K2, K1])
    assert old.lookup_hash(number) != new.lookup_hash(number)
    assert set(new.lookup_hashes(number)) == {old.lookup_hash(number), new.lookup_hash(number)}
    assert new.lookup_hash(number.lower() + " ") == new.lookup_hash(number)


def test_a_ring_from_the_key_file_follows_the_file(tmp_path: Path) -> None:
    """Another process rotating the development key file: this one encrypts under the new key from its next use
    and opens what the other made with it."""
    first = keyfiles.field_keys(tmp_path)
    path = keyfiles.field_keys_path(tmp_path)
    mine = FieldCipher(first, path)
    other = FieldCipher(first, path)
    before = mine.encrypt("a", AAD)
    added = keyfiles.add_field_key(path)
    assert keyfiles.read_field_keys(path)[0] == added and len(keyfiles.read_field_keys(path)) == 2
    made_elsewhere = FieldCipher(keyfiles.read_field_keys(path)).encrypt("b", AAD)
    assert other.decrypt(made_elsewhere, AAD) == "b"  # an unknown key id: the file is read again
    assert key_id_of(mine.encrypt("c", AAD)) == added.id  # the file changed: the new key encrypts
    assert mine.decrypt(before, AAD) == "a"
    keyfiles.drop_field_keys(path, {first[0].id})
    assert keyfiles.read_field_keys(path) == (added,)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


# ---------------------------------------------------------------- rotation


@pytest.fixture
async def files(db: Database, settings: Settings, world: World) -> AsyncIterator[dict[int, str]]:
    """Nine children's files: six under k1 (with phones, some with addresses), three legacy v1 ones; their names
    (encrypted by their column's type) under k1, written by an app that holds k1."""
    old = ring(settings, K1)
    c = FieldCipher([K1])
    numbers: dict[int, str] = {}
    writer = Database(old)
    async with writer.session() as session:
        for n in range(9):
            child = await add_child(
                session, old, world.communities[n % 2], world.streets[0], name=f"儿童{n}", seq=f"{n + 100}"
            )
            number = id_number(birth_for_age(10), f"{n + 100}")
            if n % 3 == 0:
                child.address_enc = c.encrypt(f"福田区某某花园{n}栋", "children.address")
            if n >= 6:
                child.id_number_enc = legacy_v1(K1, number, AAD)
                child.guardian_phone_enc = legacy_v1(K1, "13900001234", "children.guardian_phone")
            numbers[child.id] = number
    await writer.dispose()
    yield numbers


async def stored(db: Database) -> dict[int, tuple[str, str, str | None, str | None]]:
    async with db.session(write=False) as session:
        rows = await session.execute(
            select(Child.id, Child.id_number_enc, Child.id_number_hmac, Child.guardian_phone_enc, Child.address_enc)
        )
        return {r.id: (r.id_number_enc, r.id_number_hmac, r.guardian_phone_enc, r.address_enc) for r in rows}


async def read_every_number(settings: Settings, numbers: dict[int, str]) -> None:
    """Through the API, as the district admin: every file opens and shows its identity number's ends."""
    async with AsyncTestClient(app=create_app(settings), raise_server_exceptions=False) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        listed = await client.get("/api/v1/children?limit=100", headers=h)
        assert listed.status_code == 200, listed.text
        assert {c["id"]: c["id_number_masked"] for c in listed.json()["items"]} == {
            i: "*" * 14 + n[-4:] for i, n in numbers.items()
        }
        for child_id, number in numbers.items():
            one = await client.get(f"/api/v1/children/{child_id}", headers=h)
            assert one.status_code == 200, one.text
            assert one.json()["id_number_masked"] == "*" * 14 + number[-4:]
            assert one.json()["guardian_phone_masked"] == "139****1234"


async def found_by_number(settings: Settings, number: str) -> list[int]:
    """What the duplicate check of a new file finds for ``number`` (the lookup hash, under the ring's keys)."""
    db = Database(settings)
    try:
        async with db.session(write=False) as session:
            hashes = field_cipher(settings).lookup_hashes(number)
            return list((await session.scalars(select(Child.id).where(Child.id_number_hmac.in_(hashes)))).all())
    finally:
        await db.dispose()


async def test_rotation_moves_every_field_and_lookups_keep_working(
    db: Database, settings: Settings, files: dict[int, str]
) -> None:
    old, new = ring(settings, K1), ring(settings, K2, K1)
    await read_every_number(old, files)
    # The new key is current (every process restarted with it); nothing is rotated yet: all reads, all found.
    await read_every_number(new, files)
    for child_id, number in files.items():
        assert await found_by_number(new, number) == [child_id]

    class Stop(Exception):
        pass

    def stop_after_first_batch(report: rotation.RotationReport) -> None:
        raise Stop

    cipher = field_cipher(new)
    report = rotation.RotationReport(key_id="k2")
    with pytest.raises(Stop):
        await rotation._pass(db, cipher, report, 4, stop_after_first_batch)
    during = await stored(db)
    assert sorted(key_id_of(v[0]) or "v1" for v in during.values()) == ["k1"] * 2 + ["k2"] * 4 + ["v1"] * 3
    # During: half moved, half not; every file still reads and every number is still found.
    await read_every_number(new, files)
    for child_id, number in files.items():
        assert await found_by_number(new, number) == [child_id]
    # (the seventh file, legacy, has an address under k1: it counts under both; the nine names are under k1)
    assert await rotation.remaining_by_key(db, "k2") == {"k1": 3 + 9, "v1": 3}

    # Resumed: the rest moves; the four already moved are left alone.
    report = await rotation.rotate(db, cipher, batch_size=4)
    assert (report.total, report.rotated, report.remaining, report.unreadable) == (9, 5, {}, [])
    assert (report.texts_rotated, report.fields["children.name"], report.texts_unreadable) == (9, 9, [])
    after = await stored(db)
    assert all(v[0] == during[i][0] for i, v in after.items() if key_id_of(during[i][0]) == "k2")
    for enc, _, phone, address in after.values():
        assert enc.startswith("v2:k2:") and phone is not None and phone.startswith("v2:k2:")
        assert address is None or address.startswith("v2:k2:")
    assert {v[1] for v in after.values()} == {FieldCipher([K2]).lookup_hash(n) for n in files.values()}

    # A second run changes nothing.
    again = await rotation.rotate(db, cipher, batch_size=4)
    assert (again.rotated, again.remaining) == (0, {})
    assert await stored(db) == after

    # After: the old key can go; every file reads and every number is found with k2 alone.
    only_new = ring(settings, K2)
    await read_every_number(only_new, files)
    for child_id, number in files.items():
        assert await found_by_number(only_new, number) == [child_id]
    async with db.session(write=False) as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "reencrypt")
        )
    # One per file for its identity number and contact details, one per file for its free text (the name).
    assert audited == 9 + 9


async def test_the_duplicate_check_finds_files_under_either_key_during_rotation(
    db: Database, settings: Settings, files: dict[int, str], world: World
) -> None:
    """A director tries to register children whose numbers files already have, half way through a rotation: the
    files already moved to k2, those still under k1 and the legacy v1 ones are all found (and the second file
    refused)."""
    new = ring(settings, K2, K1)

    class Stop(Exception):
        pass

    def stop(report: rotation.RotationReport) -> None:
        raise Stop

    with pytest.raises(Stop):
        await rotation._pass(db, field_cipher(new), rotation.RotationReport(key_id="k2"), 4, stop)
    keys = {i: key_id_of(v[0]) or "v1" for i, v in (await stored(db)).items()}
    async with db.session(write=False) as session:
        mine = set((await session.scalars(select(Child.id).where(Child.community_id == world.communities[0]))).all())
    picks = {keys[i]: i for i in sorted(mine)}  # one file of the director's community per key
    assert set(picks) == {"k1", "k2", "v1"}
    async with AsyncTestClient(app=create_app(new), raise_server_exceptions=False) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for key, child_id in picks.items():
            body = {
                "community_id": world.communities[0],
                "name": f"重复{key}",
                "gender": "male",
                "birth_date": birth_for_age(10).isoformat(),
                "id_number": files[child_id],
                "categories": ["left_behind"],
                "guardianship": "family",
                "risk_level": "low",
            }
            refused = await client.post("/api/v1/children", json=body, headers=h)
            assert refused.status_code == 409, (key, refused.text)
            # One person, one file: the second file is refused, naming the file to the director who holds it.
            assert refused.json()["code"] == "id_number_exists" and refused.json()["child_id"] == child_id, key


# ---------------------------------------------------------------- the command


@pytest.fixture
def dev_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A development environment: the test's database, the key ring in a data directory's key file."""
    yield {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": str(tmp_path / "var"),
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "MARKETPLACE_FIELD_KEY": "",
        "MARKETPLACE_FIELD_KEYS": "",
        "MARKETPLACE_SECRET_KEY": "",
        "REDIS_URL": "",
    }
    get_settings.cache_clear()


def command(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    get_settings.cache_clear()  # each command reads its settings afresh, as a new process does
    try:
        result = CliRunner().invoke(main, args, env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def dev_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


async def add_children(settings: Settings, world: World, count: int) -> dict[int, str]:
    db = Database(settings)
    numbers = {}
    try:
        async with db.session() as session:
            for n in range(count):
                child = await add_child(session, settings, world.communities[0], world.streets[0], seq=f"{n + 200}")
                numbers[child.id] = id_number(birth_for_age(10), f"{n + 200}")
    finally:
        await db.dispose()
    return numbers


def test_rotate_field_key_command_in_development(
    dev_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, world: World, tmp_path: Path
) -> None:
    serving = dev_settings(dev_env, monkeypatch)  # a running server's settings: the first key file
    first_id = serving.field_key_ring[0].id
    numbers = asyncio.run(add_children(serving, world, 5))

    code, out = command(["rotate-field-key", "--new-key", "--batch-size", "2"], dev_env)
    assert code == 0, out
    keys = keyfiles.read_field_keys(tmp_path / "var" / "field_keys")
    assert [k.id for k in keys][1:] == [first_id]
    assert f"field key {keys[0].id}: 5 children's files, 5 re-encrypted (id_number 5, guardian_phone 5" in out
    assert "3 batches" in out and f"older keys {first_id}" in out
    # The server started before the rotation still reads every file (it re-reads the key file).
    asyncio.run(read_every_number(serving, numbers))

    code, out = command(["rotate-field-key"], dev_env)
    assert code == 0 and "5 children's files, 0 re-encrypted" in out and "5 already under it" in out, out

    code, out = command(["rotate-field-key", "--drop-old"], dev_env)
    assert code == 0 and f"dropped the keys no file uses from {tmp_path / 'var' / 'field_keys'}: {first_id}" in out
    assert keyfiles.read_field_keys(tmp_path / "var" / "field_keys") == (keys[0],)
    asyncio.run(read_every_number(dev_settings(dev_env, monkeypatch), numbers))


def test_rotate_field_key_with_an_environment_ring_does_not_make_keys(dev_env: dict[str, str]) -> None:
    env = {**dev_env, "MARKETPLACE_FIELD_KEYS": f"k2:{K2.secret},k1:{K1.secret}"}
    code, out = command(["rotate-field-key", "--new-key"], env)
    assert code == 2 and "MARKETPLACE_FIELD_KEYS" in out
    code, out = command(["rotate-field-key"], env)
    assert code == 0 and "field key k2: 0 children's files" in out, out
