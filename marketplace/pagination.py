from __future__ import annotations

from dataclasses import dataclass

from litestar.params import Parameter


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def provide_page(
    limit: int = Parameter(query="limit", default=20, ge=1, le=200, description="每页条数 (1-200)"),
    offset: int = Parameter(query="offset", default=0, ge=0, le=10_000_000, description="跳过条数"),
) -> Page:
    return Page(limit=limit, offset=offset)
