"""What the cases feature asks of the features built on it, as typed ports they fill in.

Cases sits below referrals in the layer order, so it cannot read referrals itself. Closing a child's file
names, in its answer, the referrals it withdraws (the withdrawal itself runs in referrals, on the
``cases.file_closed`` outbox event); the referrals feature registers the reader here when it loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

# The outbox topic of a child's file being closed; payload {"child_id": int, "reason": str}.
FILE_CLOSED = "cases.file_closed"


class OpenReferrals(Protocol):
    async def __call__(self, session: AsyncSession, child_id: int) -> Sequence[int]:
        """The ids of the child's referrals still waiting or in progress, in id order."""
        ...


async def _no_referrals(session: AsyncSession, child_id: int) -> Sequence[int]:
    return ()


_open_referrals: OpenReferrals = _no_referrals


def use_open_referrals(reader: OpenReferrals) -> None:
    """Register the reader of a child's open referrals (the referrals feature does, on load)."""
    global _open_referrals
    _open_referrals = reader


async def open_referrals(session: AsyncSession, child_id: int) -> Sequence[int]:
    """The child's open referrals, or none when no feature keeps referrals."""
    return await _open_referrals(session, child_id)
