"""What the fund asks of the features built on it, as typed ports they fill in.

A disbursement may pay a referral (转介), but referrals sit above funds in the layer order, so the fund cannot read
one itself: the referrals feature registers, when it loads, a reader of the facts the purpose rule needs (which
service the referral buys, what the need is for, and where the child lives and which groups the child is in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class ReferralFacts:
    referral_id: int
    service_id: int
    need_category: str  # a service category (``resources.taxonomy.SERVICE_CATEGORIES``)
    child_street_id: int
    child_categories: frozenset[str]  # child categories (``resources.taxonomy.CHILD_CATEGORIES``)
    status: str = "sent"
    ended_unserved: bool = False  # declined by the provider or withdrawn: nothing was or will be delivered
    status_label: str = ""


class ReferralReader(Protocol):
    async def __call__(self, session: AsyncSession, referral_id: int) -> ReferralFacts | None:
        """The facts of one referral, or None when there is no such referral."""
        ...


async def _no_referrals(session: AsyncSession, referral_id: int) -> ReferralFacts | None:
    return None


_referral_reader: ReferralReader = _no_referrals


def use_referral_reader(reader: ReferralReader) -> None:
    """Register the reader of a referral's facts (the referrals feature does, on load)."""
    global _referral_reader
    _referral_reader = reader


async def referral_facts(session: AsyncSession, referral_id: int) -> ReferralFacts | None:
    """A referral's facts, or None when it does not exist (or no feature keeps referrals)."""
    return await _referral_reader(session, referral_id)
