"""Handovers: who may hand over what to whom, and the outbox event that moves notifications (idempotently)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace import outbox
from marketplace.accounts.models import Handover
from marketplace.accounts.service import HANDOVER_TOPIC
from marketplace.auth.models import User
from marketplace.cases import notifications
from marketplace.cases.models import Notification
from marketplace.db import Database
from tests.conftest import Auth
from tests.support.world import World

Client = AsyncTestClient[Litestar]


async def add_user(db: Database, username: str, role: str, **scope: int | None) -> int:
    async with db.session() as session:
        user = User(username=username, display_name=username, password_hash="!", role=role, **scope)
        session.add(user)
        await session.flush()
        return user.id


async def test_refusals(client: Client, world: World, auth: Auth, db: Database) -> None:
    admin = await auth("admin")
    u = world.users
    blank_director = await add_user(db, "dir.blank", "child_director")
    for who, body, status in [
        ("director", {"from_user_id": u["director"], "to_user_id": blank_director}, 403),
        ("auditor", {"from_user_id": u["director"], "to_user_id": blank_director}, 403),
        ("admin", {"from_user_id": u["director"], "to_user_id": u["director"]}, 422),
        ("admin", {"from_user_id": u["director"], "to_user_id": u["supervisor"]}, 422),  # roles differ
        ("admin", {"from_user_id": u["org"], "to_user_id": u["org2"]}, 422),  # not a director or supervisor
        ("admin", {"from_user_id": u["director"], "to_user_id": u["director2"]}, 409),  # another community
        ("admin", {"from_user_id": u["supervisor"], "to_user_id": u["supervisor2"]}, 409),  # another street
        ("admin", {"from_user_id": u["director"], "to_user_id": 999_999}, 404),
        ("admin", {"from_user_id": 0, "to_user_id": blank_director}, 400),
        ("admin", {"from_user_id": u["director"], "to_user_id": 2**31}, 400),
        ("admin", {"from_user_id": u["director"]}, 400),
        ("admin", {"from_user_id": "abc", "to_user_id": blank_director}, 400),
    ]:
        headers = admin if who == "admin" else await auth(who)
        r = await client.post("/api/v1/handovers", json=body, headers=headers)
        assert r.status_code == status, (who, body, r.text)
    mismatch = await client.post(
        "/api/v1/handovers", json={"from_user_id": u["director"], "to_user_id": u["director2"]}, headers=admin
    )
    assert "community_id" in mismatch.text
    async with db.session(write=False) as session:
        assert (await session.scalar(select(Handover))) is None
        still = await session.get(User, u["director"])
        assert still is not None and still.is_active


async def test_a_supervisor_hands_a_street_to_an_account_without_one(
    client: Client, world: World, auth: Auth, db: Database
) -> None:
    admin = await auth("admin")
    new_id = await add_user(db, "sup.next", "child_supervisor")
    old_id = world.users["supervisor"]
    r = await client.post("/api/v1/handovers", json={"from_user_id": old_id, "to_user_id": new_id}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["street_id"] == world.streets[0] and r.json()["community_id"] is None
    assert r.json()["moved"] == {"street": 1}
    async with db.session(write=False) as session:
        new = await session.get(User, new_id)
        assert new is not None and new.street_id == world.streets[0]
        # Mandatory reports of the street now reach the new supervisor, not the old one.
        assert await notifications.street_supervisors(session, world.streets[0]) == [new_id]


async def test_the_handover_event_is_idempotent(client: Client, world: World, auth: Auth, db: Database) -> None:
    old, new = world.users["director3"], await add_user(db, "dir.next3", "child_director")
    async with db.session() as session:
        session.add_all(
            [
                Notification(key=f"a:{old}", recipient_id=old, kind="k", title="t", entity="child", entity_id=1),
                Notification(key=f"b:{old}", recipient_id=old, kind="k", title="t", entity="child", entity_id=2),
                # The new account already has its own copy of "b": the old copy stays where it is.
                Notification(key=f"b:{new}", recipient_id=new, kind="k", title="t", entity="child", entity_id=2),
            ]
        )
    admin = await auth("admin")
    r = await client.post("/api/v1/handovers", json={"from_user_id": old, "to_user_id": new}, headers=admin)
    assert r.status_code == 201, r.text
    async with db.session(write=False) as session:
        event_id = await session.scalar(select(outbox.OutboxEvent.id).where(outbox.OutboxEvent.topic == HANDOVER_TOPIC))
    assert event_id is not None
    # Delivered again (as a broker may): nothing more moves, the count stays.
    handler = outbox.handlers()[HANDOVER_TOPIC]
    async with db.session() as session:
        event = await session.get(outbox.OutboxEvent, event_id)
        assert event is not None
        await handler(session, dict(event.payload))
    async with db.session(write=False) as session:
        keys = {n.key: n.recipient_id for n in (await session.scalars(select(Notification))).all()}
        row = await session.scalar(select(Handover))
    assert keys == {f"a:{new}": new, f"b:{old}": old, f"b:{new}": new}
    assert row is not None and row.moved == {"community": 1, "notifications": 1}
