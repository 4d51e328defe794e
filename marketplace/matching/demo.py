"""Demo data the plans' charity resources draw on beyond the public-welfare fund (ORDER 42, after the fund's 40):
the streets' micro-project funds and foundations (``funds.sources_demo``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.funds import sources_demo

ORDER = 42


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    await sources_demo.load(session, ctx)
