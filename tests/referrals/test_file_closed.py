"""The referrals side of closing a child's file: the ``cases.file_closed`` handler revokes what is open, once."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.cases import ports
from marketplace.cases.models import Child
from marketplace.db import Database
from marketplace.outbox import OutboxEvent
from marketplace.referrals import handlers
from marketplace.referrals.models import Referral
from tests.cases.support import Cases


async def _status(db: Database, referral_id: int) -> tuple[str, object]:
    async with db.session(write=False) as s:
        r = await s.get(Referral, referral_id)
        assert r is not None
        return r.status, r.revoked_at


async def _set_child_status(db: Database, child_id: int, status: str) -> None:
    async with db.session() as s:
        child = await s.get(Child, child_id)
        assert child is not None
        child.status = status


async def _revoke_events(db: Database) -> int:
    async with db.session(write=False) as s:
        count = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == "referrals.revoke")
        )
        return int(count or 0)


async def test_the_handler_revokes_a_closed_files_referrals_once(db: Database, cases: Cases) -> None:
    child, rid = cases.children["A"], cases.referrals["A"]
    await _set_child_status(db, child, "closed")
    payload = {"child_id": child, "reason": "儿童档案已结案"}
    async with db.session() as s:
        assert await ports.open_referrals(s, child) == [rid]
        await handlers.file_closed(s, payload)
    status, revoked_at = await _status(db, rid)
    assert status == "revoked" and revoked_at is not None
    assert await _revoke_events(db) == 1
    # A second delivery of the same event finds nothing open and changes nothing.
    async with db.session() as s:
        assert await ports.open_referrals(s, child) == []
        await handlers.file_closed(s, payload)
    assert await _status(db, rid) == (status, revoked_at)
    assert await _revoke_events(db) == 1
    # The other children's referrals are untouched.
    assert (await _status(db, cases.referrals["C"]))[0] == "sent"


async def test_a_file_reopened_before_delivery_keeps_its_referrals(db: Database, cases: Cases) -> None:
    child, rid = cases.children["A"], cases.referrals["A"]
    async with db.session() as s:
        await handlers.file_closed(s, {"child_id": child, "reason": "儿童档案已结案"})
        await handlers.file_closed(s, {"child_id": 999_999, "reason": ""})
    assert (await _status(db, rid))[0] == "sent"
