"""Reconciliations and their corrections, bank-statement import with preview, and saved bank layouts."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.funds import corrections, reconciling, statements
from marketplace.funds.models import Reconciliation
from marketplace.funds.reconciliation import KINDS
from marketplace.funds.reconciliation_models import BankStatementMapping, ReconciliationCorrection
from marketplace.funds.reconciliation_schemas import (
    Columns,
    CorrectionOut,
    DifferenceOut,
    MappingIn,
    MappingList,
    MappingOut,
    ReconciliationIn,
    ReconciliationList,
    ReconciliationOut,
    ResolutionPlanOut,
    ResolveIn,
    StatementFileIn,
    StatementImportIn,
    StatementImportOut,
    StatementLineOut,
    StatementPreviewOut,
    StatementProblemOut,
)
from marketplace.funds.schemas import PostingOut
from marketplace.funds.service import require_reader
from marketplace.ids import MAX_ID, PathId


def _correction_out(c: ReconciliationCorrection | None) -> CorrectionOut | None:
    if c is None:
        return None
    return CorrectionOut(
        kind=c.kind,
        kind_label=corrections.RESOLUTION_KINDS.get(c.kind, c.kind),
        amount_fen=c.amount_fen,
        occurred_on=c.occurred_on,
        entry_id=c.entry_id,
        donation_id=c.donation_id,
    )


def reconciliation_out(
    r: Reconciliation, fixes: dict[int, ReconciliationCorrection] | None = None
) -> ReconciliationOut:
    fixes = fixes or {}
    return ReconciliationOut(
        id=r.id,
        fund_id=r.fund_id,
        source=r.source,
        since=r.since,
        until=r.until,
        matched=r.matched,
        ours_count=r.ours_count,
        theirs_count=r.theirs_count,
        open_differences=sum(1 for d in r.differences if d.resolved_at is None),
        differences=[
            DifferenceOut(
                n=d.n,
                kind=d.kind,
                kind_label=KINDS.get(d.kind, d.kind),
                donation_id=d.donation_id,
                external_id=d.external_id,
                expected_fen=d.expected_fen,
                actual_fen=d.actual_fen,
                expected_status=d.expected_status,
                actual_status=d.actual_status,
                resolved=d.resolved_at is not None,
                resolution_note=d.resolution_note,
                resolved_at=d.resolved_at,
                correction=_correction_out(fixes.get(d.n)),
            )
            for d in r.differences
        ],
        created_at=r.created_at,
    )


async def _with_corrections(session: AsyncSession, r: Reconciliation) -> ReconciliationOut:
    return reconciliation_out(r, await corrections.corrections_of(session, r.id))


def _columns(c: Columns | None) -> dict[str, str]:
    if c is None:
        return {}
    return {k: v for k, v in msgspec.structs.asdict(c).items() if v}


async def parse_statement(session: AsyncSession, data: StatementFileIn | ReconciliationIn) -> statements.Parsed | None:
    """The statement a request carries, as text or bytes, read with its saved or given layout."""
    if data.file is not None and data.file_base64 is not None:
        raise Invalid.field("file_base64", "file 与 file_base64 只能提供一个 (give file or file_base64, not both)")
    layout = await statements.layout_for(session, data.mapping_id, _columns(data.columns), data.encoding)
    if data.file_base64 is not None:
        return statements.parse_file(data.file_base64, layout)
    if data.file is not None:
        return statements.parse(data.file, layout)
    return None


async def _required_statement(session: AsyncSession, data: StatementFileIn) -> statements.Parsed:
    parsed = await parse_statement(session, data)
    if parsed is None:
        raise Invalid.field("file", "请附对账单文件 (file or file_base64 is required)")
    return parsed


class ReconciliationController(Controller):
    path = "/api/v1/reconciliations"
    tags = ["funds"]

    @post("/", operation_id="createReconciliation", summary="对账（Stripe 或银行对账单）")
    async def create(
        self, data: JSONBody[ReconciliationIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReconciliationOut:
        parsed = await parse_statement(session, data)
        if parsed is not None:
            parsed.raise_first()
        recon = await reconciling.create(
            session,
            principal,
            settings,
            fund_id=data.fund_id,
            source=data.source,
            since=data.since,
            until=data.until,
            statement=parsed.lines if parsed is not None else None,
        )
        return await _with_corrections(session, recon)

    @get("/", operation_id="listReconciliations", summary="对账记录")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        fund_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> ReconciliationList:
        rows = await reconciling.list_for_fund(session, principal, fund_id)
        fixes = await corrections.corrections_for(session, [r.id for r in rows])
        return ReconciliationList(items=[reconciliation_out(r, fixes.get(r.id)) for r in rows], total=len(rows))

    @get("/{recon_id:int}", operation_id="getReconciliation", summary="对账详情")
    async def read(self, recon_id: PathId, session: DbSession, principal: CurrentUser) -> ReconciliationOut:
        return await _with_corrections(session, await reconciling.read(session, principal, recon_id))

    @post(
        "/{recon_id:int}/differences/{n:int}/preview",
        operation_id="previewReconciliationCorrection",
        summary="预览差异处理将记入的分录（不作更改）",
        status_code=200,
    )
    async def preview(
        self, recon_id: PathId, n: PathId, data: JSONBody[ResolveIn], session: DbSession, principal: CurrentUser
    ) -> ResolutionPlanOut:
        plan = await reconciling.preview_resolution(session, principal, recon_id, n, _choice(data))
        return ResolutionPlanOut(
            kind=plan.kind,
            kind_label=plan.label,
            amount_fen=plan.delta_fen,
            postings=[PostingOut(account=a, amount_fen=f) for a, f in plan.postings],
            description=plan.description,
        )

    @post(
        "/{recon_id:int}/differences/{n:int}/resolve",
        operation_id="resolveReconciliationDifference",
        summary="处理对账差异（按类型记入更正分录）",
        status_code=200,
    )
    async def resolve(
        self, recon_id: PathId, n: PathId, data: JSONBody[ResolveIn], session: DbSession, principal: CurrentUser
    ) -> ReconciliationOut:
        recon = await reconciling.resolve(session, principal, recon_id, n, _choice(data))
        return await _with_corrections(session, recon)


def _choice(data: ResolveIn) -> corrections.Choice:
    return corrections.Choice(
        kind=data.kind,
        note=data.note,
        occurred_on=data.occurred_on,
        purpose=data.purpose,
        donor=data.donor,
        donation_id=data.donation_id,
    )


class StatementImportController(Controller):
    path = "/api/v1/donations/offline"
    tags = ["funds"]

    @post("/import", operation_id="importBankStatement", summary="导入银行对账单，登记未入账的来款")
    async def import_statement(
        self, data: JSONBody[StatementImportIn], session: DbSession, principal: CurrentUser
    ) -> StatementImportOut:
        parsed = await _required_statement(session, data)
        parsed.raise_first()
        result = await statements.import_bank_statement(session, principal, fund_id=data.fund_id, lines=parsed.lines)
        return StatementImportOut(
            created=[d.id for d in result.created],
            created_fen=sum(d.amount_fen for d in result.created),
            already_recorded=result.already_recorded,
            not_gifts=result.not_gifts,
        )

    @post(
        "/import/preview",
        operation_id="previewBankStatement",
        summary="预览银行对账单（解析结果与问题，不保存）",
        status_code=200,
    )
    async def preview(
        self, data: JSONBody[StatementImportIn], session: DbSession, principal: CurrentUser
    ) -> StatementPreviewOut:
        require_reader(principal)
        parsed = await _required_statement(session, data)
        known = await statements.known_references(session, [line.reference for line in parsed.lines])
        return StatementPreviewOut(
            encoding=parsed.encoding,
            header_row=parsed.header_row,
            columns=parsed.columns,
            lines=[
                StatementLineOut(
                    row=i,
                    date=line.on,
                    amount_fen=line.amount_fen,
                    reference=line.reference,
                    payer=line.payer,
                    memo=line.memo,
                    already_recorded=line.reference in known,
                )
                for i, line in enumerate(parsed.lines, start=1)
            ],
            problems=[StatementProblemOut(row=p.row, column=p.column, message=p.message) for p in parsed.problems],
            income_fen=sum(line.amount_fen for line in parsed.lines if line.amount_fen > 0),
            expense_fen=-sum(line.amount_fen for line in parsed.lines if line.amount_fen < 0),
        )


def mapping_out(m: BankStatementMapping) -> MappingOut:
    return MappingOut(
        id=m.id,
        bank_code=m.bank_code,
        name=m.name,
        columns={str(k): str(v) for k, v in m.columns.items()},
        encoding=m.encoding,
        date_format=m.date_format,
        skip_rows=m.skip_rows,
    )


class StatementMappingController(Controller):
    path = "/api/v1/statement-mappings"
    tags = ["funds"]

    @get("/", operation_id="listStatementMappings", summary="各银行对账单格式")
    async def list(self, session: DbSession, principal: CurrentUser) -> MappingList:
        rows = await statements.list_mappings(session, principal)
        return MappingList(items=[mapping_out(m) for m in rows], total=len(rows))

    @post("/", operation_id="createStatementMapping", summary="保存银行对账单格式（列映射）")
    async def create(self, data: JSONBody[MappingIn], session: DbSession, principal: CurrentUser) -> MappingOut:
        return mapping_out(await _save(session, principal, None, data))

    @get("/{mapping_id:int}", operation_id="getStatementMapping", summary="银行对账单格式")
    async def read(self, mapping_id: PathId, session: DbSession, principal: CurrentUser) -> MappingOut:
        require_reader(principal)
        return mapping_out(await statements.get_mapping(session, mapping_id))

    @patch("/{mapping_id:int}", operation_id="updateStatementMapping", summary="修改银行对账单格式")
    async def update(
        self, mapping_id: PathId, data: JSONBody[MappingIn], session: DbSession, principal: CurrentUser
    ) -> MappingOut:
        return mapping_out(await _save(session, principal, mapping_id, data))


async def _save(
    session: AsyncSession, principal: CurrentUser, mapping_id: int | None, data: MappingIn
) -> BankStatementMapping:
    return await statements.save_mapping(
        session,
        principal,
        mapping_id=mapping_id,
        bank_code=data.bank_code,
        name=data.name,
        columns=_columns(data.columns),
        encoding=data.encoding,
        date_format=data.date_format,
        skip_rows=data.skip_rows,
    )


ROUTES = [ReconciliationController, StatementImportController, StatementMappingController]
