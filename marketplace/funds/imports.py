"""Bank statement imports kept for the fund manager: what each import created, skipped or left aside, so its
result page can be returned to and the imports listed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.errors import NotFound
from marketplace.funds import statements
from marketplace.funds.reconciliation_models import StatementImport
from marketplace.funds.service import require_reader


async def import_and_keep(
    session: AsyncSession,
    principal: Principal,
    *,
    fund_id: int,
    lines: Sequence[statements.BankLine],
    filename: str = "",
    mapping_id: int | None = None,
) -> StatementImport:
    """``statements.import_bank_statement``, and its result kept as a row."""
    result = await statements.import_bank_statement(session, principal, fund_id=fund_id, lines=lines)
    row = StatementImport(
        fund_id=fund_id,
        filename=filename[:200],
        lines=len(lines),
        created_count=len(result.created),
        created_fen=sum(d.amount_fen for d in result.created),
        outcome={
            "created": [[d.external_id or "", d.id, d.amount_fen] for d in result.created],
            "already_recorded": list(result.already_recorded),
            "not_gifts": list(result.not_gifts),
        },
        mapping_id=mapping_id,
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_imports(session: AsyncSession, principal: Principal, *, limit: int = 20) -> list[StatementImport]:
    require_reader(principal)
    rows = await session.scalars(select(StatementImport).order_by(StatementImport.id.desc()).limit(limit))
    return list(rows.all())


async def get_import(session: AsyncSession, principal: Principal, import_id: int) -> StatementImport:
    require_reader(principal)
    row = await session.get(StatementImport, import_id)
    if row is None:
        raise NotFound(f"导入记录 {import_id} 不存在 (import not found)")
    return row
