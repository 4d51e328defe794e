"""What procurement asks of the features built on it, as typed ports they fill in.

The directors' post subsidy (``allowances``, kind ``director_subsidy``) is paid at the standard times a factor
that the workforce feature's yearly assessment decides (the grade of the year before the month paid). Procurement
sits below workforce in the layer order, so it cannot read assessments itself: the workforce feature registers
the reader here when it loads (``workforce/handlers.py``). Without it everybody is paid in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class SubsidyFactor:
    percent: int  # 0..: the share of the standard paid (100 = in full, 0 = not paid)
    reason: str = ""  # why it is not 100 (shown in the run's result), e.g. "2025年度考核不合格"


FULL = SubsidyFactor(100)


class SubsidyFactors(Protocol):
    async def __call__(self, session: AsyncSession, year: int, user_ids: Sequence[int]) -> Mapping[int, SubsidyFactor]:
        """Each director's factor for a month of ``year`` (decided by the assessment of ``year - 1``); a user not in
        the answer is paid in full."""
        ...


async def _everyone_in_full(session: AsyncSession, year: int, user_ids: Sequence[int]) -> Mapping[int, SubsidyFactor]:
    return {}


_subsidy_factors: SubsidyFactors = _everyone_in_full


def use_subsidy_factors(reader: SubsidyFactors) -> None:
    """Register the reader of the directors' subsidy factors (the workforce feature does, on load)."""
    global _subsidy_factors
    _subsidy_factors = reader


async def subsidy_factors(session: AsyncSession, year: int, user_ids: Sequence[int]) -> Mapping[int, SubsidyFactor]:
    return await _subsidy_factors(session, year, user_ids)
