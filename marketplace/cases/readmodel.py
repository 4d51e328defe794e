"""The children list's read path in SQLAlchemy Core: a director opens it many times a day.

One statement for a page and its total (a window count), built once per shape (which filters, which scope) with
bound values (a search by name, whose column is encrypted, filters the scoped rows in Python); a plain function of a synchronous ``Connection`` so the API runs it through ``Database.read`` and the
console through its session's connection. Scope and filter semantics are those of ``cases.service.list_children``
(which calls this); the audit rows of what was shown are the caller's to write.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, bindparam, false, func, select

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import normalise_name
from marketplace.cases.models import Child
from marketplace.errors import Forbidden

children = Child.__table__

DISTRICT_READERS = frozenset({"district_admin", "auditor"})
NO_CHILDREN = "此角色无权查看儿童信息 (this role may not see children's data)"

# What the list shows of a child (and what ``child_summary`` reads): never the address or the guardian's phone.
_SUMMARY_COLUMNS = (
    children.c.id,
    children.c.community_id,
    children.c.street_id,
    children.c.name,
    children.c.gender,
    children.c.birth_date,
    children.c.id_number_enc,
    children.c.categories,
    children.c.risk_level,
    children.c.next_visit_due,
    children.c.last_visit_on,
    children.c.status,
)


@dataclass(frozen=True)
class ChildFilters:
    community_id: int | None = None
    street_id: int | None = None
    risk_level: str | None = None
    category: str | None = None
    status: str | None = None
    overdue: bool | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class Shape:
    scope: str  # "community", "street", "none" (no scope of its own: sees nothing), "district"
    community: bool
    street: bool
    risk_level: bool
    status: bool
    overdue: bool | None


def scope_of(principal: Principal) -> str:
    """Which children a role reads; Forbidden for roles that may not list children's data at all."""
    scope = principal.scope
    if scope == "community":
        return scope if principal.community_id else "none"
    if scope == "street":
        return scope if principal.street_id else "none"
    if principal.role in DISTRICT_READERS:
        return "district"
    raise Forbidden(NO_CHILDREN)


def _conditions(shape: Shape) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if shape.scope == "community":
        where.append(children.c.community_id == bindparam("scope_community"))
    elif shape.scope == "street":
        where.append(children.c.street_id == bindparam("scope_street"))
    elif shape.scope == "none":
        where.append(false())
    if shape.community:
        where.append(children.c.community_id == bindparam("community_id"))
    if shape.street:
        where.append(children.c.street_id == bindparam("street_id"))
    if shape.risk_level:
        where.append(children.c.risk_level == bindparam("risk_level"))
    if shape.status:
        where.append(children.c.status == bindparam("status"))
    if shape.overdue is not None:
        late = children.c.next_visit_due < bindparam("today")
        where.append(late & (children.c.status == "active") if shape.overdue else ~late)
    return where


@functools.lru_cache(maxsize=512)
def _page_statement(shape: Shape) -> Select[Any]:
    return (
        select(*_SUMMARY_COLUMNS, func.count().over().label("total"))
        .where(*_conditions(shape))
        .order_by(children.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@functools.lru_cache(maxsize=512)
def _count_statement(shape: Shape) -> Select[Any]:
    return select(func.count()).select_from(select(children.c.id).where(*_conditions(shape)).subquery())


@functools.lru_cache(maxsize=512)
def _all_statement(shape: Shape) -> Select[Any]:
    return select(*_SUMMARY_COLUMNS).where(*_conditions(shape)).order_by(children.c.id)


@functools.lru_cache(maxsize=512)
def _names_statement(shape: Shape, categories: bool) -> Select[Any]:
    extra = (children.c.categories,) if categories else ()
    return select(children.c.id, children.c.name, *extra).where(*_conditions(shape)).order_by(children.c.id)


@functools.lru_cache(maxsize=1)
def _rows_statement() -> Select[Any]:
    return select(*_SUMMARY_COLUMNS).where(children.c.id.in_(bindparam("ids", expanding=True))).order_by(children.c.id)


def query_children(
    conn: Connection, principal: Principal, f: ChildFilters, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """A page of the children ``principal`` may read (summary columns only) and the filtered total."""
    shape = Shape(
        scope=scope_of(principal),
        community=bool(f.community_id),
        street=bool(f.street_id),
        risk_level=bool(f.risk_level),
        status=bool(f.status),
        overdue=f.overdue,
    )
    params = {
        "scope_community": principal.community_id,
        "scope_street": principal.street_id,
        "community_id": f.community_id,
        "street_id": f.street_id,
        "risk_level": f.risk_level,
        "status": f.status,
        "today": clock.today(),
    }
    if f.q:
        # Names are encrypted (a randomised ciphertext, decrypted by the column's type): the scoped rows' ids and
        # names are read and matched in Python (a substring of the normalised name), then the page's rows.
        wanted = normalise_name(f.q)
        ids = [
            r.id
            for r in conn.execute(_names_statement(shape, bool(f.category)), params).all()
            if wanted in normalise_name(r.name) and (not f.category or f.category in (r.categories or []))
        ]
        page = ids[offset : offset + limit]
        rows = conn.execute(_rows_statement(), {"ids": page}).all() if page else []
        return list(rows), len(ids)
    if f.category:
        # Categories are a JSON list: filter in Python, portable across SQLite and PostgreSQL.
        matching = [r for r in conn.execute(_all_statement(shape), params).all() if f.category in (r.categories or [])]
        return matching[offset : offset + limit], len(matching)
    rows = conn.execute(_page_statement(shape), {**params, "limit": limit, "offset": offset}).all()
    # Past the last page (or nothing matches) the window count has no row to ride on: count apart.
    total = int(rows[0].total) if rows else int(conn.scalar(_count_statement(shape), params) or 0)
    return list(rows), total
