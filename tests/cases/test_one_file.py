"""One person, one file: a second file for an identity number is refused (409 naming only the holding community),
the file moves by a transfer the holding side approves, and `marketplace check-duplicates` finds old pairs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases_service
from marketplace.cases.models import Child, ChildTransfer, Need, Notification
from marketplace.cases.schemas import ChildIn
from marketplace.cli import main
from marketplace.db import Database
from marketplace.errors import Conflict
from marketplace.referrals.models import Referral
from marketplace.settings import Settings, get_settings
from tests.cases.support import Cases, add_child, birth_for_age, id_number
from tests.conftest import BACKEND, assert_problem
from tests.support.world import World

TRANSFERS = "/api/v1/child-transfers"


def number_of(seq: str) -> str:
    """The identity number of a child of the ``cases`` fixture (all aged 10)."""
    return id_number(birth_for_age(10), seq)


def body_for(world: World, number: str, community: int = 0, **kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "community_id": world.communities[community],
        "name": "新来的孩子",
        "gender": "male",
        "birth_date": birth_for_age(10).isoformat(),
        "id_number": number,
        "categories": ["left_behind"],
        "guardianship": "family",
        "risk_level": "medium",
    }
    body.update(kw)
    return body


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the refusal


async def test_a_second_file_is_refused_naming_only_the_holding_community(
    client, auth, cases: Cases, world, db
) -> None:
    children = await count(db, Child)
    audits = await count(db, AuditEntry)
    # C's number (a file in 百花, 园岭街道) filed by the director of 福山: refused, nothing written.
    r = await client.post("/api/v1/children", json=body_for(world, number_of("995")), headers=await auth("director"))
    problem = assert_problem(r, 409)
    assert problem["code"] == "id_number_exists"
    assert problem["holding_community"] == {"id": world.communities[2], "name": "百花社区"}
    assert problem["transfer"] == {"method": "POST", "href": TRANSFERS}
    assert "child_id" not in problem and "王小华" not in r.text and "street" not in json.dumps(problem)
    assert "百花社区" in problem["detail"]
    assert await count(db, Child) == children and await count(db, AuditEntry) == audits
    # In lower case (an x check digit) the number is the same number.
    lower = number_of("995").lower()
    r = await client.post("/api/v1/children", json=body_for(world, lower), headers=await auth("director"))
    assert r.status_code in (409, 422)
    # The holding director may open the file anyway: the refusal names it to them.
    r = await client.post(
        "/api/v1/children", json=body_for(world, number_of("995"), 2), headers=await auth("director3")
    )
    assert assert_problem(r, 409)["child_id"] == cases.children["C"]
    # A closed file still holds its number.
    async with db.session() as s:
        (await s.get(Child, cases.children["B"])).status = "closed"  # type: ignore[union-attr]
    r = await client.post(
        "/api/v1/children", json=body_for(world, number_of("993"), 2), headers=await auth("director3")
    )
    assert assert_problem(r, 409)["holding_community"]["id"] == world.communities[1]
    # A new number is filed.
    r = await client.post("/api/v1/children", json=body_for(world, number_of("997")), headers=await auth("director"))
    assert r.status_code == 201, r.text


async def test_changing_a_number_to_one_that_has_a_file_is_refused(client, auth, cases: Cases, world, db) -> None:
    h = await auth("director")
    a = cases.children["A"]
    r = await client.patch(f"/api/v1/children/{a}", json={"id_number": number_of("995")}, headers=h)
    problem = assert_problem(r, 409)
    assert problem["code"] == "id_number_exists" and problem["holding_community"]["name"] == "百花社区"
    # the district sees the number's last 4 digits (the director none: marketplace.masking)
    read = await client.get(f"/api/v1/children/{a}", headers=await auth("admin"))
    assert read.json()["id_number_masked"].endswith(number_of("991")[-4:])  # unchanged
    # Its own number again, or a free one, is no conflict.
    assert (
        await client.patch(f"/api/v1/children/{a}", json={"id_number": number_of("991")}, headers=h)
    ).status_code == 200
    r = await client.patch(f"/api/v1/children/{a}", json={"id_number": number_of("981")}, headers=h)
    assert r.status_code == 200
    read = await client.get(f"/api/v1/children/{a}", headers=await auth("admin"))
    assert read.json()["id_number_masked"].endswith(number_of("981")[-4:])


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite serializes writers: there is no race to lose")
async def test_concurrent_creates_of_one_number_file_it_once(settings: Settings, world: World, db: Database) -> None:
    """Two directors file the same new number at the same moment: exactly one file is opened."""
    number = number_of("977")
    people = [
        Principal(world.users[u], u, "child_director", street_id=s, community_id=c)
        for u, s, c in (
            ("director", world.streets[0], world.communities[0]),
            ("director2", world.streets[0], world.communities[1]),
        )
    ]

    async def create(principal: Principal) -> str:
        data = ChildIn(
            community_id=principal.community_id or 0,
            name="同时建档",
            gender="female",
            birth_date=birth_for_age(10),
            id_number=number,
            categories=["left_behind"],
            guardianship="family",
            risk_level="low",
        )
        try:
            async with db.session() as s:
                await cases_service.create_child(s, principal, settings, data)
                await asyncio.sleep(0.2)  # hold the transaction open while the other one checks
        except Conflict:
            return "refused"
        return "created"

    results = await asyncio.gather(*(create(p) for p in people))
    assert sorted(results) == ["created", "refused"]
    async with db.session(write=False) as s:  # names are encrypted at rest: compared once decrypted
        assert [c.name for c in (await s.scalars(select(Child))).all()].count("同时建档") == 1


# ---------------------------------------------------------------- transfers


async def request_c(client, auth, reason: str = "孩子随母亲搬到福山社区居住") -> dict:
    r = await client.post(
        TRANSFERS, json={"id_number": number_of("995"), "reason": reason}, headers=await auth("director")
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_transfer_approved_by_the_holding_director_moves_the_file(client, auth, cases: Cases, world, db) -> None:
    c = cases.children["C"]
    t = await request_c(client, auth)
    # The requester sees the communities and the status, not the child.
    assert t["status"] == "pending" and t["child_id"] is None and t["child_name"] is None
    assert t["from_community"] == {"id": world.communities[2], "name": "百花社区"}
    assert t["to_community"]["id"] == world.communities[0] and t["allowed_actions"] == ["cancel"]
    # One pending request per file.
    again = await client.post(
        TRANSFERS, json={"id_number": number_of("995"), "reason": "再次"}, headers=await auth("director2")
    )
    assert assert_problem(again, 409)["code"] == "transfer_pending"
    # The holding side is told and sees whose file it is.
    async with db.session(write=False) as s:
        told = set(
            (await s.scalars(select(Notification.recipient_id).where(Notification.kind == "transfer_request"))).all()
        )
    assert told == {world.users["director3"], world.users["supervisor2"]}
    listed = (await client.get(TRANSFERS, headers=await auth("director3"))).json()
    assert listed["total"] == 1 and listed["items"][0]["child_id"] == c
    assert listed["items"][0]["allowed_actions"] == ["approve", "reject"]
    # Others: director2 (neither side) lists nothing and cannot see it; the requester cannot approve it.
    assert (await client.get(TRANSFERS, headers=await auth("director2"))).json()["total"] == 0
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/approve", headers=await auth("director2")), 404)
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/approve", headers=await auth("director")), 403)
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/approve", headers=await auth("supervisor")), 404)
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/approve", headers=await auth("admin")), 403)
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/cancel", headers=await auth("director3")), 403)

    # A mandatory report still being handled follows the file.
    report = await client.post(
        f"/api/v1/children/{c}/reports",
        json={"kind": "lives_alone", "description": "独自在家"},
        headers=await auth("director3"),
    )
    assert report.status_code == 201, report.text
    report_id = report.json()["id"]

    r = await client.post(f"{TRANSFERS}/{t['id']}/approve", json={"note": "已核实"}, headers=await auth("director3"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["allowed_actions"] == []
    assert_problem(await client.post(f"{TRANSFERS}/{t['id']}/reject", headers=await auth("director3")), 409)
    # The file, its open need and that need's referral are in 福山 (福田街道) now, in one transaction.
    async with db.session(write=False) as s:
        child = await s.get(Child, c)
        need = await s.get(Need, cases.needs["C"])
        ref = await s.get(Referral, cases.referrals["C"])
        assert (child.community_id, child.street_id) == (world.communities[0], world.streets[0])  # type: ignore[union-attr]
        assert (need.community_id, need.street_id) == (world.communities[0], world.streets[0])  # type: ignore[union-attr]
        assert (ref.community_id, ref.street_id) == (world.communities[0], world.streets[0])  # type: ignore[union-attr]
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "transfer", AuditEntry.entity_id == c))
        assert audit is not None and audit.detail["referral_ids"] == [cases.referrals["C"]]
        told = set(
            (await s.scalars(select(Notification.recipient_id).where(Notification.kind == "transfer_approve"))).all()
        )
    assert told == {world.users["director"]}
    # The requester reads the file; the old director and supervisor no longer do.
    assert (await client.get(f"/api/v1/children/{c}", headers=await auth("director"))).status_code == 200
    assert (
        await client.get(f"/api/v1/referrals/{cases.referrals['C']}", headers=await auth("director"))
    ).status_code == 200
    assert_problem(await client.get(f"/api/v1/children/{c}", headers=await auth("director3")), 404)
    assert_problem(await client.get(f"/api/v1/children/{c}", headers=await auth("supervisor2")), 404)
    assert_problem(await client.get(f"/api/v1/referrals/{cases.referrals['C']}", headers=await auth("director3")), 404)
    assert (
        await client.get(f"/api/v1/mandatory-reports/{report_id}", headers=await auth("director"))
    ).status_code == 200
    assert_problem(await client.get(f"/api/v1/mandatory-reports/{report_id}", headers=await auth("director3")), 404)
    mine = (await client.get(f"{TRANSFERS}/{t['id']}", headers=await auth("director"))).json()
    assert mine["child_id"] == c
    # The file is in the requester's community now: asking again is a conflict.
    r = await client.post(
        TRANSFERS, json={"id_number": number_of("995"), "reason": "x"}, headers=await auth("director")
    )
    assert assert_problem(r, 409)["code"] == "already_here"


async def test_transfer_approved_by_the_holding_street_supervisor(client, auth, cases: Cases, world, db) -> None:
    t = await request_c(client, auth)
    r = await client.post(f"{TRANSFERS}/{t['id']}/approve", headers=await auth("supervisor2"))
    assert r.status_code == 200 and r.json()["status"] == "approved"
    async with db.session(write=False) as s:
        assert (await s.get(Child, cases.children["C"])).community_id == world.communities[0]  # type: ignore[union-attr]


async def test_transfer_rejected_or_cancelled_leaves_the_file(client, auth, cases: Cases, world, db) -> None:
    t = await request_c(client, auth)
    r = await client.post(
        f"{TRANSFERS}/{t['id']}/reject", json={"note": "孩子仍在本社区"}, headers=await auth("director3")
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    mine = (await client.get(f"{TRANSFERS}/{t['id']}", headers=await auth("director"))).json()
    assert mine["child_id"] is None and mine["decision_note"] == "孩子仍在本社区"
    async with db.session(write=False) as s:
        assert (await s.get(Child, cases.children["C"])).community_id == world.communities[2]  # type: ignore[union-attr]
        told = set(
            (await s.scalars(select(Notification.recipient_id).where(Notification.kind == "transfer_reject"))).all()
        )
    assert told == {world.users["director"]}
    # Rejected: a new request may be made, and its requester cancels it.
    t2 = await request_c(client, auth, "再次申请")
    assert_problem(await client.post(f"{TRANSFERS}/{t2['id']}/cancel", headers=await auth("supervisor2")), 403)
    r = await client.post(f"{TRANSFERS}/{t2['id']}/cancel", headers=await auth("director"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(await client.post(f"{TRANSFERS}/{t2['id']}/approve", headers=await auth("director3")), 409)
    assert await count(db, ChildTransfer, ChildTransfer.status == "pending") == 0
    async with db.session(write=False) as s:
        assert (await s.get(Child, cases.children["C"])).community_id == world.communities[2]  # type: ignore[union-attr]


async def test_transfer_requests_that_cannot_be_made(client, auth, cases: Cases, world) -> None:
    h = await auth("director")
    assert_problem(await client.post(TRANSFERS, json={"id_number": number_of("999"), "reason": "x"}, headers=h), 404)
    assert_problem(await client.post(TRANSFERS, json={"id_number": number_of("991"), "reason": "x"}, headers=h), 409)
    assert_problem(
        await client.post(TRANSFERS, json={"id_number": "440304201501019915", "reason": "x"}, headers=h), 422
    )
    assert_problem(await client.post(TRANSFERS, json={"id_number": number_of("995")}, headers=h), 400)
    for role in ("supervisor", "admin", "org"):
        r = await client.post(TRANSFERS, json={"id_number": number_of("995"), "reason": "x"}, headers=await auth(role))
        assert_problem(r, 403)
    assert (await client.get(TRANSFERS, headers=await auth("org"))).json()["total"] == 0


# ---------------------------------------------------------------- check-duplicates


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": str(tmp_path),
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "REDIS_URL": "",
        # The key ring the test's files were encrypted under.
        "MARKETPLACE_FIELD_KEY": settings.field_key,
        "MARKETPLACE_SECRET_KEY": settings.secret_key,
    }
    get_settings.cache_clear()


def command(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, args, env=env)
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


async def test_check_duplicates_finds_the_files_filed_twice(
    settings: Settings, world: World, db: Database, cli_env: dict[str, str]
) -> None:
    async with db.session() as s:
        await add_child(s, settings, world.communities[0], world.streets[0], seq="961")
    code, out = await asyncio.to_thread(command, ["check-duplicates"], cli_env)
    assert code == 0, out
    assert "0 identity numbers filed more than once" in out
    # Files opened before the rule: the same number in two communities (one closed), a third number alone.
    async with db.session() as s:
        first = (await s.scalars(select(Child.id))).one()
        second = await add_child(s, settings, world.communities[2], world.streets[1], seq="961", name="张小明")
        second.status = "closed"
        await add_child(s, settings, world.communities[1], world.streets[0], seq="963")
        second_id = second.id
    code, out = await asyncio.to_thread(command, ["check-duplicates"], cli_env)
    assert code == 1, out
    assert "1 identity numbers filed more than once (2 files)" in out
    assert f"child {first}  福山社区" in out and f"child {second_id}  百花社区" in out and "closed" in out
    assert number_of("961") not in out  # masked
    code, out = await asyncio.to_thread(command, ["check-duplicates", "--json"], cli_env)
    assert code == 1
    doc = json.loads(out)
    assert doc["duplicate_numbers"] == 1 and doc["files"] == 2
    files = doc["groups"][0]["files"]
    assert [f["child_id"] for f in files] == [first, second_id]
    assert [f["community_id"] for f in files] == [world.communities[0], world.communities[2]]
    assert files[1]["status"] == "closed"
    assert dt.datetime.fromisoformat(files[0]["created_at"]).date() <= clock.today() + dt.timedelta(days=1)
