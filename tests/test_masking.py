"""The masking policy (marketplace.masking), table-driven: per role, per view of a child (the API's file and list,
the console's page), which fields show and in what form; no role can rebuild an identity number from what it sees;
a field whose ciphertext cannot be decrypted shows as 无法解密 and the file still opens."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from marketplace import clock, masking
from marketplace.cases.crypto import FieldCipher, field_cipher
from marketplace.cases.models import Child
from marketplace.db import Database
from marketplace.keyfiles import FieldKey
from marketplace.settings import Settings
from tests.admin.console import console_login
from tests.cases.support import add_child
from tests.conftest import Auth
from tests.support.world import World

PHONE = "13900001234"
ADDRESS = "福田区福山社区某某花园3栋1201"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
REGION = "440304"  # the district's code: known to anyone who knows the child's street

USERS = {
    "child_director": "director",
    "child_supervisor": "supervisor",
    "district_admin": "admin",
    "auditor": "auditor",
}


@pytest.fixture
async def child(db: Database, world: World, settings: Settings) -> dict[str, Any]:
    async with db.session() as session:
        c = await add_child(session, settings, world.communities[0], world.streets[0], name="张小明", seq="991")
        c.address_enc = field_cipher(settings).encrypt(ADDRESS, "children.address")
        number = field_cipher(settings).decrypt(c.id_number_enc, "children.id_number")
        return {"id": c.id, "number": number, "birth": c.birth_date, "name": c.name, "guardian": c.guardian_name}


def expected(role: str, child: dict[str, Any]) -> dict[str, Any]:
    """What the policy table in marketplace/masking.py says ``role`` sees, written out by hand."""
    number = child["number"]
    district = role in ("district_admin", "auditor")
    return {
        "name": child["name"],
        "birth_date": None if district else child["birth"].isoformat(),
        "id_number_masked": "*" * 14 + number[-4:] if district else "*" * 18,
        "guardian_name": "张**" if district else child["guardian"],
        "guardian_phone_masked": "139****1234",
        "address_masked": ADDRESS[:5] + "*" * (len(ADDRESS) - 5),  # the area only
    }


@pytest.mark.parametrize("role", sorted(USERS))
async def test_the_api_file_and_list_show_each_field_as_the_policy_says(
    client: AsyncTestClient[Litestar], auth: Auth, child: dict[str, Any], role: str
) -> None:
    headers = await auth(USERS[role])
    want = expected(role, child)
    one = await client.get(f"/api/v1/children/{child['id']}", headers=headers)
    assert one.status_code == 200, one.text
    assert {k: one.json()[k] for k in want} == want
    listed = await client.get("/api/v1/children", headers=headers)
    line = next(c for c in listed.json()["items"] if c["id"] == child["id"])
    assert (line["name"], line["id_number_masked"]) == (want["name"], want["id_number_masked"])
    assert "birth_date" not in line
    # never the clear values
    for text in (one.text, listed.text):
        assert child["number"] not in text and PHONE not in text and ADDRESS not in text


@pytest.mark.parametrize("role", sorted(USERS))
async def test_the_console_page_shows_each_field_as_the_policy_says(
    client: AsyncTestClient[Litestar], child: dict[str, Any], role: str
) -> None:
    await console_login(client, USERS[role])
    page = await client.get(f"/admin/children/{child['id']}")
    assert page.status_code == 200, page.text
    want = expected(role, child)
    for key in ("name", "id_number_masked", "guardian_name", "guardian_phone_masked", "address_masked"):
        assert want[key] in page.text, key
    birth = child["birth"].isoformat()
    assert (birth in page.text) is (want["birth_date"] is not None)
    assert child["number"] not in page.text and PHONE not in page.text and ADDRESS not in page.text


def test_every_role_and_field_has_a_form() -> None:
    for role in USERS:
        assert set(masking.POLICY[role]) == set(masking.FIELDS), role
    # a role the policy does not name sees nothing
    assert {masking.form_of("org_staff", f) for f in masking.FIELDS} == {"hidden"}
    assert masking.show("org_staff", "id_number", "440304201501150011").strip("*") == ""


# ---------------------------------------------------------------- rebuilding an identity number


def _born_between(age: int, today: dt.date) -> list[dt.date]:
    """Every birth date that gives ``age`` today."""
    latest = (
        today.replace(year=today.year - age)
        if (today.month, today.day) != (2, 29)
        else dt.date(today.year - age, 2, 28)
    )
    earliest = latest.replace(year=latest.year - 1) + dt.timedelta(days=1)
    return [earliest + dt.timedelta(days=n) for n in range((latest - earliest).days + 1)]


def candidates(seen: dict[str, Any], gender: str, today: dt.date) -> set[str]:
    """The identity numbers consistent with what a role sees: the region (from the street), the birth date (or the
    age), the gender (the 17th digit's parity), the masked number's visible characters and the check character."""
    births = (
        [dt.date.fromisoformat(seen["birth_date"])] if seen.get("birth_date") else _born_between(seen["age"], today)
    )
    masks = [m for m in seen["masks"] if m and len(m) == 18]
    found: set[str] = set()
    for born in births:
        head = f"{REGION}{born:%Y%m%d}"
        for seq in range(1000):
            if (seq % 2 == 1) != (gender == "male"):
                continue
            first = f"{head}{seq:03d}"
            number = first + CHECK[sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11]
            if all(all(m == "*" or m == n for m, n in zip(mask, number, strict=True)) for mask in masks):
                found.add(number)
    return found


@pytest.mark.parametrize("role", sorted(USERS))
async def test_no_role_can_rebuild_the_identity_number_from_what_it_sees(
    client: AsyncTestClient[Litestar], auth: Auth, child: dict[str, Any], role: str
) -> None:
    headers = await auth(USERS[role])
    one = (await client.get(f"/api/v1/children/{child['id']}", headers=headers)).json()
    listed = (await client.get("/api/v1/children", headers=headers)).json()["items"]
    line = next(c for c in listed if c["id"] == child["id"])
    seen = {
        "birth_date": one["birth_date"],
        "age": one["age"],
        "masks": [one["id_number_masked"], line["id_number_masked"]],
    }
    possible = candidates(seen, one["gender"], clock.today())
    assert child["number"] in possible  # the reasoning is sound: the true number is among them
    assert len(possible) >= 10, (role, len(possible))


def test_the_old_mask_with_the_birth_date_rebuilds_the_number() -> None:
    """The check above has teeth: the old mask (first 4 and last 4) next to the birth date leaves one number."""
    number = "440304201501150010"
    first = number[:17]
    number = first + CHECK[sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11]
    seen = {"birth_date": "2015-01-15", "age": 0, "masks": [number[:4] + "*" * 10 + number[-4:]]}
    assert candidates(seen, "male" if int(number[16]) % 2 else "female", dt.date(2026, 1, 1)) == {number}


# ---------------------------------------------------------------- ciphertexts that cannot be decrypted


async def test_an_undecryptable_field_shows_as_unreadable_and_the_file_opens(
    client: AsyncTestClient[Litestar],
    auth: Auth,
    db: Database,
    child: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stranger = FieldCipher([FieldKey("stranger", "another key entirely")])
    async with db.session() as session:
        await session.execute(
            update(Child)
            .where(Child.id == child["id"])
            .values(
                id_number_enc=stranger.encrypt(child["number"], "children.id_number"),  # a key we do not hold
                guardian_phone_enc="v2:k1:bm90IGEgcmVhbCBjaXBoZXJ0ZXh0IGF0IGFsbA==",  # corrupted
                address_enc="v9:garbage",  # not a ciphertext at all
            )
        )
    caplog.set_level(logging.WARNING, logger="marketplace")
    for user in ("director", "admin"):
        headers = await auth(user)
        one = await client.get(f"/api/v1/children/{child['id']}", headers=headers)
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["id_number_masked"] == body["guardian_phone_masked"] == body["address_masked"] == "无法解密"
        listed = await client.get("/api/v1/children", headers=headers)
        assert listed.status_code == 200, listed.text
        assert next(c for c in listed.json()["items"] if c["id"] == child["id"])["id_number_masked"] == "无法解密"
    # the audited contact reveal answers too
    r = await client.post(
        f"/api/v1/children/{child['id']}/contact", json={"reason": "入户走访前核实"}, headers=await auth("director")
    )
    assert r.status_code == 200, r.text
    assert r.json()["guardian_phone"] == r.json()["address"] == "无法解密"
    await console_login(client, "director")
    page = await client.get(f"/admin/children/{child['id']}")
    assert page.status_code == 200, page.text
    assert "无法解密" in page.text
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "decrypt" in r.getMessage()]
    assert any("children.id_number" in m for m in warned) and any("children.address" in m for m in warned)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
