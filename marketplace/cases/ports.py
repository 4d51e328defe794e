"""What the cases feature asks of the features built on it, as typed ports they fill in.

Cases sits below referrals in the layer order, so it cannot read referrals itself. Closing a child's file
names, in its answer, the referrals it withdraws (the withdrawal itself runs in referrals, on the
``cases.file_closed`` outbox event); the referrals feature registers the reader here when it loads. A file
transferred to another community takes its open referrals with it, through the mover registered the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import ColumnElement, false
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


class MoveReferrals(Protocol):
    async def __call__(
        self, session: AsyncSession, need_ids: Sequence[int], community_id: int, street_id: int
    ) -> Sequence[int]:
        """Move the referrals of ``need_ids`` to the community and street a file was transferred to (in the caller's
        transaction); the ids of the referrals moved, in id order."""
        ...


async def _no_referrals_to_move(
    session: AsyncSession, need_ids: Sequence[int], community_id: int, street_id: int
) -> Sequence[int]:
    return ()


_move_referrals: MoveReferrals = _no_referrals_to_move


def use_move_referrals(mover: MoveReferrals) -> None:
    """Register the mover of a transferred file's referrals (the referrals feature does, on load)."""
    global _move_referrals
    _move_referrals = mover


async def move_referrals(
    session: AsyncSession, need_ids: Sequence[int], community_id: int, street_id: int
) -> Sequence[int]:
    """A transferred file's referrals follow it (the scope of a referral is its child's community and street)."""
    return await _move_referrals(session, need_ids, community_id, street_id)


# ---------------------------------------------------------------- referral escalations
#
# An escalation step of a referral (``cases.escalation``) is open while the referral is still where the step's kind
# says (``accept``: still sent; ``first_contact``: accepted, not started); a supervisor's reminder goes to the
# provider. Both are read in referrals, registered here when it loads.


class OpenReferralSteps(Protocol):
    def __call__(self) -> ColumnElement[bool]:
        """The SQL condition, on ``Escalation`` rows of entity "referral", that the step is still open."""
        ...


def _no_open_referral_steps() -> ColumnElement[bool]:
    return false()


_open_referral_steps: OpenReferralSteps = _no_open_referral_steps


def use_open_referral_steps(condition: OpenReferralSteps) -> None:
    global _open_referral_steps
    _open_referral_steps = condition


def open_referral_steps() -> ColumnElement[bool]:
    return _open_referral_steps()


class ReferralProvider(Protocol):
    async def __call__(self, session: AsyncSession, referral_id: int) -> int | None:
        """The organization that holds the referral (the one to remind), None if there is no such referral."""
        ...


async def _no_provider(session: AsyncSession, referral_id: int) -> int | None:
    return None


_referral_provider: ReferralProvider = _no_provider


def use_referral_provider(reader: ReferralProvider) -> None:
    global _referral_provider
    _referral_provider = reader


async def referral_provider(session: AsyncSession, referral_id: int) -> int | None:
    return await _referral_provider(session, referral_id)


# ---------------------------------------------------------------- organizations serving a child
#
# A case conference (``conferences``) may invite the staff of an organization that serves the child through a
# referral; the referrals feature reads which, registered here when it loads.


class ServingOrganizations(Protocol):
    async def __call__(self, session: AsyncSession, child_id: int) -> Sequence[int]:
        """The organizations holding one of the child's referrals (accepted, in service or completed), in id order."""
        ...


async def _no_organizations(session: AsyncSession, child_id: int) -> Sequence[int]:
    return ()


_serving_organizations: ServingOrganizations = _no_organizations


def use_serving_organizations(reader: ServingOrganizations) -> None:
    global _serving_organizations
    _serving_organizations = reader


async def serving_organizations(session: AsyncSession, child_id: int) -> Sequence[int]:
    return await _serving_organizations(session, child_id)
