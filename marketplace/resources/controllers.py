from __future__ import annotations

import hashlib
from array import array
from collections.abc import Hashable, Sequence
from typing import Annotated, Any, Final

import anyio.to_thread
from litestar import Controller, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, signals
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, Db, DbSession, PageParams, Search
from marketplace.errors import Invalid, NotFound
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page
from marketplace.resources import people, readmodel, revisions
from marketplace.resources import service as pool
from marketplace.resources.models import (
    OPEN_REVISION_STATUSES,
    POOL_SIGNAL,
    Organization,
    Service,
    ServiceRevision,
    SocialWorker,
    VolunteerTeam,
)
from marketplace.resources.readmodel import ServiceRow
from marketplace.resources.schemas import (
    OrganizationIn,
    OrganizationList,
    OrganizationOut,
    OrganizationPatch,
    ReasonIn,
    ReturnIn,
    RevisionFieldOut,
    ServiceChanges,
    ServiceIn,
    ServiceList,
    ServiceOut,
    ServicePatch,
    ServiceRevisionList,
    ServiceRevisionOut,
    SocialWorkerIn,
    SocialWorkerList,
    SocialWorkerOut,
    SocialWorkerPatch,
    TaxonomyItem,
    TaxonomyOut,
    VolunteerTeamIn,
    VolunteerTeamList,
    VolunteerTeamOut,
    VolunteerTeamPatch,
)
from marketplace.resources.taxonomy import (
    CHILD_CATEGORIES,
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    ORGANIZATION_KINDS,
    ORGANIZATION_STATUSES,
    SERVICE_CATEGORIES,
    SERVICE_REVISION_STATUSES,
    SERVICE_STATUSES,
)
from marketplace.settings import Settings
from search import InvalidQuery, SearchBackend, SearchQuery

# Enough relevance-ordered candidates for any page a person reads; filters and facets then apply in SQL.
SEARCH_WINDOW = 1000

# The pool's answers (a listing page with its facets, one service) are kept per serving process until the pool
# signal says the pool changed (marketplace.signals; any committed change to a service, its codes, its bookings or
# an organization, from any process of the machine), or for POOL_CACHE_SECONDS at most (what a process on another
# machine could miss). The key holds everything an answer depends on: what the caller may see, the filters, the
# page, the search ranking, the booking month and the district's date (a listing's staleness).
POOL_CACHE_SECONDS: Final = 5.0
POOL_CACHE_ENTRIES: Final = 4096
PoolCache = signals.SignalCache[Hashable, Any]
PoolAnswers = NamedDependency[PoolCache]  # injected as ``pool_cache``


def ranking_key(ids: Sequence[int]) -> bytes:
    """A search ranking (up to SEARCH_WINDOW ids) as a 16-byte digest: the cache keeps thousands of keys, not
    thousands of id lists."""
    return hashlib.blake2b(array("q", ids).tobytes(), digest_size=16).digest()


def provide_pool_cache(state: State) -> PoolCache:
    cache: PoolCache | None = state.get("pool_cache")
    if cache is None:
        settings: Settings = state.settings
        cache = signals.SignalCache(
            settings.data_dir, POOL_SIGNAL, ttl=POOL_CACHE_SECONDS, max_entries=POOL_CACHE_ENTRIES
        )
        state["pool_cache"] = cache
    return cache


def provide_search(state: State) -> SearchBackend:
    backend: SearchBackend = state.search
    return backend


async def ranked_ids(search: SearchBackend, index_name: str, q: str) -> list[int]:
    """The search ranking of ``q`` (up to SEARCH_WINDOW ids). A query the search port refuses (a filter that does
    not apply to the index, a sort or facet it does not have) is the caller's to fix: a 422 naming the field."""
    query = SearchQuery(q=q, limit=SEARCH_WINDOW)
    try:
        if search.in_process:  # answered from memory in a fraction of a millisecond: no hand-off to a thread
            return search.search(index_name, query).ids
        result = await anyio.to_thread.run_sync(search.search, index_name, query)
    except InvalidQuery as exc:
        raise Invalid.field(exc.field or "q", f"搜索条件无效 (invalid search): {exc}") from exc
    return result.ids


PAGE = {
    "page": Provide(provide_page, sync_to_thread=False),
    "search": Provide(provide_search, sync_to_thread=False),
}


def organization_out(org: Organization) -> OrganizationOut:
    return OrganizationOut(
        id=org.id,
        name=org.name,
        kind=org.kind,
        kind_label=ORGANIZATION_KINDS.get(org.kind, org.kind),
        credit_code=org.credit_code,
        contact_name=org.contact_name,
        contact_phone=org.contact_phone,
        street_ids=org.street_ids,
        description=org.description,
        address=org.address,
        status=org.status,
        status_label=ORGANIZATION_STATUSES.get(org.status, org.status),
        approved_at=org.approved_at,
        created_at=org.created_at,
    )


def service_out(s: ServiceRow, settings: Settings) -> ServiceOut:
    return ServiceOut(
        id=s.id,
        organization_id=s.organization_id,
        organization_name=s.organization.name,
        title=s.title,
        description=s.description,
        eligibility=s.eligibility,
        categories=s.category_codes,
        category_labels=[SERVICE_CATEGORIES.get(c, c) for c in s.category_codes],
        child_categories=s.child_category_codes,
        age_min=s.age_min,
        age_max=s.age_max,
        street_ids=s.street_ids,
        district_wide=s.district_wide,
        capacity_per_month=s.capacity_per_month,
        capacity_left=s.capacity_left,
        cost_per_case_fen=s.cost_per_case_fen,
        delivery_mode=s.delivery_mode,
        funding_source=s.funding_source,
        schedule=s.schedule,
        wait_time_days=s.wait_time_days,
        fees_text=s.fees_text,
        five_societies=s.five_societies,
        contact_phone=s.contact_phone,
        assured_on=s.assured_on,
        stale=pool.is_stale(s, settings.stale_listing_days),
        status=s.status,
        status_label=SERVICE_STATUSES.get(s.status, s.status),
        status_note=s.status_note,
        allowed_transitions=pool.SERVICE_LIFECYCLE.allowed(s.status),
        published_at=s.published_at,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


async def services_out(
    session: AsyncSession, services: Sequence[ServiceRow] | Sequence[Service], settings: Settings
) -> list[ServiceOut]:
    """Listing rows as they are; ORM services (just written) are read back through the same read model."""
    rows: list[ServiceRow] = []
    pending: list[int] = []
    for s in services:
        if isinstance(s, ServiceRow):
            rows.append(s)
        else:
            pending.append(s.id)
    if pending:
        await session.flush()
        rows = await readmodel.service_rows(session, pending)
    return [service_out(r, settings) for r in rows]


async def service_one(session: AsyncSession, service: Service, settings: Settings) -> ServiceOut:
    return (await services_out(session, [service], settings))[0]


def _items(table: dict[str, str]) -> list[TaxonomyItem]:
    return [TaxonomyItem(code=c, label=label) for c, label in table.items()]


# Taxonomy codes (kind, status, category) are lower-case ASCII; anything else names no code and never reaches SQL
# (PostgreSQL rejects a NUL byte in text).
CODE = r"^[a-z][a-z0-9_]*$"


class TaxonomyController(Controller):
    path = "/api/v1/taxonomy"
    tags = ["resources"]

    @get("/", operation_id="getTaxonomy", summary="服务分类与儿童类别代码表")
    async def taxonomy(self) -> TaxonomyOut:
        return TaxonomyOut(
            service_categories=_items(SERVICE_CATEGORIES),
            child_categories=_items(CHILD_CATEGORIES),
            organization_kinds=_items(ORGANIZATION_KINDS),
            five_societies=_items(FIVE_SOCIETIES),
            delivery_modes=_items(DELIVERY_MODES),
            funding_sources=_items(FUNDING_SOURCES),
            service_statuses=_items(SERVICE_STATUSES),
        )


class OrganizationController(Controller):
    path = "/api/v1/organizations"
    tags = ["resources"]
    dependencies = PAGE

    @post("/", operation_id="createOrganization", summary="登记社会组织")
    async def create(
        self, data: JSONBody[OrganizationIn], session: DbSession, principal: CurrentUser
    ) -> OrganizationOut:
        return organization_out(await pool.create_organization(session, principal, data))

    @get("/", operation_id="listOrganizations", summary="社会组织列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        search: Search,
        kind: Annotated[str | None, QueryParameter(max_length=40, pattern=CODE)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20, pattern=CODE)] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> OrganizationList:
        text = q.strip() if q else ""
        ordered = await ranked_ids(search, "organizations", text) if text else None
        rows, total = await pool.list_organizations(
            session,
            principal,
            kind=kind,
            status=status,
            street_id=street_id,
            ordered_ids=ordered,
            limit=page.limit,
            offset=page.offset,
        )
        return OrganizationList(items=[organization_out(o) for o in rows], total=total)

    @get("/{org_id:int}", operation_id="getOrganization", summary="社会组织详情")
    async def read(self, org_id: PathId, session: DbSession, principal: CurrentUser) -> OrganizationOut:
        return organization_out(await pool.read_organization(session, principal, org_id))

    @patch("/{org_id:int}", operation_id="updateOrganization", summary="修改社会组织")
    async def update(
        self, org_id: PathId, data: JSONBody[OrganizationPatch], session: DbSession, principal: CurrentUser
    ) -> OrganizationOut:
        return organization_out(await pool.update_organization(session, principal, org_id, data))

    @post("/{org_id:int}/approve", operation_id="approveOrganization", summary="审核通过入库", status_code=200)
    async def approve(self, org_id: PathId, session: DbSession, principal: CurrentUser) -> OrganizationOut:
        return organization_out(await pool.set_organization_status(session, principal, org_id, "approved"))

    @post("/{org_id:int}/suspend", operation_id="suspendOrganization", summary="暂停机构", status_code=200)
    async def suspend(self, org_id: PathId, session: DbSession, principal: CurrentUser) -> OrganizationOut:
        return organization_out(await pool.set_organization_status(session, principal, org_id, "suspended"))


class ServiceController(Controller):
    path = "/api/v1/services"
    tags = ["resources"]
    dependencies = {**PAGE, "pool_cache": Provide(provide_pool_cache, sync_to_thread=False)}

    @post("/", operation_id="createService", summary="新增服务项目（草稿）")
    async def create(
        self, data: JSONBody[ServiceIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        service = await pool.create_service(session, principal, data)
        return await service_one(session, service, settings)

    @get("/", operation_id="listServices", summary="服务资源库检索")
    async def list(
        self,
        db: Db,
        principal: CurrentUser,
        settings: AppSettings,
        page: PageParams,
        search: Search,
        pool_cache: PoolAnswers,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        category: Annotated[str | None, QueryParameter(max_length=40, pattern=CODE)] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        child_category: Annotated[str | None, QueryParameter(max_length=40, pattern=CODE)] = None,
        age: Annotated[int | None, QueryParameter(ge=0, le=18)] = None,
        available: FromQuery[bool | None] = None,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20, pattern=CODE)] = None,
    ) -> ServiceList:
        text = q.strip() if q else ""
        ordered = await ranked_ids(search, "services", text) if text else None
        filters = pool.ServiceFilters(
            category=category,
            street_id=street_id,
            child_category=child_category,
            age=age,
            available=available,
            organization_id=organization_id,
            status=status,
        )
        month = clock.month_key()
        key = (
            "list",
            readmodel.viewer_key(principal),
            filters.key(),
            page.limit,
            page.offset,
            None if ordered is None else ranking_key(ordered),
            month,
            clock.today(),
        )

        async def listing() -> ServiceList:
            rows, total, facets = await db.read(
                readmodel.query_services, principal, filters, page.limit, page.offset, ordered, month
            )
            return ServiceList(items=[service_out(r, settings) for r in rows], total=total, facets=facets)

        answer: ServiceList = await signals.cached(pool_cache, key, listing)
        return answer

    @get("/{service_id:int}", operation_id="getService", summary="服务项目详情")
    async def read(
        self, service_id: PathId, db: Db, principal: CurrentUser, settings: AppSettings, pool_cache: PoolAnswers
    ) -> ServiceOut:
        month = clock.month_key()

        async def one() -> tuple[ServiceRow, ServiceOut] | tuple[None, None]:
            found = await db.read(readmodel.query_service_rows, [service_id], month)
            return (found[0], service_out(found[0], settings)) if found else (None, None)

        # A missing service is kept too: a stream of reads of unknown ids costs the database no more than the first.
        answer: tuple[ServiceRow, ServiceOut] | tuple[None, None] = await signals.cached(
            pool_cache, ("one", service_id, month, clock.today()), one
        )
        row, out = answer
        if row is None or out is None or not readmodel.visible(principal, row):
            raise NotFound(f"服务项目 {service_id} 不存在 (service not found)")
        return out

    @patch("/{service_id:int}", operation_id="updateService", summary="修改服务项目")
    async def update(
        self,
        service_id: PathId,
        data: JSONBody[ServicePatch],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ServiceOut:
        service = await pool.update_service(session, principal, service_id, data)
        return await service_one(session, service, settings)

    async def _transition(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        service_id: int,
        name: str,
        reason: str = "",
    ) -> ServiceOut:
        service = await pool.transition_service(session, principal, service_id, name, reason)
        return await service_one(session, service, settings)

    @post("/{service_id:int}/submit", operation_id="submitService", summary="提交审核", status_code=200)
    async def submit(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "submit")

    @post("/{service_id:int}/approve", operation_id="approveService", summary="审核通过并发布", status_code=200)
    async def approve(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "approve")

    @post("/{service_id:int}/reject", operation_id="rejectService", summary="退回修改", status_code=200)
    async def reject(
        self,
        service_id: PathId,
        data: JSONBody[ReasonIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "reject", data.reason)

    @post("/{service_id:int}/pause", operation_id="pauseService", summary="暂停", status_code=200)
    async def pause(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "pause")

    @post("/{service_id:int}/resume", operation_id="resumeService", summary="恢复", status_code=200)
    async def resume(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "resume")

    @post("/{service_id:int}/archive", operation_id="archiveService", summary="归档", status_code=200)
    async def archive(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ServiceOut:
        return await self._transition(session, principal, settings, service_id, "archive")


def revision_out(r: ServiceRevision, principal: Principal) -> ServiceRevisionOut:
    return ServiceRevisionOut(
        id=r.id,
        service_id=r.service_id,
        service_title=r.service.title,
        service_status=r.service.status,
        organization_id=r.service.organization_id,
        organization_name=r.service.organization.name,
        status=r.status,
        status_label=SERVICE_REVISION_STATUSES.get(r.status, r.status),
        open=r.status in OPEN_REVISION_STATUSES,
        changes=dict(r.changes),
        diff=[
            RevisionFieldOut(field=f, label=label, current=now, proposed=new)
            for f, label, now, new in revisions.diff(r)
        ],
        reason=r.reason,
        allowed_actions=revisions.allowed_actions(principal, r),
        created_at=r.created_at,
        created_by=r.created_by,
        updated_at=r.updated_at,
        submitted_at=r.submitted_at,
        submitted_by=r.submitted_by,
        decided_at=r.decided_at,
        decided_by=r.decided_by,
    )


class ServiceRevisionController(Controller):
    """Changes to a published service waiting for the district's review (marketplace/resources/revisions.py)."""

    path = "/api/v1"
    tags = ["resources"]
    dependencies = PAGE

    @get(
        "/services/{service_id:int}/revisions",
        operation_id="listServiceRevisions",
        summary="服务项目的修改记录（待审核与历史）",
    )
    async def list_for_service(
        self, service_id: PathId, session: DbSession, principal: CurrentUser, page: PageParams
    ) -> ServiceRevisionList:
        rows, total = await revisions.list_service_revisions(
            session, principal, service_id, limit=page.limit, offset=page.offset
        )
        return ServiceRevisionList(items=[revision_out(r, principal) for r in rows], total=total)

    @post(
        "/services/{service_id:int}/revisions",
        operation_id="proposeServiceRevision",
        summary="提出（或继续编辑）已发布服务的修改",
        status_code=200,
    )
    async def propose(
        self, service_id: PathId, data: JSONBody[ServiceChanges], session: DbSession, principal: CurrentUser
    ) -> ServiceRevisionOut:
        return revision_out(await revisions.propose(session, principal, service_id, data), principal)

    @get(
        "/services/{service_id:int}/revisions/{revision_id:int}",
        operation_id="getServiceRevision",
        summary="一次服务修改",
    )
    async def read(
        self, service_id: PathId, revision_id: PathId, session: DbSession, principal: CurrentUser
    ) -> ServiceRevisionOut:
        return revision_out(await revisions.read_revision(session, principal, service_id, revision_id), principal)

    async def _act(
        self,
        session: AsyncSession,
        principal: Principal,
        service_id: int,
        revision_id: int,
        action: str,
        reason: str = "",
    ) -> ServiceRevisionOut:
        found = await revisions.act(session, principal, service_id, revision_id, action, reason)
        return revision_out(found, principal)

    @post(
        "/services/{service_id:int}/revisions/{revision_id:int}/submit",
        operation_id="submitServiceRevision",
        summary="提交修改审核",
        status_code=200,
    )
    async def submit(
        self, service_id: PathId, revision_id: PathId, session: DbSession, principal: CurrentUser
    ) -> ServiceRevisionOut:
        return await self._act(session, principal, service_id, revision_id, "submit")

    @post(
        "/services/{service_id:int}/revisions/{revision_id:int}/withdraw",
        operation_id="withdrawServiceRevision",
        summary="撤回修改",
        status_code=200,
    )
    async def withdraw(
        self, service_id: PathId, revision_id: PathId, session: DbSession, principal: CurrentUser
    ) -> ServiceRevisionOut:
        return await self._act(session, principal, service_id, revision_id, "withdraw")

    @post(
        "/services/{service_id:int}/revisions/{revision_id:int}/approve",
        operation_id="approveServiceRevision",
        summary="审核通过修改并生效",
        status_code=200,
    )
    async def approve(
        self, service_id: PathId, revision_id: PathId, session: DbSession, principal: CurrentUser
    ) -> ServiceRevisionOut:
        return await self._act(session, principal, service_id, revision_id, "approve")

    @post(
        "/services/{service_id:int}/revisions/{revision_id:int}/return",
        operation_id="returnServiceRevision",
        summary="退回修改（须填写原因）",
        status_code=200,
    )
    async def return_(
        self,
        service_id: PathId,
        revision_id: PathId,
        data: JSONBody[ReturnIn],
        session: DbSession,
        principal: CurrentUser,
    ) -> ServiceRevisionOut:
        return await self._act(session, principal, service_id, revision_id, "return", data.reason)

    @get("/service-revisions", operation_id="listServiceRevisionQueue", summary="服务修改列表（区民政审核队列）")
    async def queue(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: Annotated[str | None, QueryParameter(max_length=20, pattern=CODE)] = None,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> ServiceRevisionList:
        rows, total = await revisions.list_revisions(
            session, principal, status=status, organization_id=organization_id, limit=page.limit, offset=page.offset
        )
        return ServiceRevisionList(items=[revision_out(r, principal) for r in rows], total=total)


def social_worker_out(w: SocialWorker, principal: Principal, channels: dict[int, str]) -> SocialWorkerOut:
    """A social worker as ``principal`` may see them: the personal number only for the district and the worker's
    own organization (``people.may_see_worker_contact``); the organization's channel for everyone else."""
    own = people.may_see_worker_contact(principal, w.organization_id)
    channel = channels.get(w.organization_id, "")
    return SocialWorkerOut(
        id=w.id,
        organization_id=w.organization_id,
        name=w.name,
        qualification=w.qualification,
        specialties=list(w.specialties),
        street_ids=list(w.street_ids),
        phone=w.phone if own else "",
        max_caseload=w.max_caseload,
        active=w.active,
        contact_channel=(w.phone or channel) if own else channel,
    )


async def _social_workers_out(
    session: AsyncSession, principal: Principal, workers: list[SocialWorker]
) -> list[SocialWorkerOut]:
    channels = await people.organization_channels(session, {w.organization_id for w in workers})
    return [social_worker_out(w, principal, channels) for w in workers]


def volunteer_team_out(t: VolunteerTeam, principal: Principal, channels: dict[int, str]) -> VolunteerTeamOut:
    """A volunteer team as ``principal`` may see it: the contact person's mobile only for the district and the
    team's own organization (``people.may_see_team_contact``); the organization's channel for everyone else."""
    own = people.may_see_team_contact(principal, t.organization_id)
    channel = channels.get(t.organization_id, "") if t.organization_id is not None else ""
    return VolunteerTeamOut(
        id=t.id,
        street_id=t.street_id,
        organization_id=t.organization_id,
        name=t.name,
        member_count=t.member_count,
        skills=list(t.skills),
        contact_name=t.contact_name,
        contact_phone=t.contact_phone if own else "",
        active=t.active,
        contact_channel=(t.contact_phone or channel) if own else channel,
    )


async def _volunteer_teams_out(
    session: AsyncSession, principal: Principal, teams: list[VolunteerTeam]
) -> list[VolunteerTeamOut]:
    channels = await people.organization_channels(
        session, {t.organization_id for t in teams if t.organization_id is not None}
    )
    return [volunteer_team_out(t, principal, channels) for t in teams]


class PeopleController(Controller):
    path = "/api/v1"
    tags = ["resources"]
    dependencies = PAGE

    @get("/social-workers", operation_id="listSocialWorkers", summary="社工列表")
    async def list_workers(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        organization_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> SocialWorkerList:
        rows, total = await people.list_social_workers(
            session, organization_id=organization_id, street_id=street_id, limit=page.limit, offset=page.offset
        )
        return SocialWorkerList(items=await _social_workers_out(session, principal, rows), total=total)

    @post("/social-workers", operation_id="createSocialWorker", summary="登记社工")
    async def create_worker(
        self, data: JSONBody[SocialWorkerIn], session: DbSession, principal: CurrentUser
    ) -> SocialWorkerOut:
        worker = await people.create_social_worker(session, principal, data)
        return (await _social_workers_out(session, principal, [worker]))[0]

    @patch("/social-workers/{worker_id:int}", operation_id="updateSocialWorker", summary="修改社工")
    async def update_worker(
        self, worker_id: PathId, data: JSONBody[SocialWorkerPatch], session: DbSession, principal: CurrentUser
    ) -> SocialWorkerOut:
        worker = await people.update_social_worker(session, principal, worker_id, data)
        return (await _social_workers_out(session, principal, [worker]))[0]

    @get("/volunteer-teams", operation_id="listVolunteerTeams", summary="志愿服务队列表")
    async def list_teams(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> VolunteerTeamList:
        rows, total = await people.list_volunteer_teams(
            session, street_id=street_id, limit=page.limit, offset=page.offset
        )
        return VolunteerTeamList(items=await _volunteer_teams_out(session, principal, rows), total=total)

    @post("/volunteer-teams", operation_id="createVolunteerTeam", summary="登记志愿服务队")
    async def create_team(
        self, data: JSONBody[VolunteerTeamIn], session: DbSession, principal: CurrentUser
    ) -> VolunteerTeamOut:
        team = await people.create_volunteer_team(session, principal, data)
        return (await _volunteer_teams_out(session, principal, [team]))[0]

    @patch("/volunteer-teams/{team_id:int}", operation_id="updateVolunteerTeam", summary="修改志愿服务队")
    async def update_team(
        self, team_id: PathId, data: JSONBody[VolunteerTeamPatch], session: DbSession, principal: CurrentUser
    ) -> VolunteerTeamOut:
        team = await people.update_volunteer_team(session, principal, team_id, data)
        return (await _volunteer_teams_out(session, principal, [team]))[0]


ROUTES = [TaxonomyController, OrganizationController, ServiceController, ServiceRevisionController, PeopleController]
