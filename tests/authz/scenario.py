"""The district the authorization suite runs against: the Futian demo (many streets, communities and organizations,
~400 children with needs, visits and referrals, the fund's gifts, budgets, procurements and contracts), plus what the
demo leaves out, made through the API by the roles that own it (mandatory reports, allowance decisions and payees,
child transfers, matching runs, service revisions, an organization's application, report exports, reconciliations,
statement mappings, an allowance run, contract evidence) and by the visit-alert job (escalations, notifications).

Every object is listed with where it belongs (community, street, organization, user), so the matrix can give each
role an object of its own and one of someone else's."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.eligibility import GRANT_CATEGORIES
from marketplace.cases.jobs import visit_alerts
from marketplace.db import Database
from marketplace.demo import futian_data as data
from tests.accounts.support import application

PASSWORD = data.DEMO_PASSWORD
# One signed-in caller per role; ``None`` is the anonymous caller.
CALLERS: dict[str, str] = {
    "child_director": "director",
    "child_supervisor": "supervisor",
    "org_staff": "org",
    "fund_manager": "fund",
    "procurement_officer": "procurement",
    "district_admin": "admin",
    "auditor": "auditor",
}
ROLES = tuple(CALLERS)


@dataclass(frozen=True)
class Obj:
    """One object as a route addresses it (its path parameters) and where it belongs."""

    params: dict[str, Any]
    community: int | None = None
    street: int | None = None
    org: int | None = None
    user: int | None = None
    # A second community and street it belongs to as well (a transfer: the child's and the one asking for it).
    also_community: int | None = None
    also_street: int | None = None


@dataclass
class Scenario:
    principals: dict[str, Principal]
    headers: dict[str, dict[str, str]]
    objects: dict[str, list[Obj]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    category: str = ""

    def mine(self, role: str, o: Obj) -> bool | None:
        """Whether ``o`` is in the scope of ``role``'s caller; None when the role's scope does not divide it."""
        p = self.principals[role]
        if o.user is not None:
            return o.user == p.user_id
        if role == "child_director" and o.community is not None:
            return p.community_id in (o.community, o.also_community)
        if role == "child_supervisor" and o.street is not None:
            return p.street_id in (o.street, o.also_street)
        if role == "org_staff" and o.org is not None:
            return o.org == p.organization_id
        return None

    def pick(self, kind: str, role: str | None) -> tuple[Obj | None, Obj | None]:
        """(an object of ``role``'s own, one of someone else's) of ``kind``; other is None when all are its own."""
        objs = self.objects.get(kind, [])
        if not objs:
            return None, None
        if role is None:
            return objs[0], None
        own = next((o for o in objs if self.mine(role, o) in (True, None)), None)
        other = next((o for o in objs if self.mine(role, o) is False), None)
        return own, other


async def _rows(db: Database, sql: str) -> list[Any]:
    async with db.session(write=False) as s:
        return list((await s.execute(text(sql))).all())


async def login(client: AsyncTestClient[Litestar], username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _principals(db: Database) -> dict[str, Principal]:
    out: dict[str, Principal] = {}
    for role, username in CALLERS.items():
        (row,) = await _rows(
            db,
            f"SELECT id, username, role, street_id, community_id, organization_id FROM users "
            f"WHERE username = '{username}'",
        )
        out[role] = Principal(row[0], row[1], row[2], "", row[3], row[4], row[5])
    return out


def _ok(r: Any, *statuses: int) -> Any:
    assert r.status_code in (statuses or (200, 201, 202)), (
        f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    )
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None


async def _director_of(db: Database, community: int) -> dict[str, str] | None:
    rows = await _rows(db, f"SELECT username FROM users WHERE role='child_director' AND community_id={community}")
    return {"username": rows[0][0]} if rows else None


async def build(client: AsyncTestClient[Litestar], db: Database) -> Scenario:
    principals = await _principals(db)
    headers = {role: await login(client, name) for role, name in CALLERS.items()}
    sc = Scenario(principals, headers)
    me = principals
    d, s, o = me["child_director"], me["child_supervisor"], me["org_staff"]
    logins: dict[str, dict[str, str]] = {}

    async def as_user(username: str) -> dict[str, str]:
        if username not in logins:
            logins[username] = await login(client, username)
        return logins[username]

    # Children of the caller's community and of another street's community (the demo's ids).
    kids = [
        (k[0], k[1], k[2], json.loads(k[3]) if isinstance(k[3], str) else list(k[3]))
        for k in await _rows(
            db, "SELECT id, community_id, street_id, categories FROM children WHERE status='active' ORDER BY id"
        )
    ]
    kids = [(k[0], k[1], k[2], [c for c in k[3] if c in GRANT_CATEGORIES]) for k in kids]
    kids = [k for k in kids if k[3]]
    own_kid = next(k for k in kids if k[1] == d.community_id)
    far_kid = next(k for k in kids if k[2] != d.street_id)
    far_director = await _director_of(db, far_kid[1])
    assert far_director is not None
    far_h = await as_user(far_director["username"])
    director_h = headers["child_director"]

    # Mandatory reports, allowance decisions and payees on both children, by their own directors.
    for kid, h in ((own_kid, director_h), (far_kid, far_h)):
        _ok(
            await client.post(
                f"/api/v1/children/{kid[0]}/reports",
                json={"kind": "lives_alone", "description": "邻居反映孩子多日独自在家，无人照料。"},
                headers=h,
            )
        )
        _ok(
            await client.post(
                f"/api/v1/children/{kid[0]}/allowance-decisions",
                json={"action": "grant", "category": kid[3][0], "evidence": ["证明材料.pdf"]},
                headers=h,
            ),
            201,
            409,  # the demo may have granted it already
        )
        _ok(
            await client.post(
                f"/api/v1/children/{kid[0]}/allowance-payee",
                json={"kind": "guardian", "name": "张三", "bank_name": "中国银行", "account": "6217000012345678"},
                headers=h,
            ),
            200,
            201,
            409,
        )
    # A transfer each way: asked by the other director for the caller's child, and by the caller for the other's.
    numbers = {}
    for kid in data.children(data.SEED, 400):
        numbers.setdefault(kid.community_code, kid.id_number)
    codes = {row[0]: row[1] for row in await _rows(db, "SELECT id, code FROM communities")}
    for requester, holder in ((far_h, own_kid), (director_h, far_kid)):
        number = numbers.get(codes[holder[1]])
        if number is not None:
            await client.post(
                "/api/v1/child-transfers",
                json={"id_number": number, "reason": "随父母搬迁至本社区居住"},
                headers=requester,
            )
    # Escalations and notifications: the day's visit alerts.
    await visit_alerts(db)
    # A matching run in the caller's street and one in another.
    far_sup = (await _rows(db, f"SELECT username FROM users WHERE role='child_supervisor' AND street_id={far_kid[2]}"))[
        0
    ][0]
    for h, street in ((headers["child_supervisor"], s.street_id), (await as_user(far_sup), far_kid[2])):
        await client.post("/api/v1/matching/runs", json={"street_id": street}, headers=h)
    # Service revisions by the caller's organization and another.
    svcs = await _rows(db, "SELECT id, organization_id FROM services WHERE status='published' ORDER BY id")
    own_svc = next(x for x in svcs if x[1] == o.organization_id)
    far_svc = next(x for x in svcs if x[1] != o.organization_id)
    far_org_user = (
        await _rows(db, f"SELECT username FROM users WHERE role='org_staff' AND organization_id={far_svc[1]}")
    )[0][0]
    for h, svc in ((headers["org_staff"], own_svc), (await as_user(far_org_user), far_svc)):
        await client.post(f"/api/v1/services/{svc[0]}/revisions", json={"schedule": "每周六上午"}, headers=h)
    # An organization's application (anonymous), report exports by two users, the fund's books.
    _ok(await client.post("/api/v1/organization-applications", json=application(907, street_ids=[s.street_id])))
    for h in (headers["district_admin"], headers["child_supervisor"]):
        await client.post("/api/v1/reports/exports", json={"kind": "coverage_all", "format": "csv"}, headers=h)
    fund = (await _rows(db, "SELECT id FROM funds ORDER BY id"))[0][0]
    fm = headers["fund_manager"]
    today = clock.today()
    statement = f"记账时间,发生额,对方账户名,业务编号\n{today:%Y%m%d},66.00,赵六,P-1\n"
    columns = {"date": "记账时间", "amount": "发生额", "payer": "对方账户名", "reference": "业务编号"}
    _ok(
        await client.post(
            "/api/v1/reconciliations",
            json={
                "fund_id": fund,
                "source": "bank",
                "since": str(today - dt.timedelta(days=30)),
                "until": str(today),
                "file_base64": base64.b64encode(statement.encode()).decode(),
                "columns": columns,
            },
            headers=fm,
        )
    )
    await client.post(
        "/api/v1/statement-mappings",
        json={
            "name": "平安银行",
            "bank_code": "PAB",
            "columns": columns,
        },
        headers=fm,
    )
    await client.post(
        "/api/v1/allowances/runs", json={"month": f"{today:%Y-%m}"}, headers=headers["procurement_officer"]
    )
    # Evidence on a contract milestone, uploaded by the procurement officer.
    ms = await _rows(
        db,
        "SELECT m.id, c.id, c.organization_id FROM contract_milestones m JOIN contracts c ON c.id = m.contract_id "
        "WHERE m.status = 'pending' AND c.status = 'active' ORDER BY c.id, m.seq",
    )
    for mid, cid, _org in ms[:1]:
        _ok(
            await client.post(
                f"/api/v1/contracts/{cid}/milestones/{mid}/evidence",
                files={"file": ("report.pdf", b"%PDF-1.4 evidence\n%%EOF\n", "application/pdf")},
                headers=headers["procurement_officer"],
            )
        )
    # A transfer between two communities of neither the caller nor its street.
    third = next((k for k in kids if k[2] not in (d.street_id, far_kid[2]) and numbers.get(codes[k[1]])), None)
    if third is not None:
        number = numbers[codes[third[1]]]
        await client.post(
            "/api/v1/child-transfers", json={"id_number": number, "reason": "随父母搬迁至本社区居住"}, headers=far_h
        )
    need = await _rows(db, f"SELECT id FROM needs WHERE community_id={d.community_id} AND status='open' ORDER BY id")
    line = await _rows(db, "SELECT id FROM budget_lines ORDER BY id")
    procurement = await _rows(db, "SELECT id FROM procurements ORDER BY id")
    others = await _rows(db, "SELECT id FROM users WHERE role='child_director' AND username <> 'director' ORDER BY id")
    sc.ids.update(
        {
            "_community": d.community_id or 0,
            "_street": d.street_id or 0,
            "org": o.organization_id or 0,
            "fund": fund,
            "need": need[0][0] if need else 0,
            "service": own_svc[0],
            "child": own_kid[0],
            "procurement": procurement[0][0] if procurement else 0,
            "milestone": ms[0][0] if ms else 0,
            "_director": others[0][0],
            "_director2": others[1][0],
            "_line": line[0][0] if line else 0,
        }
    )
    sc.category = own_kid[3][0]
    await collect(sc, db)
    return sc


SOURCES: dict[str, tuple[str, Callable[[tuple[Any, ...]], Obj]]] = {}


def source(kind: str, sql: str) -> Callable[[Callable[[tuple[Any, ...]], Obj]], Callable[[tuple[Any, ...]], Obj]]:
    def register(fn: Callable[[tuple[Any, ...]], Obj]) -> Callable[[tuple[Any, ...]], Obj]:
        SOURCES[kind] = (sql, fn)
        return fn

    return register


def _simple(kind: str, param: str, sql: str, *attrs: str) -> None:
    def make(row: tuple[Any, ...]) -> Obj:
        return Obj({param: row[0]}, **dict(zip(attrs, row[1:], strict=True)))

    SOURCES[kind] = (sql, make)


_simple("child", "child_id", "SELECT id, community_id, street_id FROM children ORDER BY id", "community", "street")
_simple("need", "need_id", "SELECT id, community_id, street_id FROM needs ORDER BY id", "community", "street")
_simple(
    "referral",
    "referral_id",
    "SELECT id, community_id, street_id, organization_id FROM referrals ORDER BY id",
    "community",
    "street",
    "org",
)
_simple(
    "decision",
    "decision_id",
    "SELECT id, community_id, street_id FROM allowance_decisions ORDER BY id",
    "community",
    "street",
)
_simple(
    "report",
    "report_id",
    "SELECT id, community_id, street_id FROM mandatory_reports ORDER BY id",
    "community",
    "street",
)
# Guardianship records belong where their child does.
for _kind, _param, _table in (
    ("guardianship_assessment", "assessment_id", "guardianship_assessments"),
    ("entrusted", "entrusted_id", "entrusted_guardianships"),
    ("temporary", "temporary_id", "temporary_guardianships"),
):
    _simple(
        _kind,
        _param,
        f"SELECT g.id, c.community_id, c.street_id FROM {_table} g JOIN children c ON c.id = g.child_id ORDER BY g.id",
        "community",
        "street",
    )

_simple("intake", "intake_id", "SELECT id, community_id, street_id FROM intakes ORDER BY id", "community", "street")
_simple(
    "transfer",
    "transfer_id",
    "SELECT t.id, t.from_community_id, c.street_id, t.to_community_id, c2.street_id FROM child_transfers t "
    "JOIN communities c ON c.id = t.from_community_id JOIN communities c2 ON c2.id = t.to_community_id ORDER BY t.id",
    "community",
    "street",
    "also_community",
    "also_street",
)
_simple(
    "escalation",
    "escalation_id",
    "SELECT e.id, c.community_id, c.street_id FROM escalations e JOIN children c ON c.id = e.child_id "
    "WHERE e.level >= 2 ORDER BY e.id",  # a supervisor acts on the steps that reached the street
    "community",
    "street",
)
_simple(
    "safety_warning",
    "warning_id",
    "SELECT id, community_id, street_id FROM safety_warnings ORDER BY id",
    "community",
    "street",
)
_simple(
    "safety_check",
    "check_id",
    "SELECT id, community_id, street_id FROM safety_checks ORDER BY id",
    "community",
    "street",
)
_simple(
    "parent",
    "parent_id",
    "SELECT p.id, c.community_id, c.street_id FROM families_parents p JOIN children c ON c.id = p.child_id "
    "WHERE p.replaced_by_id IS NULL ORDER BY p.id",
    "community",
    "street",
)
_simple(
    "conference",
    "conference_id",
    "SELECT id, community_id, street_id FROM conferences ORDER BY id",
    "community",
    "street",
)
_simple(
    "conference_decision",
    "decision_id",
    "SELECT d.id, c.community_id, c.street_id FROM conference_decisions d "
    "JOIN conferences c ON c.id = d.conference_id ORDER BY d.id",
    "community",
    "street",
)
# The workforce: the demo director first (a director's own person is themselves), then the other directors.
_simple(
    "workforce_person",
    "user_id",
    "SELECT id, community_id, street_id FROM users WHERE role='child_director' ORDER BY username <> 'director', id",
    "community",
    "street",
)
_simple(
    "workforce_course",
    "course_id",
    "SELECT id, street_id FROM workforce_courses WHERE street_id IS NOT NULL ORDER BY id",
    "street",
)
_simple(
    "workforce_assessment",
    "assessment_id",
    "SELECT id, community_id, street_id FROM workforce_assessments WHERE role='child_director' ORDER BY id",
    "community",
    "street",
)
# Children's homes (and their staff and activities), other streets' than the demo director's first: a home of the
# director's own street but another community is theirs to read (the matrix's "other" is another street's).
_DIRECTOR_STREET_LAST = "p.street_id = (SELECT street_id FROM users WHERE username = 'director')"
_simple(
    "place",
    "place_id",
    f"SELECT p.id, p.community_id, p.street_id FROM places p WHERE p.kind = 'children_home' "
    f"ORDER BY {_DIRECTOR_STREET_LAST}, p.id",
    "community",
    "street",
)
_simple(
    "place_activity",
    "activity_id",
    f"SELECT a.id, p.community_id, p.street_id FROM place_activities a JOIN places p ON p.id = a.place_id "
    f"WHERE p.kind = 'children_home' ORDER BY {_DIRECTOR_STREET_LAST}, a.id",
    "community",
    "street",
)


@source(
    "place_staff",
    f"SELECT s.place_id, s.id, p.community_id, p.street_id FROM place_staff s JOIN places p ON p.id = s.place_id "
    f"WHERE p.kind = 'children_home' AND s.until IS NULL ORDER BY {_DIRECTOR_STREET_LAST}, s.id",
)
def _place_staff(row: tuple[Any, ...]) -> Obj:
    return Obj({"place_id": row[0], "staff_id": row[1]}, community=row[2], street=row[3])


_simple("notification", "notification_id", "SELECT id, recipient_id FROM notifications ORDER BY id", "user")
_simple("service", "service_id", "SELECT id, organization_id FROM services ORDER BY id", "org")
_simple("org", "org_id", "SELECT id, id FROM organizations WHERE status='approved' ORDER BY id", "org")
_simple("application", "application_id", "SELECT id FROM organization_applications ORDER BY id")
# Never a caller of the matrix: an allowed "disable" or "reset password" would end its session.
_simple(
    "user",
    "user_id",
    "SELECT id, organization_id FROM users WHERE role='org_staff' AND username <> 'org' ORDER BY id",
    "org",
)
_simple("worker", "worker_id", "SELECT id, organization_id FROM social_workers ORDER BY id", "org")
_simple("team", "team_id", "SELECT id, street_id FROM volunteer_teams ORDER BY id", "street")
# Volunteers belong where they are registered (their memberships, hours and certificates with them).
_simple(
    "volunteer", "volunteer_id", "SELECT id, community_id, street_id FROM volunteers ORDER BY id", "community", "street"
)
for _kind, _param, _sql in (
    ("volunteer_membership", "membership_id", "volunteers_memberships x {} WHERE x.left_on IS NULL"),
    ("volunteer_hours", "hours_id", "volunteers_hours x {} WHERE x.reverses_id IS NULL"),
    ("volunteer_certificate", "certificate_id", "volunteers_certificates x {}"),
):
    _simple(
        _kind,
        _param,
        "SELECT x.id, v.community_id, v.street_id FROM "
        + _sql.format("JOIN volunteers v ON v.id = x.volunteer_id")
        + " ORDER BY x.id",
        "community",
        "street",
    )
_simple("export", "job_id", "SELECT id, created_by FROM export_jobs ORDER BY id", "user")
_simple("contract", "contract_id", "SELECT id, organization_id FROM contracts ORDER BY id", "org")
_simple("procurement", "procurement_id", "SELECT id FROM procurements ORDER BY id")
_simple("budget", "budget_id", "SELECT id FROM budgets ORDER BY id")
_simple("fund", "fund_id", "SELECT id FROM funds ORDER BY id")
_simple("fund_project", "project_id", "SELECT id FROM fund_projects ORDER BY id")
_simple("donation", "donation_id", "SELECT id FROM donations ORDER BY id")
_simple("recon", "recon_id", "SELECT id FROM reconciliations ORDER BY id")
_simple("mapping", "mapping_id", "SELECT id FROM bank_statement_mappings ORDER BY id")
_simple("run", "run_id", "SELECT id FROM allowance_runs ORDER BY id")
_simple("festival_plan", "plan_id", "SELECT id FROM festival_plans WHERE current IS TRUE ORDER BY id")
_simple("matching_run", "run_id", "SELECT id, street_id FROM matching_runs ORDER BY id", "street")


@source(
    "milestone",
    "SELECT m.contract_id, m.id, c.organization_id FROM contract_milestones m JOIN contracts c ON c.id = m.contract_id ORDER BY m.contract_id, m.seq",
)
def _milestone(row: tuple[Any, ...]) -> Obj:
    return Obj({"contract_id": row[0], "milestone_id": row[1]}, org=row[2])


@source("budget_line", "SELECT budget_id, id FROM budget_lines ORDER BY id")
def _line(row: tuple[Any, ...]) -> Obj:
    return Obj({"budget_id": row[0], "line_id": row[1]})


@source("disbursement", "SELECT fund_id, id FROM fund_disbursements ORDER BY id")
def _disbursement(row: tuple[Any, ...]) -> Obj:
    return Obj({"fund_id": row[0], "disbursement_id": row[1]})


@source(
    "revision",
    "SELECT r.service_id, r.id, s.organization_id FROM service_revisions r JOIN services s ON s.id = r.service_id ORDER BY r.id",
)
def _revision(row: tuple[Any, ...]) -> Obj:
    return Obj({"service_id": row[0], "revision_id": row[1]}, org=row[2])


@source("recon_diff", "SELECT reconciliation_id, MIN(n) FROM reconciliation_differences GROUP BY reconciliation_id")
def _recon_diff(row: tuple[Any, ...]) -> Obj:
    return Obj({"recon_id": row[0], "n": row[1]})


@source(
    "evidence",
    "SELECT m.contract_id, m.id, c.organization_id, m.evidence FROM contract_milestones m "
    "JOIN contracts c ON c.id = m.contract_id ORDER BY m.id",
)
def _evidence(row: tuple[Any, ...]) -> Obj:
    files = json.loads(row[3]) if isinstance(row[3], str) else row[3]
    shas = [f["sha256"] for f in files or [] if isinstance(f, dict) and f.get("sha256")]
    sha = shas[0] if shas else ""
    return Obj({"contract_id": row[0], "milestone_id": row[1], "sha256": sha}, org=row[2])


async def collect(sc: Scenario, db: Database) -> None:
    for kind, (sql, make) in SOURCES.items():
        try:
            rows = await _rows(db, sql)
        except Exception as exc:
            raise AssertionError(f"{kind}: {exc}") from exc
        objs = [make(tuple(r)) for r in rows]
        sc.objects[kind] = [o for o in objs if all(v not in ("", None) for v in o.params.values())]
