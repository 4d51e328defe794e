from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from marketplace import tabular
from marketplace.auth import ratelimit
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.errors import problem
from marketplace.funds import accounts, disclosures, purposes, reports, runtime, sources, stripe_events
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds.channels import StripeChannel, online_channel
from marketplace.funds.models import Disbursement, Donation, FundProject
from marketplace.funds.reconciliation_controllers import ROUTES as RECONCILIATION_ROUTES
from marketplace.funds.schemas import (
    DesignationIn,
    DisbursementIn,
    DisbursementList,
    DisbursementOut,
    DisclosureCalendar,
    DisclosureIn,
    DisclosureOut,
    DonationIn,
    DonationList,
    DonationOut,
    DonationStarted,
    DonorIn,
    DonorList,
    DonorOut,
    EntryList,
    EntryOut,
    FundAllocationIn,
    FundAllocationList,
    FundAllocationOut,
    FundIn,
    FundList,
    FundOut,
    FundProjectApproveIn,
    FundProjectCompleteIn,
    FundProjectIn,
    FundProjectList,
    FundProjectOut,
    FundProjectStartIn,
    FundReport,
    HonourRoll,
    OfflineDonationIn,
    OfflineRefundIn,
    PostingOut,
    PublicDisbursementList,
    PublicDonationList,
    PublicFundList,
    PublicFundOut,
    PurposeBalance,
    PurposeChangeIn,
    ReasonIn,
)
from marketplace.funds.taxonomy import PROJECT_STATUSES, kind_label
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.resources.taxonomy import SERVICE_CATEGORIES

PAGE = {"page": Provide(provide_page, sync_to_thread=False)}
PUBLIC: dict[str, Any] = {"security": [{}]}


def _label(purpose: str, names: Mapping[str, str]) -> str:
    return names.get(purpose) or accounts.purpose_label(purpose)


def fund_out(
    b: funds.FundBalances,
    names: Mapping[str, str] = MappingProxyType({}),
    streets: Mapping[int, str] = MappingProxyType({}),
) -> FundOut:
    return FundOut(
        id=b.fund.id,
        code=b.fund.code,
        name=b.fund.name,
        kind=b.fund.kind,
        kind_label=kind_label(b.fund.kind),
        street_id=b.fund.street_id,
        street_name=streets.get(b.fund.street_id, "") if b.fund.street_id is not None else "",
        year=b.fund.year,
        balance_fen=b.balance_fen,
        cash_fen=b.cash_fen,
        in_kind_fen=b.in_kind_fen,
        income_fen=b.income_fen,
        spent_fen=b.spent_fen,
        fees_fen=b.fees_fen,
        restricted_balance_fen=b.restricted_fen,
        unrestricted_balance_fen=b.unrestricted_fen,
        held_fen=sum(v["available_fen"] for p, v in b.purposes.items() if p.startswith("project:")),
        purposes=[PurposeBalance(purpose=p, label=_label(p, names), **v) for p, v in sorted(b.purposes.items())],
    )


def allocation_out(fund_id: int, a: sources.Allocation) -> FundAllocationOut:
    return FundAllocationOut(
        entry_id=a.entry_id, fund_id=fund_id, key=a.key, amount_fen=a.amount_fen, received_on=a.occurred_on, memo=a.memo
    )


def project_out(p: FundProject, held: Mapping[int, int]) -> FundProjectOut:
    return FundProjectOut(
        id=p.id,
        fund_id=p.fund_id,
        community_id=p.community_id,
        title=p.title,
        category=p.category,
        category_label=SERVICE_CATEGORIES.get(p.category, p.category),
        requested_fen=p.requested_fen,
        approved_fen=p.approved_fen,
        paid_fen=p.paid_fen,
        held_fen=held.get(p.id, 0),
        status=p.status,
        status_label=PROJECT_STATUSES.get(p.status, p.status),
        description=p.description,
        approved_on=p.approved_on,
        started_on=p.started_on,
        completed_on=p.completed_on,
        disbursement_id=p.disbursement_id,
    )


def donation_out(d: Donation, names: Mapping[str, str] = MappingProxyType({})) -> DonationOut:
    return DonationOut(
        id=d.id,
        fund_id=d.fund_id,
        donor_id=d.donor_id,
        donor_name=d.donor.name,
        amount_fen=d.amount_fen,
        refunded_fen=d.refunded_fen,
        fee_fen=d.fee_fen,
        channel=d.channel,
        channel_label=gifts.CHANNELS.get(d.channel, d.channel),
        status=d.status,
        status_label=gifts.DONATION_STATUSES.get(d.status, d.status),
        purpose=d.purpose,
        purpose_label=_label(d.purpose, names),
        external_id=d.external_id,
        received_on=d.received_on,
        receipt_no=d.receipt_no,
        note=d.note,
        created_at=d.created_at,
    )


def disbursement_out(d: Disbursement, names: Mapping[str, str] = MappingProxyType({})) -> DisbursementOut:
    return DisbursementOut(
        id=d.id,
        fund_id=d.fund_id,
        amount_fen=d.amount_fen,
        purpose=d.purpose,
        purpose_label=_label(d.purpose, names),
        service_id=d.service_id,
        referral_id=d.referral_id,
        memo=d.memo,
        paid_on=d.paid_on,
        entry_id=d.entry_id,
        status=d.status,
    )


def _donor(d: DonorIn) -> gifts.DonorInput:
    return gifts.DonorInput(
        name=d.name, kind=d.kind, email=d.email, phone=d.phone, anonymous=d.anonymous, credit_code=d.credit_code
    )


def _designation(d: DesignationIn | None) -> gifts.Designation | None:
    if d is None:
        return None
    return gifts.Designation(
        category=d.category, street_id=d.street_id, service_id=d.service_id, child_category=d.child_category
    )


class FundController(Controller):
    path = "/api/v1/funds"
    tags = ["funds"]
    dependencies = PAGE

    @get(
        "/",
        operation_id="listFunds",
        summary="基金列表（公益基金、街道基金会、民生微实事；按类型、街道筛选；街道主任只见本街道的）",
    )
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
        street: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> FundList:
        rows = await sources.list_sources(session, principal, kind=kind, street_id=street)
        balances = await funds.funds_balances(session, rows)
        names = await purposes.labels(session, {p for b in balances for p in b.purposes})
        streets = await sources.street_names(session, {f.street_id for f in rows})
        items = [fund_out(b, names, streets) for b in balances]
        return FundList(items=items, total=len(items))

    @post("/", operation_id="createFund", summary="设立基金（街道基金会、民生微实事资金须属于街道）")
    async def create(self, data: JSONBody[FundIn], session: DbSession, principal: CurrentUser) -> FundOut:
        fund = await sources.create_source(
            session,
            principal,
            code=data.code,
            name=data.name,
            kind=data.kind,
            street_id=data.street_id,
            year=data.year,
            description=data.description,
            public=data.public,
        )
        streets = await sources.street_names(session, {fund.street_id})
        return fund_out(await funds.fund_balances(session, fund), streets=streets)

    @get("/{fund_id:int}", operation_id="getFund", summary="基金余额（含定向余额、项目占用）")
    async def read(self, fund_id: PathId, session: DbSession, principal: CurrentUser) -> FundOut:
        fund = await sources.readable_fund(session, principal, fund_id)
        b = await funds.fund_balances(session, fund)
        streets = await sources.street_names(session, {fund.street_id})
        return fund_out(b, await purposes.labels(session, b.purposes), streets)

    @get("/{fund_id:int}/allocations", operation_id="listFundAllocations", summary="民生微实事资金的区级下达")
    async def allocations(self, fund_id: PathId, session: DbSession, principal: CurrentUser) -> FundAllocationList:
        rows = await sources.list_allocations(session, principal, fund_id)
        return FundAllocationList(
            items=[allocation_out(fund_id, a) for a in rows],
            total=len(rows),
            allocated_fen=sum(a.amount_fen for a in rows),
        )

    @post(
        "/{fund_id:int}/allocations",
        operation_id="recordFundAllocation",
        summary="登记区级下达的民生微实事资金（按拨款文号幂等）",
    )
    async def allocate(
        self, fund_id: PathId, data: JSONBody[FundAllocationIn], session: DbSession, principal: CurrentUser
    ) -> FundAllocationOut:
        a = await sources.allocate(
            session,
            principal,
            fund_id,
            amount_fen=data.amount_fen,
            key=data.key,
            received_on=data.received_on,
            memo=data.memo,
        )
        return allocation_out(fund_id, a)

    @get("/{fund_id:int}/projects", operation_id="listFundProjects", summary="民生微实事项目")
    async def projects(
        self,
        fund_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> FundProjectList:
        rows, total = await sources.list_projects(
            session, principal, fund_id, status=status, limit=page.limit, offset=page.offset
        )
        held = await sources.held_by_project(session, rows)
        return FundProjectList(items=[project_out(p, held) for p in rows], total=total)

    @post("/{fund_id:int}/projects", operation_id="declareFundProject", summary="申报民生微实事项目")
    async def declare(
        self, fund_id: PathId, data: JSONBody[FundProjectIn], session: DbSession, principal: CurrentUser
    ) -> FundProjectOut:
        row = await sources.create_project(
            session,
            principal,
            fund_id,
            title=data.title,
            category=data.category,
            requested_fen=data.requested_fen,
            community_id=data.community_id,
            description=data.description,
        )
        return project_out(row, {})

    @get("/projects/{project_id:int}", operation_id="getFundProject", summary="民生微实事项目详情")
    async def project(self, project_id: PathId, session: DbSession, principal: CurrentUser) -> FundProjectOut:
        row = await sources.read_project(session, principal, project_id)
        return project_out(row, await sources.held_by_project(session, [row]))

    @post(
        "/projects/{project_id:int}/approve",
        operation_id="approveFundProject",
        summary="项目立项（占用基金可用余额）",
        status_code=200,
    )
    async def approve(
        self, project_id: PathId, data: JSONBody[FundProjectApproveIn], session: DbSession, principal: CurrentUser
    ) -> FundProjectOut:
        row = await sources.approve_project(
            session, principal, project_id, approved_fen=data.approved_fen, on=data.approved_on
        )
        return project_out(row, await sources.held_by_project(session, [row]))

    @post("/projects/{project_id:int}/reject", operation_id="rejectFundProject", summary="不予立项", status_code=200)
    async def reject(self, project_id: PathId, session: DbSession, principal: CurrentUser) -> FundProjectOut:
        row = await sources.reject_project(session, principal, project_id)
        return project_out(row, {})

    @post("/projects/{project_id:int}/start", operation_id="startFundProject", summary="项目开始实施", status_code=200)
    async def start(
        self, project_id: PathId, data: JSONBody[FundProjectStartIn], session: DbSession, principal: CurrentUser
    ) -> FundProjectOut:
        row = await sources.start_project(session, principal, project_id, on=data.started_on)
        return project_out(row, await sources.held_by_project(session, [row]))

    @post(
        "/projects/{project_id:int}/complete",
        operation_id="completeFundProject",
        summary="项目验收（按验收金额拨付，结余退回基金）",
        status_code=200,
    )
    async def complete(
        self, project_id: PathId, data: JSONBody[FundProjectCompleteIn], session: DbSession, principal: CurrentUser
    ) -> FundProjectOut:
        row = await sources.complete_project(
            session, principal, project_id, paid_fen=data.paid_fen, on=data.completed_on, memo=data.memo
        )
        return project_out(row, await sources.held_by_project(session, [row]))

    @get("/{fund_id:int}/ledger", operation_id="getFundLedger", summary="基金明细账")
    async def ledger(self, fund_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams) -> EntryList:
        rows, total = await funds.fund_ledger(session, principal, fund_id, limit=page.limit, offset=page.offset)
        return EntryList(
            items=[
                EntryOut(
                    id=e.id,
                    idempotency_key=e.idempotency_key,
                    memo=e.memo,
                    source=e.source,
                    occurred_on=e.occurred_on,
                    reverses_id=e.reverses_id,
                    postings=[PostingOut(account=p.account.code, amount_fen=p.amount_fen) for p in e.postings],
                )
                for e in rows
            ],
            total=total,
        )

    @post("/{fund_id:int}/disbursements", operation_id="createDisbursement", summary="拨付资金")
    async def disburse(
        self, fund_id: PathId, data: JSONBody[DisbursementIn], session: DbSession, principal: CurrentUser
    ) -> DisbursementOut:
        row = await funds.disburse(
            session,
            principal,
            fund_id,
            amount_fen=data.amount_fen,
            purpose=data.purpose,
            service_id=data.service_id,
            referral_id=data.referral_id,
            memo=data.memo,
            paid_on=data.paid_on,
        )
        return disbursement_out(row, await purposes.labels(session, [row.purpose]))

    @get("/{fund_id:int}/disbursements", operation_id="listDisbursements", summary="拨付记录")
    async def disbursements(
        self, fund_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> DisbursementList:
        rows, total = await funds.list_disbursements(session, principal, fund_id, limit=page.limit, offset=page.offset)
        names = await purposes.labels(session, {d.purpose for d in rows})
        return DisbursementList(items=[disbursement_out(d, names) for d in rows], total=total)

    @post(
        "/{fund_id:int}/disbursements/{disbursement_id:int}/reverse",
        operation_id="reverseDisbursement",
        summary="冲销拨付（更正）",
        status_code=200,
    )
    async def reverse(
        self,
        fund_id: PathId,
        disbursement_id: PathId,
        data: JSONBody[ReasonIn],
        session: DbSession,
        principal: CurrentUser,
    ) -> DisbursementOut:
        row = await funds.cancel_disbursement(session, principal, disbursement_id, data.reason, fund_id=fund_id)
        return disbursement_out(row, await purposes.labels(session, [row.purpose]))

    @post("/{fund_id:int}/disclosures", operation_id="recordFundDisclosure", summary="登记信息公开（某期已公开）")
    async def disclose(
        self, fund_id: PathId, data: JSONBody[DisclosureIn], session: DbSession, principal: CurrentUser
    ) -> DisclosureOut:
        row = await disclosures.record(
            session,
            principal,
            fund_id,
            kind=data.kind,
            period=data.period,
            published_on=data.published_on,
            channel=data.channel,
            title=data.title,
            url=data.url,
        )
        return reports.disclosure_out(row)


class DonationController(Controller):
    path = "/api/v1/donations"
    tags = ["funds"]
    dependencies = PAGE

    @post(
        "/",
        operation_id="createDonation",
        summary="线上捐赠（无需登录；每个地址限次）",
        security=[{}],
        guards=[ratelimit.anonymous_write],
        # the payment provider's refusal is returned (503 problem), not raised: the schema names the two answers
        responses={201: ResponseSpec(DonationStarted, description="捐赠已创建，待支付", generate_examples=False)},
    )
    async def create(
        self, data: JSONBody[DonationIn], session: DbSession, settings: AppSettings
    ) -> DonationStarted | Response[dict[str, Any]]:
        runtime.remember(settings)
        started = await gifts.start_online(
            session,
            online_channel(settings),
            fund_id=data.fund_id,
            amount_fen=data.amount_fen,
            donor=_donor(data.donor),
            designation=_designation(data.designation),
        )
        if started.error is not None:
            # Returned, not raised: the canceled pledge is kept so its id is never reused.
            return problem(503, started.error, instance="/api/v1/donations", donation_id=started.donation.id)
        return DonationStarted(
            donation_id=started.donation.id,
            client_secret=started.client_secret or "",
            status=started.donation.status,
            payment_intent_id=started.donation.external_id or "",
        )

    @post("/offline", operation_id="recordOfflineDonation", summary="登记线下捐赠（转账、现金、实物）")
    async def offline(
        self, data: JSONBody[OfflineDonationIn], session: DbSession, principal: CurrentUser
    ) -> DonationOut:
        donation = await gifts.record_offline(
            session,
            principal,
            fund_id=data.fund_id,
            amount_fen=data.amount_fen,
            channel=data.channel,
            donor=_donor(data.donor),
            designation=_designation(data.designation),
            received_on=data.received_on,
            reference=data.reference,
            note=data.note,
        )
        return donation_out(donation, await purposes.labels(session, [donation.purpose]))

    @get("/", operation_id="listDonations", summary="捐赠列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        fund_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        channel: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> DonationList:
        rows, total = await gifts.list_donations(
            session, principal, status=status, fund_id=fund_id, channel=channel, limit=page.limit, offset=page.offset
        )
        names = await purposes.labels(session, {d.purpose for d in rows})
        return DonationList(items=[donation_out(d, names) for d in rows], total=total)

    @get("/{donation_id:int}", operation_id="getDonation", summary="捐赠详情（到账后含票据号）")
    async def read(self, donation_id: PathId, session: DbSession, principal: CurrentUser) -> DonationOut:
        d = await gifts.read_donation(session, principal, donation_id)
        return donation_out(d, await purposes.labels(session, [d.purpose]))

    @post("/{donation_id:int}/refunds", operation_id="refundOfflineDonation", summary="登记线下退款")
    async def refund(
        self, donation_id: PathId, data: JSONBody[OfflineRefundIn], session: DbSession, principal: CurrentUser
    ) -> DonationOut:
        donation = await gifts.refund_offline(
            session, principal, donation_id, amount_fen=data.amount_fen, reference=data.reference, reason=data.reason
        )
        d = await gifts.get_donation(session, donation.id)
        return donation_out(d, await purposes.labels(session, [d.purpose]))

    @post("/{donation_id:int}/purpose", operation_id="changeDonationPurpose", summary="经捐赠人同意变更用途")
    async def purpose(
        self, donation_id: PathId, data: JSONBody[PurposeChangeIn], session: DbSession, principal: CurrentUser
    ) -> DonationOut:
        donation = await gifts.change_purpose(
            session,
            principal,
            donation_id,
            purpose=data.purpose,
            consent_note=data.consent_note,
            consent_reference=data.consent_reference,
        )
        d = await gifts.get_donation(session, donation.id)
        return donation_out(d, await purposes.labels(session, [d.purpose]))


@post(
    "/api/v1/webhooks/stripe",
    operation_id="stripeWebhook",
    summary="Stripe 事件通知（签名校验）",
    tags=["funds"],
    status_code=200,
    security=[{}],
)
async def stripe_webhook(request: Request[Any, Any, Any], session: DbSession, settings: AppSettings) -> dict[str, Any]:
    """Verify on the raw body, store once, acknowledge; the outbox does the bookkeeping after commit."""
    runtime.remember(settings)
    body = await request.body()
    event = StripeChannel(settings).verify_notification(body, {k.lower(): v for k, v in request.headers.items()})
    row, first = await stripe_events.store_event(session, event)
    return {"received": True, "event_id": row.event_id, "duplicate": not first}


@get(
    "/api/v1/donors",
    operation_id="listDonors",
    summary="捐赠人（累计金额、捐赠与票据）",
    tags=["funds"],
    dependencies=PAGE,
)
async def list_donors(
    session: DbSession,
    principal: CurrentUser,
    page: PageParams,
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> DonorList:
    rows, total = await gifts.list_donors(session, principal, q=q, limit=page.limit, offset=page.offset)
    return DonorList(
        items=[
            DonorOut(
                id=s.donor.id,
                name=s.donor.name,
                kind=s.donor.kind,
                email=s.donor.email,
                phone=s.donor.phone,
                credit_code=s.donor.credit_code,
                consent_to_name=s.donor.consent_to_name,
                total_fen=s.total_fen,
                donations=s.donations,
                receipts=s.receipts,
            )
            for s in rows
        ],
        total=total,
    )


class PublicFundController(Controller):
    path = "/api/v1/public/funds"
    tags = ["public"]
    security = [{}]
    dependencies = PAGE

    @get("/", operation_id="listPublicFunds", summary="全部公开的慈善资金（公益基金、街道基金会、民生微实事；仅合计）")
    async def funds(self, session: DbSession) -> PublicFundList:
        return await reports.public_funds(session)

    @get("/{fund_id:int}", operation_id="getPublicFundAccounts", summary="基金公开账目（无需登录）")
    async def accounts(self, fund_id: PathId, session: DbSession) -> PublicFundOut:
        return await reports.public_accounts(session, fund_id)

    @get("/{fund_id:int}/donors", operation_id="getPublicHonourRoll", summary="爱心榜（仅列出同意署名者）")
    async def donors(self, fund_id: PathId, session: DbSession, page: PageParams) -> HonourRoll:
        return await reports.honour_roll(session, fund_id, limit=page.limit, offset=page.offset)

    @get(
        "/{fund_id:int}/disbursements",
        operation_id="listPublicDisbursements",
        summary="逐笔支出（日期、项目、金额、用途）",
    )
    async def disbursements(self, fund_id: PathId, session: DbSession, page: PageParams) -> PublicDisbursementList:
        return await reports.public_disbursements(session, fund_id, limit=page.limit, offset=page.offset)

    @get(
        "/{fund_id:int}/donations",
        operation_id="listPublicDonations",
        summary="逐笔捐赠（捐赠人按其意愿署名或匿名）",
    )
    async def donations(self, fund_id: PathId, session: DbSession, page: PageParams) -> PublicDonationList:
        return await reports.public_donations(session, fund_id, limit=page.limit, offset=page.offset)

    @get(
        "/{fund_id:int}/disclosures",
        operation_id="getPublicDisclosureCalendar",
        summary="信息公开日历（每期应公开日期、是否已公开）",
    )
    async def disclosures(self, fund_id: PathId, session: DbSession) -> DisclosureCalendar:
        return await reports.disclosure_calendar(session, fund_id)


@get(
    "/api/v1/reports/fund",
    operation_id="getFundReport",
    summary="基金报表（?format=csv|xlsx）",
    tags=["reports"],
    operation_class=tabular.downloads(*tabular.FORMATS.values()),
)
async def fund_report(
    session: DbSession,
    principal: CurrentUser,
    fund_id: Annotated[int, QueryParameter(ge=1, le=MAX_ID)],
    format: Annotated[str, QueryParameter(pattern="^(json|csv|xlsx)$")] = "json",
) -> FundReport | Response[bytes]:
    report = await reports.fund_report(session, principal, fund_id)
    if format in ("csv", "xlsx"):
        return tabular.download([reports.report_sheet(report)], format, f"fund-{fund_id}-report")
    return report


ROUTES = [
    FundController,
    DonationController,
    stripe_webhook,
    list_donors,
    *RECONCILIATION_ROUTES,
    PublicFundController,
    fund_report,
]
