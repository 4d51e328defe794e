"""What matching reads from the referrals feature, which is built on it: a typed port referrals fills in.

Matching sits below referrals in the layer order, yet a child's past referrals (services that declined the
child, providers serving or having helped the child), a provider's track record and a social worker's
caseload all weigh in the score and the plan. Referrals registers its reader with ``use_referral_history``
when it loads (``marketplace/referrals/handlers.py``); without a referrals feature there is no history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.matching.scoring import ProviderRecord


@dataclass(frozen=True, slots=True)
class ChildHistory:
    """A child's referrals as matching weighs them."""

    declined_services: frozenset[int] = frozenset()  # services that declined the child
    current_orgs: frozenset[int] = frozenset()  # providers serving the child now
    helped_orgs: frozenset[int] = frozenset()  # providers that finished with the child helped


class ReferralHistory(Protocol):
    """Each question twice: on a session (the batch, the referral check) and on a synchronous ``Connection``, for
    reads run whole through ``Database.read`` (the match endpoint)."""

    async def children(self, session: AsyncSession, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]:
        """Each child's history; a child with none may be missing from the answer."""
        ...

    async def providers(
        self, session: AsyncSession, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]:
        """Each provider's record of referrals sent since the moment; one with none may be missing."""
        ...

    async def caseloads(self, session: AsyncSession, social_worker_ids: Sequence[int]) -> Mapping[int, int]:
        """How many referrals each social worker carries now (waiting or in service); 0 may be missing."""
        ...

    def children_on(self, conn: Connection, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]: ...

    def providers_on(
        self, conn: Connection, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]: ...

    def caseloads_on(self, conn: Connection, social_worker_ids: Sequence[int]) -> Mapping[int, int]: ...


class NoReferralHistory:
    """The history when no feature keeps referrals: nothing declined, served or carried."""

    async def children(self, session: AsyncSession, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]:
        return {}

    async def providers(
        self, session: AsyncSession, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]:
        return {}

    async def caseloads(self, session: AsyncSession, social_worker_ids: Sequence[int]) -> Mapping[int, int]:
        return {}

    def children_on(self, conn: Connection, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]:
        return {}

    def providers_on(
        self, conn: Connection, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]:
        return {}

    def caseloads_on(self, conn: Connection, social_worker_ids: Sequence[int]) -> Mapping[int, int]:
        return {}


_history: ReferralHistory = NoReferralHistory()


def use_referral_history(history: ReferralHistory) -> None:
    """Register the reader of referral history (the referrals feature does, on load)."""
    global _history
    _history = history


def referral_history() -> ReferralHistory:
    return _history
