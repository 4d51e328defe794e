"""Row ids as the API accepts them: a positive integer within the database's ``integer`` range.

An id outside that range names no row; bounding it at the edge turns it into a 400 problem instead of a driver
overflow (SQLite) or an out-of-range error (PostgreSQL ``integer`` columns) deep inside a query.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec
from litestar.params import PathParameter

MAX_ID = 2**31 - 1  # PostgreSQL ``integer``, the type of every primary and foreign key

PathId: TypeAlias = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
# The same bound for ids inside request bodies.
BodyId: TypeAlias = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
