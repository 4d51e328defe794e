"""What the workforce feature fills in for the features below it (imported at start by ``features.load_models``).

The directors' post subsidy (``procurement.allowances``) is paid at the standard times the factor of the grade of
the director's confirmed assessment of the year before (``taxonomy.SUBSIDY_FACTOR_PCT``); no confirmed
assessment: in full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.procurement import ports
from marketplace.workforce import service
from marketplace.workforce.taxonomy import GRADE_LABELS, NO_ASSESSMENT_FACTOR_PCT, SUBSIDY_FACTOR_PCT


async def subsidy_factors(
    session: AsyncSession, year: int, user_ids: Sequence[int]
) -> Mapping[int, ports.SubsidyFactor]:
    graded = await service.confirmed_grades(session, year - 1, user_ids)
    out: dict[int, ports.SubsidyFactor] = {}
    for uid, a in graded.items():
        pct = SUBSIDY_FACTOR_PCT.get(a.grade or "", NO_ASSESSMENT_FACTOR_PCT)
        if pct != 100:
            label = GRADE_LABELS.get(a.grade or "", a.grade or "")
            reason = f"{a.year}年度考核{label}，按{pct}%发放" if pct else f"{a.year}年度考核{label}，不发放岗位补贴"
            out[uid] = ports.SubsidyFactor(pct, reason)
    return out


ports.use_subsidy_factors(subsidy_factors)
