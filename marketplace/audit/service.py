"""The audit trail: who read or changed which protected record, and which fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from marketplace.audit import chain, writer
from marketplace.audit.models import AUDIT_CHAIN, AuditEntry
from marketplace.auth.principal import Principal
from marketplace.db import utcnow
from marketplace.pagination import fetch_page

READERS = frozenset({"district_admin", "auditor"})


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: int | None,
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    await record_many(session, principal, action, entity, [entity_id], fields, detail)


def rows_for(
    principal: Principal | None,
    action: str,
    entity: str,
    entity_ids: Iterable[int | None],
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The audit rows of one action: one per record, all stamped with the same instant."""
    now = utcnow()
    return [
        {
            "at": now,
            "user_id": principal.account_id if principal else None,
            "username": principal.username if principal else "system",
            # The system acting without an account (anonymous callers, the command line) has no role of its own.
            "role": principal.role if principal and principal.account_id else "system",
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "fields": list(fields),
            "detail": detail or {},
        }
        for entity_id in entity_ids
    ]


async def record_many(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_ids: Iterable[int | None],
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """One row per record in a single INSERT, in the session's own transaction: a list page of 200 children costs
    one statement. Changes use this (or :func:`record`): the change and its audit rows commit together."""
    await insert_rows(session, rows_for(principal, action, entity, entity_ids, fields, detail))


PENDING_KEY = "audit_pending"


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rows for the audit log in the session's own transaction: appended to the hash chain when the transaction
    commits (just before, in the same transaction; a rollback drops them with the work). The chain's lock is so
    taken last, after every row lock the work takes: two writers cannot wait on each other through it."""
    if rows:
        session.sync_session.info.setdefault(PENDING_KEY, []).extend(rows)
        mark_audited(session)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    rows = session.info.pop(PENDING_KEY, None)
    if rows:
        chain.append(session.connection(), AUDIT_CHAIN, rows, writer.CHUNK_ROWS)


@event.listens_for(Session, "do_orm_execute")
def _append_before_reading_them(state: ORMExecuteState) -> None:
    """A query of the audit log in the transaction that wrote rows sees them (they are appended first)."""
    if state.is_select and state.session.info.get(PENDING_KEY) and _reads_audit_log(state.statement):
        _append_pending(state.session)


def _reads_audit_log(statement: Any) -> bool:
    froms = statement.get_final_froms() if hasattr(statement, "get_final_froms") else []
    return any(AUDIT_CHAIN.table in getattr(f, "_from_objects", [f]) or f is AUDIT_CHAIN.table for f in froms)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


async def record_read(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_ids: Iterable[int | None],
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a read of protected records.

    On a request's read session (one the app gave an :class:`~marketplace.audit.writer.AuditWriter`) the rows are
    collected and, after the read transaction, group-committed by the writer before the response is sent. Anywhere
    else (a write request, the command line, a job, a service-level test) they go into the session's own
    transaction, as :func:`record_many` does.
    """
    await record_rows(session, rows_for(principal, action, entity, entity_ids, fields, detail))


async def record_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Rows of a read: collected for the group commit on a request's read session, else in the session's own
    transaction."""
    collected = writer.collector(session)
    if collected is None:
        await insert_rows(session, rows)
    elif rows:
        collected.extend(rows)
        mark_audited(session)


AUDITED_KEY = "audit_recorded"


def mark_audited(session: AsyncSession) -> None:
    """Note that this request's work left audit rows (the app adds its own row to a child-data operation that
    left none: see :mod:`marketplace.audit.operations`)."""
    session.info[AUDITED_KEY] = True


def audited(session: AsyncSession) -> bool:
    return bool(session.info.get(AUDITED_KEY))


@dataclass
class AuditFilters:
    user_id: int | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


async def list_entries(
    session: AsyncSession, principal: Principal, filters: AuditFilters, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    principal.require(*READERS)
    stmt = select(AuditEntry)
    if filters.user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == filters.user_id)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.entity:
        stmt = stmt.where(AuditEntry.entity == filters.entity)
    if filters.entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == filters.entity_id)
    if filters.since is not None:
        stmt = stmt.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEntry.at < filters.until)
    return await fetch_page(session, stmt, AuditEntry.id.desc(), limit=limit, offset=offset)
