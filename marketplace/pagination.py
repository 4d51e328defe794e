from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar.params import QueryParameter


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def provide_page(
    limit: Annotated[int, QueryParameter(ge=1, le=200, description="每页条数 (1-200)")] = 20,
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000, description="跳过条数")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)
