from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from litestar.params import QueryParameter
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def provide_page(
    limit: Annotated[int, QueryParameter(ge=1, le=200, description="每页条数 (1-200)")] = 20,
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000, description="跳过条数")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


async def fetch_page(
    session: AsyncSession, stmt: Select[T], *order_by: Any, limit: int, offset: int
) -> tuple[list[T], int]:
    """One page of ``stmt`` in ``order_by`` order, and how many rows the whole filtered query has."""
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    rows = await session.scalars(stmt.order_by(*order_by).limit(limit).offset(offset))
    return list(rows.all()), total
