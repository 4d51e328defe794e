from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import tabular
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.errors import Invalid
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import contracts, evidence, ocds_releases, readmodels, reports, service
from marketplace.procurement.allowance_controllers import ROUTES as ALLOWANCE_ROUTES
from marketplace.procurement.models import Budget, BudgetAdjustment, Contract, Procurement
from marketplace.procurement.schemas import (
    AcceptIn,
    AdjustmentIn,
    AdjustmentOut,
    AmendmentIn,
    ApprovalIn,
    AwardIn,
    BidIn,
    BudgetIn,
    BudgetList,
    BudgetOut,
    ContractIn,
    ContractList,
    ContractOut,
    EvaluationIn,
    LineMovements,
    MovementOut,
    PaymentIn,
    PaymentOut,
    ProcurementIn,
    ProcurementList,
    ProcurementOut,
    ReasonIn,
    TerminationIn,
)

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
Sha256 = Annotated[str, PathParameter(pattern="^[0-9a-f]{64}$")]


@dataclass
class EvidenceUpload:
    """A milestone's acceptance evidence: one file (PDF, JPG, PNG, DOCX or XLSX, at most 8 MB)."""

    file: UploadFile


class EvidenceOut(msgspec.Struct):
    name: str
    url: str
    sha256: str
    size: int
    content_type: str
    uploaded_at: str


# An OCDS package (https://standard.open-contracting.org/), sent as built: a JSON object.
OCDS_PACKAGE = {
    200: ResponseSpec(
        data_container=dict[str, Any], description="OCDS 数据包 (an OCDS package)", generate_examples=False
    )
}


def evidence_download(found: evidence.EvidenceFile) -> Response[bytes]:
    return Response(
        content=found.content,
        media_type=found.content_type,
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "x-content-sha256": found.sha256,
            "x-content-type-options": "nosniff",
        },
    )


async def budget_out(session: AsyncSession, budget: Budget) -> BudgetOut:
    return (await readmodels.budgets_out(session, [budget]))[0]


async def procurement_out(session: AsyncSession, p: Procurement) -> ProcurementOut:
    return (await readmodels.procurements_out(session, [p]))[0]


async def contract_out(session: AsyncSession, c: Contract) -> ContractOut:
    return (await readmodels.contracts_out(session, [c]))[0]


class BudgetController(Controller):
    path = "/api/v1/budgets"
    tags = ["procurement"]
    dependencies = PAGE

    @post("/", operation_id="createBudget", summary="新建专项资金预算")
    async def create(self, data: JSONBody[BudgetIn], session: DbSession, principal: CurrentUser) -> BudgetOut:
        return await budget_out(session, await service.create_budget(session, principal, data))

    @get("/", operation_id="listBudgets", summary="预算列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        fiscal_year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    ) -> BudgetList:
        items, total = await service.budget_page(
            session, principal, fiscal_year=fiscal_year, limit=page.limit, offset=page.offset
        )
        return BudgetList(items=items, total=total)

    @get("/{budget_id:int}", operation_id="getBudget", summary="预算详情（各科目预算、承诺、支付、可用）")
    async def read(self, budget_id: PathId, session: DbSession, principal: CurrentUser) -> BudgetOut:
        return await budget_out(session, await service.read_budget(session, principal, budget_id))

    @get(
        "/{budget_id:int}/lines/{line_id:int}/movements",
        operation_id="budgetLineMovements",
        summary="科目明细：调剂、承诺、释放、支付（逐笔）",
    )
    async def movements(
        self, budget_id: PathId, line_id: PathId, session: DbSession, principal: CurrentUser
    ) -> LineMovements:
        line = await service.read_line(session, principal, budget_id, line_id)
        figs = await ledger_side.line_figures(session, line)
        rows = await ledger_side.movements(session, line)
        return LineMovements(
            line=readmodels.line_out(line.id, line.code, line.name, line.original_fen, figs),
            items=[
                MovementOut(
                    kind=m.kind,
                    amount_fen=m.amount_fen,
                    memo=m.memo,
                    on=m.on,
                    at=m.at,
                    contract_id=m.contract_id,
                    allowance_run_id=m.allowance_run_id,
                    document_no=m.document_no,
                )
                for m in rows
            ],
            total=len(rows),
        )

    @post("/{budget_id:int}/adjustments", operation_id="adjustBudget", summary="科目间调剂（须审批文号）")
    async def adjust(
        self, budget_id: PathId, data: JSONBody[AdjustmentIn], session: DbSession, principal: CurrentUser
    ) -> AdjustmentOut:
        row: BudgetAdjustment = await service.adjust_budget(session, principal, budget_id, data)
        return AdjustmentOut(
            id=row.id,
            budget_id=row.budget_id,
            from_line_id=row.from_line_id,
            to_line_id=row.to_line_id,
            amount_fen=row.amount_fen,
            document_no=row.document_no,
            reason=row.reason,
            created_at=row.created_at,
        )


class ProcurementController(Controller):
    path = "/api/v1/procurements"
    tags = ["procurement"]
    dependencies = PAGE

    @post("/", operation_id="createProcurement", summary="新建采购项目（规则校验）")
    async def create(self, data: JSONBody[ProcurementIn], session: DbSession, principal: CurrentUser) -> ProcurementOut:
        return await procurement_out(session, await service.create_procurement(session, principal, data))

    @get("/", operation_id="listProcurements", summary="采购项目列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        budget_line_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        fiscal_year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    ) -> ProcurementList:
        items, total = await service.procurement_page(
            session,
            principal,
            status=status,
            budget_line_id=budget_line_id,
            fiscal_year=fiscal_year,
            limit=page.limit,
            offset=page.offset,
        )
        return ProcurementList(items=items, total=total)

    @get("/{procurement_id:int}", operation_id="getProcurement", summary="采购项目详情（含评审得分）")
    async def read(self, procurement_id: PathId, session: DbSession, principal: CurrentUser) -> ProcurementOut:
        return await procurement_out(session, await service.read_procurement(session, principal, procurement_id))

    @get(
        "/{procurement_id:int}/ocds",
        operation_id="getProcurementOcds",
        summary="采购项目 OCDS 记录包",
        responses=OCDS_PACKAGE,
    )
    async def ocds(
        self, procurement_id: PathId, request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser
    ) -> Response[bytes]:
        body = await ocds_releases.record_package(session, principal, procurement_id, str(request.url))
        return Response(content=body, media_type="application/json")

    @post(
        "/{procurement_id:int}/approve",
        operation_id="approveProcurementMethod",
        summary="采购方式审批",
        status_code=200,
    )
    async def approve(
        self, procurement_id: PathId, data: JSONBody[ApprovalIn], session: DbSession, principal: CurrentUser
    ) -> ProcurementOut:
        return await procurement_out(
            session, await service.approve_procurement(session, principal, procurement_id, data)
        )

    @post("/{procurement_id:int}/bids", operation_id="addBid", summary="登记响应文件（报价、技术分）")
    async def bid(
        self, procurement_id: PathId, data: JSONBody[BidIn], session: DbSession, principal: CurrentUser
    ) -> ProcurementOut:
        await service.add_bid(session, principal, procurement_id, data)
        return await procurement_out(session, await service.get_procurement(session, procurement_id))

    @post(
        "/{procurement_id:int}/award",
        operation_id="awardProcurement",
        summary="确定中标/成交供应商并公示",
        status_code=200,
    )
    async def award(
        self, procurement_id: PathId, data: JSONBody[AwardIn], session: DbSession, principal: CurrentUser
    ) -> ProcurementOut:
        return await procurement_out(session, await service.award(session, principal, procurement_id, data))

    @post(
        "/{procurement_id:int}/cancel",
        operation_id="cancelProcurement",
        summary="终止采购（释放占用或承诺的预算额度）",
        status_code=200,
    )
    async def cancel(self, procurement_id: PathId, session: DbSession, principal: CurrentUser) -> ProcurementOut:
        return await procurement_out(session, await service.cancel_procurement(session, principal, procurement_id))

    @post(
        "/{procurement_id:int}/fail",
        operation_id="failProcurement",
        summary="采购失败（废标、供应商不足等；释放占用的预算额度）",
        status_code=200,
    )
    async def fail(
        self, procurement_id: PathId, data: JSONBody[ReasonIn], session: DbSession, principal: CurrentUser
    ) -> ProcurementOut:
        return await procurement_out(session, await service.fail_procurement(session, principal, procurement_id, data))


class ContractController(Controller):
    path = "/api/v1/contracts"
    tags = ["procurement"]
    dependencies = PAGE

    @post("/", operation_id="createContract", summary="签订合同（占用预算）")
    async def create(self, data: JSONBody[ContractIn], session: DbSession, principal: CurrentUser) -> ContractOut:
        return await contract_out(session, await contracts.create_contract(session, principal, data))

    @get("/", operation_id="listContracts", summary="合同列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> ContractList:
        items, total = await contracts.contract_page(
            session, principal, organization_id=organization_id, status=status, limit=page.limit, offset=page.offset
        )
        return ContractList(items=items, total=total)

    @get("/{contract_id:int}", operation_id="getContract", summary="合同详情（节点、支付、变更）")
    async def read(self, contract_id: PathId, session: DbSession, principal: CurrentUser) -> ContractOut:
        return await contract_out(session, await contracts.read_contract(session, principal, contract_id))

    @post(
        "/{contract_id:int}/milestones/{milestone_id:int}/accept",
        operation_id="acceptMilestone",
        summary="节点验收（附证明材料）",
        status_code=200,
    )
    async def accept(
        self,
        contract_id: PathId,
        milestone_id: PathId,
        data: JSONBody[AcceptIn],
        session: DbSession,
        principal: CurrentUser,
    ) -> ContractOut:
        contract = await contracts.accept_milestone(session, principal, contract_id, milestone_id, data)
        return await contract_out(session, contract)

    @post(
        "/{contract_id:int}/milestones/{milestone_id:int}/evidence",
        operation_id="uploadMilestoneEvidence",
        summary="上传节点验收证明材料（PDF/JPG/PNG/DOCX/XLSX，≤8MB，记录SHA-256）",
    )
    async def upload_evidence(
        self,
        contract_id: PathId,
        milestone_id: PathId,
        data: Annotated[EvidenceUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> EvidenceOut:
        upload = data.file
        if not isinstance(upload, UploadFile):
            raise Invalid.field("file", "请选择要上传的证明材料文件 (choose a file)")
        raw = await upload.read(evidence.MAX_BYTES + 1)
        entry = await evidence.add_file(
            session, principal, settings.data_dir, contract_id, milestone_id, upload.filename or "", raw
        )
        return msgspec.convert(entry, EvidenceOut, from_attributes=False, strict=False)

    @get(
        "/{contract_id:int}/milestones/{milestone_id:int}/evidence/{sha256:str}",
        operation_id="downloadMilestoneEvidence",
        summary="下载节点验收证明材料（校验SHA-256）",
        media_type="application/octet-stream",
        operation_class=tabular.downloads("*/*", json=False),  # the file as uploaded: its own content type
    )
    async def download_evidence(
        self,
        contract_id: PathId,
        milestone_id: PathId,
        sha256: Sha256,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> Response[bytes]:
        found = await evidence.read_file(session, principal, settings.data_dir, contract_id, milestone_id, sha256)
        return evidence_download(found)

    @post("/{contract_id:int}/payments", operation_id="payContract", summary="按已验收节点支付")
    async def pay(
        self, contract_id: PathId, data: JSONBody[PaymentIn], session: DbSession, principal: CurrentUser
    ) -> PaymentOut:
        return readmodels.payment_out(await contracts.add_payment(session, principal, contract_id, data))

    @post("/{contract_id:int}/amendments", operation_id="amendContract", summary="合同金额变更（追加≤10%）")
    async def amend(
        self, contract_id: PathId, data: JSONBody[AmendmentIn], session: DbSession, principal: CurrentUser
    ) -> ContractOut:
        await contracts.amend(session, principal, contract_id, data)
        return await contract_out(session, await contracts.get_contract(session, contract_id))

    @post("/{contract_id:int}/evaluation", operation_id="evaluateContract", summary="绩效评价", status_code=200)
    async def evaluate(
        self, contract_id: PathId, data: JSONBody[EvaluationIn], session: DbSession, principal: CurrentUser
    ) -> ContractOut:
        return await contract_out(session, await contracts.evaluate(session, principal, contract_id, data))

    @post(
        "/{contract_id:int}/terminate",
        operation_id="terminateContract",
        summary="解除合同",
        description="解除后未支付且未欠付（已验收未付）的合同金额退回预算科目；已完成或已解除的合同返回 409。",
        status_code=200,
    )
    async def terminate(
        self, contract_id: PathId, data: JSONBody[TerminationIn], session: DbSession, principal: CurrentUser
    ) -> ContractOut:
        return await contract_out(session, await contracts.terminate(session, principal, contract_id, data))

    @get("/{contract_id:int}/ocds", operation_id="getContractOcds", summary="合同 OCDS 发布包", responses=OCDS_PACKAGE)
    async def ocds(
        self, contract_id: PathId, request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser
    ) -> Response[bytes]:
        body = await ocds_releases.release_package(session, principal, contract_id, str(request.url))
        return Response(content=body, media_type="application/json")


class ProcurementReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get(
        "/budget-execution",
        operation_id="budgetExecutionReport",
        summary="预算执行情况",
        operation_class=tabular.downloads(*tabular.FORMATS.values()),
    )
    async def budget_execution(
        self,
        session: DbSession,
        principal: CurrentUser,
        budget_id: Annotated[int, QueryParameter(ge=1, le=MAX_ID)],
        format: Annotated[str, QueryParameter(pattern="^(json|csv|xlsx)$")] = "json",
    ) -> Response[Any]:
        report = await reports.budget_execution(session, principal, budget_id)
        if format != "json":
            return reports.execution_download(report, format)
        total = report.total
        body = {
            "budget_id": report.budget.id,
            "name": report.budget.name,
            "fiscal_year": report.budget.fiscal_year,
            "lines": [
                readmodels.line_out(r.line_id or 0, r.code, r.name, r.original_fen, r.figures) for r in report.rows
            ],
            "total": readmodels.line_out(0, "total", "合计", sum(r.original_fen for r in report.rows), total),
        }
        return Response(content=body)


ROUTES = [
    BudgetController,
    ProcurementController,
    ContractController,
    ProcurementReportController,
    *ALLOWANCE_ROUTES,
]
