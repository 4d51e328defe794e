"""The authorization policy, written down: for every operation of the API, which roles may call it, on which object,
and what every other caller is answered.

An operation is ``"METHOD /path"`` exactly as the app's OpenAPI schema names it; tests/authz/test_matrix.py fails
when the schema has an operation this table does not name (a new route is covered from its first commit) or when
the table names one the app no longer has.

For each caller (one signed-in user per role, and the anonymous caller) and each object (the caller's own, and one
of someone else's: another community's child, another street's escalation, another organization's service or
referral, another user's export or notification) the expected outcome is:

- ``ok``: the request reaches the operation's rules (a 2xx, or a 4xx about the request or the object's state such
  as 400, 409 or 422; never 401, 403 or 404);
- a refusal: 401 (not signed in), 403 (the role may not do it, or may see the object but not change it) or 404 (the
  object is outside the caller's scope: its existence is not revealed).

``Rule.who`` is the roles allowed; ``Rule.kind`` the object a path addresses (tests/authz/scenario.py lists them).
Unless a rule says otherwise: a role outside ``who`` gets 403 on its own objects and 404 on others' objects of a
scoped kind it cannot see; a role in ``who`` gets 404 on someone else's object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

D, S, O, F, P, A, U = (  # noqa: E741 - the roles' initials, for a table that reads as one
    "child_director",
    "child_supervisor",
    "org_staff",
    "fund_manager",
    "procurement_officer",
    "district_admin",
    "auditor",
)
ALL: Final = frozenset({D, S, O, F, P, A, U})
CASE_READERS: Final = frozenset({D, S, A, U})  # children's files (cases.service.can_read)
FUND_READERS: Final = frozenset({F, A, U})  # funds.service.READERS
PROC_READERS: Final = frozenset({P, A, U})  # procurement.service.READERS
BUDGET_READERS: Final = PROC_READERS | {F}
REFERRAL_READERS: Final = frozenset({D, S, O, A, U})
DISTRICT_READERS: Final = frozenset({A, U})
# POST /referrals: a role that cannot read the need is told the need does not exist (422 on need_id).
_NEED_UNSEEN: Final[dict[str, tuple[int | str, int | str]]] = {r: (422, 422) for r in (O, F, P)}

OK: Final = "ok"
EMPTY: Final = "empty"  # 200 with an empty page: the role's scope holds nothing of this
# Objects whose existence is not revealed to a caller who may not see them.
# Each hidden kind's readers: a reader that may not change the object is told 403 (it sees it), anyone else 404.
HIDDEN_KINDS: Final[dict[str, frozenset[str]]] = {
    "child": CASE_READERS,
    "need": CASE_READERS,
    "decision": CASE_READERS,
    "report": CASE_READERS,
    "intake": CASE_READERS,
    "transfer": CASE_READERS,
    "escalation": frozenset({S, A}),
    "guardianship_assessment": CASE_READERS,
    "entrusted": CASE_READERS,
    "temporary": CASE_READERS,
    "safety_warning": CASE_READERS,
    "safety_check": CASE_READERS,
    "parent": CASE_READERS,
    "place": CASE_READERS,
    "place_staff": CASE_READERS,
    "place_activity": CASE_READERS,
    "conference": CASE_READERS,
    "conference_decision": CASE_READERS,
    "referral": REFERRAL_READERS,
    "matching_run": frozenset({S, A, U}),
    "revision": frozenset({A, O}),
    "notification": frozenset(),
    "export": frozenset(),
    # the workforce (marketplace.workforce): a director sees themselves, a supervisor their street's directors
    "workforce_person": CASE_READERS,
    "workforce_course": CASE_READERS,
    "workforce_assessment": CASE_READERS,
    # volunteers (marketplace.volunteers): an organization reads only its teams' members (none in the demo)
    "volunteer": CASE_READERS,
    "volunteer_membership": CASE_READERS,
    "volunteer_hours": CASE_READERS,
    "volunteer_certificate": CASE_READERS,
}
_ALL_ANSWER_401: Final[dict[str, tuple[int | str, int | str]]] = {
    r: (401, 401)
    for r in (
        "anonymous",
        "child_director",
        "child_supervisor",
        "org_staff",
        "fund_manager",
        "procurement_officer",
        "district_admin",
        "auditor",
    )
}
# The workforce's steps: the roles that may not read the workforce are refused before the object is looked up.
_WF_DENIED: Final[dict[str, tuple[int | str, int | str]]] = {
    r: (403, 403) for r in ("org_staff", "fund_manager", "procurement_officer")
}
_EMPTY_TO_OTHERS: Final[dict[str, tuple[int | str, int | str]]] = {
    r: (EMPTY, EMPTY) for r in ("org_staff", "fund_manager", "procurement_officer")
}


@dataclass(frozen=True)
class Rule:
    who: frozenset[str]
    kind: str | None = None
    public: bool = False  # the anonymous caller may call it too
    # What a role outside ``who`` is answered on any object: None means 404 for a hidden kind (a child's data,
    # someone's notification or export: its existence is not revealed), 403 otherwise.
    denied: int | None = None
    # What a role in ``who`` is answered on someone else's object: None means 404 for a hidden kind, 403 for a
    # visible one (a published service, an approved organization: visible, but not the caller's to change).
    other: int | str | None = None
    # Per-role answers that differ from the above: {role: (own, other)}; "anonymous" for the anonymous caller.
    special: dict[str, tuple[int | str, int | str]] = field(default_factory=dict)


def R(
    who: frozenset[str] | set[str] | str,
    kind: str | None = None,
    **kw: object,
) -> Rule:
    roles = frozenset({who}) if isinstance(who, str) else frozenset(who)
    return Rule(roles, kind, **kw)  # type: ignore[arg-type]


def PUB(kind: str | None = None, **kw: object) -> Rule:
    return R(ALL, kind, public=True, **kw)


POLICY: Final[dict[str, Rule]] = {
    # ------------------------------------------------------------------ allowances (cases.eligibility, procurement)
    "GET /api/v1/allowance-decisions": R(CASE_READERS),
    "GET /api/v1/allowance-decisions/{decision_id}": R(CASE_READERS, "decision"),
    "POST /api/v1/allowance-decisions/{decision_id}/decide": R(A, "decision"),
    "POST /api/v1/allowance-decisions/{decision_id}/review": R(S, "decision"),
    "POST /api/v1/allowances/runs": R(P),
    "POST /api/v1/allowances/runs/prepare": R(P),
    "GET /api/v1/allowances/runs/{run_id}": R(BUDGET_READERS, "run"),
    "GET /api/v1/allowances/runs/{run_id}/bank-file": R({P, A}, "run"),  # BANK_FILE_READERS
    "POST /api/v1/allowances/runs/{run_id}/pay": R(P, "run"),
    "GET /api/v1/allowances/runs/{run_id}/progress": R(BUDGET_READERS, "run"),
    "POST /api/v1/allowances/runs/{run_id}/sign-off": R(A, "run"),
    "POST /api/v1/allowances/runs/{run_id}/withdraw": R(P, "run"),
    "GET /api/v1/allowances/runs/{run_id}/list": R(BUDGET_READERS, "run"),
    "GET /api/v1/allowances/standards": R(BUDGET_READERS),
    # festival plans (procurement.festivals): the district and the procurement officer write, the auditor reads
    "GET /api/v1/allowances/festival-plans": R(PROC_READERS),
    "POST /api/v1/allowances/festival-plans": R({P, A}),
    "GET /api/v1/allowances/festival-plans/{plan_id}": R(PROC_READERS, "festival_plan"),
    "PATCH /api/v1/allowances/festival-plans/{plan_id}": R({P, A}, "festival_plan"),
    "POST /api/v1/allowances/festival-plans/{plan_id}/versions": R({P, A}, "festival_plan"),
    "GET /api/v1/allowances/festival-plans/{plan_id}/runs": R(PROC_READERS, "festival_plan"),
    "POST /api/v1/allowances/festival-plans/{plan_id}/runs": R({P, A}, "festival_plan"),
    "POST /api/v1/allowances/standards": R(P),
    # ------------------------------------------------------------------ audit, accounts
    "GET /api/v1/audit": R(DISTRICT_READERS),
    "POST /api/v1/auth/activate": PUB(special=_ALL_ANSWER_401),  # a wrong code: 401 to everyone
    "POST /api/v1/auth/login": PUB(special=_ALL_ANSWER_401),  # a wrong password: 401 to everyone
    "POST /api/v1/auth/logout": R(ALL),
    "GET /api/v1/auth/me": R(ALL),
    "POST /api/v1/auth/password": R(ALL),
    "POST /api/v1/handovers": R(A),
    "GET /api/v1/users": R({A, U}),
    "POST /api/v1/users": R(A),
    "GET /api/v1/users/{user_id}": R({A, U}, "user"),
    "PATCH /api/v1/users/{user_id}": R(A, "user"),
    "POST /api/v1/users/{user_id}/disable": R(A, "user"),
    "POST /api/v1/users/{user_id}/enable": R(A, "user"),
    "GET /api/v1/users/{user_id}/login-failures": R({A, U}, "user"),
    "POST /api/v1/users/{user_id}/reset-password": R(A, "user"),
    "GET /api/v1/organization-applications": R(DISTRICT_READERS),
    "POST /api/v1/organization-applications": PUB(),
    "GET /api/v1/organization-applications/{application_id}": R(DISTRICT_READERS, "application"),
    "POST /api/v1/organization-applications/{application_id}/approve": R(A, "application"),
    "POST /api/v1/organization-applications/{application_id}/reject": R(A, "application"),
    "POST /api/v1/organization-applications/{application_id}/request-more": R(A, "application"),
    "POST /api/v1/organization-applications/{application_id}/status": PUB("application"),
    "POST /api/v1/organization-applications/{application_id}/supplement": PUB("application"),
    # ------------------------------------------------------------------ budgets, procurement, contracts
    "GET /api/v1/budgets": R(BUDGET_READERS),
    "POST /api/v1/budgets": R(P),
    "GET /api/v1/budgets/{budget_id}": R(BUDGET_READERS, "budget"),
    "POST /api/v1/budgets/{budget_id}/adjustments": R(P, "budget"),
    "GET /api/v1/budgets/{budget_id}/lines/{line_id}/movements": R(BUDGET_READERS, "budget_line"),
    "GET /api/v1/procurements": R(PROC_READERS),
    "POST /api/v1/procurements": R(P),
    "GET /api/v1/procurements/{procurement_id}": R(PROC_READERS, "procurement"),
    "POST /api/v1/procurements/{procurement_id}/approve": R(A, "procurement"),  # the district approves the method
    "POST /api/v1/procurements/{procurement_id}/award": R(P, "procurement"),
    "POST /api/v1/procurements/{procurement_id}/bids": R(P, "procurement"),
    "POST /api/v1/procurements/{procurement_id}/cancel": R(P, "procurement"),
    "POST /api/v1/procurements/{procurement_id}/fail": R(P, "procurement"),
    "GET /api/v1/procurements/{procurement_id}/ocds": R(PROC_READERS, "procurement"),
    "GET /api/v1/contracts": R(PROC_READERS),
    "POST /api/v1/contracts": R(P),
    "GET /api/v1/contracts/{contract_id}": R(PROC_READERS, "contract"),
    "POST /api/v1/contracts/{contract_id}/amendments": R(P, "contract"),
    "POST /api/v1/contracts/{contract_id}/evaluation": R(P, "contract"),
    "POST /api/v1/contracts/{contract_id}/milestones/{milestone_id}/accept": R(P, "milestone"),
    "POST /api/v1/contracts/{contract_id}/milestones/{milestone_id}/evidence": R(P, "milestone"),
    "GET /api/v1/contracts/{contract_id}/milestones/{milestone_id}/evidence/{sha256}": R(PROC_READERS, "evidence"),
    "GET /api/v1/contracts/{contract_id}/ocds": R(PROC_READERS, "contract"),
    "POST /api/v1/contracts/{contract_id}/payments": R(P, "contract"),
    "POST /api/v1/contracts/{contract_id}/terminate": R(P, "contract"),
    # ------------------------------------------------------------------ children's files
    "GET /api/v1/children": R(CASE_READERS),
    "POST /api/v1/children": R(D),
    "GET /api/v1/children/{child_id}": R(CASE_READERS, "child"),
    "PATCH /api/v1/children/{child_id}": R(D, "child"),
    "POST /api/v1/children/{child_id}/allowance-decisions": R(D, "child"),
    "GET /api/v1/children/{child_id}/allowance-payee": R(CASE_READERS, "child"),
    "POST /api/v1/children/{child_id}/allowance-payee": R({D, A}, "child"),  # eligibility.set_payee
    "POST /api/v1/children/{child_id}/contact": R({D, S}, "child"),
    "POST /api/v1/children/{child_id}/needs": R(D, "child"),
    "POST /api/v1/children/{child_id}/reports": R({D, S}, "child"),
    "GET /api/v1/children/{child_id}/timeline": R(CASE_READERS, "child"),
    "GET /api/v1/children/{child_id}/visits": R(CASE_READERS, "child"),
    "POST /api/v1/children/{child_id}/visits": R(D, "child"),
    "GET /api/v1/visits/overdue": R(CASE_READERS),
    "GET /api/v1/child-transfers": R(CASE_READERS, special=_EMPTY_TO_OTHERS),  # transfers._scope: false()
    "POST /api/v1/child-transfers": R(D),
    "GET /api/v1/child-transfers/{transfer_id}": R(CASE_READERS, "transfer"),
    "POST /api/v1/child-transfers/{transfer_id}/approve": R({D, S}, "transfer"),  # the holder: director or street
    "POST /api/v1/child-transfers/{transfer_id}/cancel": R(
        D, "transfer", special={D: (403, 404)}
    ),  # the requester only: the caller's own transfer is one asked of it
    "POST /api/v1/child-transfers/{transfer_id}/reject": R({D, S}, "transfer"),
    "GET /api/v1/needs": R(CASE_READERS),
    "GET /api/v1/needs/{need_id}": R(CASE_READERS, "need"),
    "PATCH /api/v1/needs/{need_id}": R(D, "need"),
    "POST /api/v1/needs/{need_id}/matches": R({D, S, A}, "need"),
    "GET /api/v1/mandatory-reports": R(CASE_READERS),
    "POST /api/v1/mandatory-reports": R(
        {D, S}, special={r: (404, 404) for r in (O, F, P)}
    ),  # about a child the role cannot see: the child is not found
    "GET /api/v1/mandatory-reports/{report_id}": R(CASE_READERS, "report"),
    "POST /api/v1/mandatory-reports/{report_id}/acknowledge": R({S, A}, "report"),
    "POST /api/v1/mandatory-reports/{report_id}/close": R({D, S, A}, "report"),
    "POST /api/v1/mandatory-reports/{report_id}/link": R({D, S}, "report"),
    "POST /api/v1/mandatory-reports/{report_id}/police": R({D, S}, "report"),
    "POST /api/v1/mandatory-reports/{report_id}/steps": R({D, S}, "report"),
    # Hotline calls and public reports: taken by the district, a supervisor or a director (in their scope), read
    # like a child's file, triaged by the community's director, the street's supervisor or the district.
    "GET /api/v1/intakes": R(CASE_READERS),
    "POST /api/v1/intakes": R({D, S, A}),
    "GET /api/v1/intakes/{intake_id}": R(CASE_READERS, "intake"),
    "POST /api/v1/intakes/{intake_id}/triage": R({D, S, A}, "intake"),
    # ------------------------------------------------------------------ case conferences (conferences)
    "POST /api/v1/children/{child_id}/conferences": R({D, S, A}, "child"),
    "GET /api/v1/children/{child_id}/conference-candidates": R({D, S, A}, "child"),
    "GET /api/v1/conferences": R(ALL),
    "GET /api/v1/conferences/{conference_id}": R(CASE_READERS, "conference"),
    "POST /api/v1/conferences/{conference_id}/held": R({D, S, A}, "conference"),
    "POST /api/v1/conferences/{conference_id}/decisions": R({D, S, A}, "conference"),
    "POST /api/v1/conferences/{conference_id}/cancel": R({D, S, A}, "conference"),
    "POST /api/v1/conferences/decisions/{decision_id}/done": R({D, S, A}, "conference_decision"),
    "POST /api/v1/conferences/decisions/{decision_id}/cancel": R({D, S, A}, "conference_decision"),
    "POST /api/v1/conferences/decisions/{decision_id}/revise": R({D, S, A}, "conference_decision"),
    "GET /api/v1/me/decisions": R(ALL),
    "GET /api/v1/escalations": R({S, A}),
    "GET /api/v1/escalations/{escalation_id}": R({S, A}, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/acknowledge": R({S, A}, "escalation"),
    "GET /api/v1/escalations/{escalation_id}/directors": R({S, A}, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/reassign": R({S, A}, "escalation"),
    "POST /api/v1/escalations/{escalation_id}/remind": R({S, A}, "escalation"),
    # ------------------------------------------------------------------ guardianship (guardianship.service)
    "GET /api/v1/guardianship/instrument": R(CASE_READERS),
    "GET /api/v1/guardianship/assessments/{assessment_id}": R(CASE_READERS, "guardianship_assessment"),
    "GET /api/v1/guardianship/entrusted": R(CASE_READERS),
    "POST /api/v1/guardianship/entrusted/{entrusted_id}/renew": R(D, "entrusted"),
    "POST /api/v1/guardianship/entrusted/{entrusted_id}/end": R(D, "entrusted"),
    "POST /api/v1/guardianship/temporary/{temporary_id}/end": R(D, "temporary"),
    "GET /api/v1/children/{child_id}/guardianship": R(CASE_READERS, "child"),
    "GET /api/v1/children/{child_id}/guardianship-assessments": R(CASE_READERS, "child"),
    "POST /api/v1/children/{child_id}/guardianship-assessments": R(D, "child"),
    "POST /api/v1/children/{child_id}/entrusted-guardianships": R(D, "child"),
    "POST /api/v1/children/{child_id}/temporary-guardianships": R(D, "child"),
    "POST /api/v1/children/{child_id}/long-term-guardianships": R(D, "child"),
    # ------------------------------------------------------------------ 十防 safety (marketplace.safety)
    "GET /api/v1/safety/preventions": R(ALL),
    "GET /api/v1/children/{child_id}/safety-checks": R(CASE_READERS, "child"),
    "POST /api/v1/children/{child_id}/safety-checks": R(D, "child"),
    "GET /api/v1/safety/checks/{check_id}": R(CASE_READERS, "safety_check"),
    "GET /api/v1/safety/warnings": R(CASE_READERS),
    "GET /api/v1/safety/warnings/{warning_id}": R(CASE_READERS, "safety_warning"),
    "POST /api/v1/safety/warnings/{warning_id}/acknowledge": R(D, "safety_warning"),
    # the director's actions; the supervisor's and the district's notes on an escalated warning (else 409)
    "POST /api/v1/safety/warnings/{warning_id}/actions": R({D, S, A}, "safety_warning"),
    # left-behind children's parents away (marketplace.families): the child's director writes, its readers read
    "GET /api/v1/children/{child_id}/parents": R(CASE_READERS, "child"),
    "POST /api/v1/children/{child_id}/parents": R(D, "child"),
    "GET /api/v1/children/{child_id}/parents/contacts": R(CASE_READERS, "child"),
    "GET /api/v1/families/alerts": R(CASE_READERS),
    "POST /api/v1/families/parents/{parent_id}": R(D, "parent"),
    "POST /api/v1/families/parents/{parent_id}/contacts": R(D, "parent"),
    "POST /api/v1/families/parents/{parent_id}/visits-home": R(D, "parent"),
    # places (marketplace.places): the district and the street's supervisor manage them, the home's director its
    # hours and staff and activities; the street's places are read by its directors (a home of another street: 404)
    "GET /api/v1/places": R(CASE_READERS),
    "POST /api/v1/places": R({S, A}),
    "GET /api/v1/places/usage": R({S, A, U}),
    "GET /api/v1/places/{place_id}": R(CASE_READERS, "place"),
    "PATCH /api/v1/places/{place_id}": R({D, S, A}, "place"),
    "POST /api/v1/places/{place_id}/staff": R({D, S, A}, "place"),
    "POST /api/v1/places/{place_id}/staff/{staff_id}/leave": R({D, S, A}, "place_staff"),
    "GET /api/v1/places/{place_id}/activities": R(CASE_READERS, "place"),
    "POST /api/v1/places/{place_id}/activities": R({D, S}, "place"),
    "GET /api/v1/places/activities/{activity_id}": R(CASE_READERS, "place_activity"),
    # only the recorder changes an activity (a home's are its director's: the supervisor sees it, 403)
    "PATCH /api/v1/places/activities/{activity_id}": R({D}, "place_activity", special={S: (403, 404)}),
    "GET /api/v1/public/places": PUB(),
    "GET /api/v1/notifications": R(ALL),
    "POST /api/v1/notifications/{notification_id}/read": R(ALL, "notification"),
    "GET /api/v1/me/notification-preferences": R(ALL),
    "PUT /api/v1/me/notification-preferences": R(ALL),
    "POST /api/v1/me/notification-preferences/test": R(ALL),
    "GET /api/v1/messaging/deliveries": R(DISTRICT_READERS),
    # ------------------------------------------------------------------ matching, referrals
    "GET /api/v1/matching/runs": R({S, A, U}),
    "POST /api/v1/matching/runs": R({S, A}),
    "GET /api/v1/matching/runs/{run_id}": R({S, A, U}, "matching_run"),
    "POST /api/v1/matching/runs/{run_id}/referrals": R({S, A}, "matching_run", denied=403),
    "GET /api/v1/referrals": R(REFERRAL_READERS),
    "POST /api/v1/referrals": R({D, S}, special=_NEED_UNSEEN),
    "GET /api/v1/referrals/{referral_id}": R(REFERRAL_READERS, "referral"),
    "POST /api/v1/referrals/{referral_id}/accept": R(O, "referral"),
    "POST /api/v1/referrals/{referral_id}/close": R({D, S}, "referral"),
    "POST /api/v1/referrals/{referral_id}/complete": R({D, S, O}, "referral"),
    "POST /api/v1/referrals/{referral_id}/decline": R(O, "referral"),
    "GET /api/v1/referrals/{referral_id}/logs": R(REFERRAL_READERS, "referral"),
    "POST /api/v1/referrals/{referral_id}/logs": R(O, "referral"),
    "POST /api/v1/referrals/{referral_id}/revoke": R({D, S}, "referral"),
    "POST /api/v1/referrals/{referral_id}/share": R({D, S}, "referral"),
    "POST /api/v1/referrals/{referral_id}/start": R(O, "referral"),
    # ------------------------------------------------------------------ the fund
    "GET /api/v1/donations": R(FUND_READERS),
    "POST /api/v1/donations": PUB(),
    "POST /api/v1/donations/offline": R(F),
    "POST /api/v1/donations/offline/import": R(F),
    "POST /api/v1/donations/offline/import/preview": R(FUND_READERS),  # parses, writes nothing
    "GET /api/v1/donations/{donation_id}": R(FUND_READERS, "donation"),
    "POST /api/v1/donations/{donation_id}/purpose": R(F, "donation"),
    "POST /api/v1/donations/{donation_id}/refunds": R(F, "donation"),
    "GET /api/v1/donors": R(FUND_READERS),
    # A street's supervisor lists the own street's funds (issue #21); the scenario's fund is the district's
    # public-welfare fund, of no street, so the supervisor is told it does not exist.
    "GET /api/v1/funds": R(FUND_READERS | {S}),
    "POST /api/v1/funds": R({F, A}),
    "GET /api/v1/funds/{fund_id}": R(FUND_READERS, "fund", special={S: (404, 404)}),
    "GET /api/v1/funds/{fund_id}/allocations": R(FUND_READERS, "fund", special={S: (404, 404)}),
    "POST /api/v1/funds/{fund_id}/allocations": R({F, A}, "fund"),
    "GET /api/v1/funds/{fund_id}/projects": R(FUND_READERS, "fund", special={S: (404, 404)}),
    "POST /api/v1/funds/{fund_id}/projects": R({F, A}, "fund"),
    # The scenario's project is in the first street's micro-project fund (园岭), not the demo supervisor's (福田).
    "GET /api/v1/funds/projects/{project_id}": R(FUND_READERS, "fund_project", special={S: (404, 404)}),
    "POST /api/v1/funds/projects/{project_id}/approve": R({F, A}, "fund_project"),
    "POST /api/v1/funds/projects/{project_id}/reject": R({F, A}, "fund_project"),
    "POST /api/v1/funds/projects/{project_id}/start": R({F, A}, "fund_project"),
    "POST /api/v1/funds/projects/{project_id}/complete": R({F, A}, "fund_project"),
    "GET /api/v1/funds/{fund_id}/disbursements": R(FUND_READERS, "fund"),
    "POST /api/v1/funds/{fund_id}/disbursements": R(F, "fund"),
    "POST /api/v1/funds/{fund_id}/disbursements/{disbursement_id}/reverse": R(F, "disbursement"),
    "POST /api/v1/funds/{fund_id}/disclosures": R(F, "fund"),
    "GET /api/v1/funds/{fund_id}/ledger": R(FUND_READERS, "fund"),
    "GET /api/v1/public/funds": PUB(),
    "GET /api/v1/public/funds/{fund_id}": PUB("fund"),
    "GET /api/v1/public/funds/{fund_id}/disbursements": PUB("fund"),
    "GET /api/v1/public/funds/{fund_id}/disclosures": PUB("fund"),
    "GET /api/v1/public/funds/{fund_id}/donations": PUB("fund"),
    "GET /api/v1/public/funds/{fund_id}/donors": PUB("fund"),
    "GET /api/v1/reconciliations": R(FUND_READERS),
    "POST /api/v1/reconciliations": R(F),
    "GET /api/v1/reconciliations/{recon_id}": R(FUND_READERS, "recon"),
    "POST /api/v1/reconciliations/{recon_id}/differences/{n}/preview": R(F, "recon_diff"),
    "POST /api/v1/reconciliations/{recon_id}/differences/{n}/resolve": R(F, "recon_diff"),
    "GET /api/v1/statement-mappings": R(FUND_READERS),
    "POST /api/v1/statement-mappings": R(F),
    "GET /api/v1/statement-mappings/{mapping_id}": R(FUND_READERS, "mapping"),
    "PATCH /api/v1/statement-mappings/{mapping_id}": R(F, "mapping"),
    "POST /api/v1/webhooks/stripe": PUB(),
    # ------------------------------------------------------------------ reports
    "GET /api/v1/reports/allowances": R(BUDGET_READERS),
    "GET /api/v1/reports/budget-execution": R(BUDGET_READERS),
    "GET /api/v1/reports/coverage": R({D, S, A, U}),  # scoped to the caller's area
    "GET /api/v1/reports/duplicate-aid": R(BUDGET_READERS),  # names hidden from F and P
    "GET /api/v1/reports/exports": R(ALL),
    "POST /api/v1/reports/exports": R({D, S, A, U}),
    "GET /api/v1/reports/exports/{job_id}": R(ALL, "export"),
    "GET /api/v1/reports/exports/{job_id}/download": R(ALL, "export"),
    "GET /api/v1/reports/fund": R(FUND_READERS),
    "GET /api/v1/reports/overdue": R({D, S, A, U}),
    "GET /api/v1/reports/quarterly": R(CASE_READERS),  # reports.report_scope: scoped
    "GET /api/v1/reports/referrals": R({D, S, A, U}),
    "GET /api/v1/reports/street-ranking": R(CASE_READERS),
    # ------------------------------------------------------------------ the resource pool
    "GET /api/v1/communities": R(ALL),
    "GET /api/v1/streets": R(ALL),
    "GET /api/v1/taxonomy": PUB(),
    "GET /health": PUB(),
    "GET /health/live": PUB(),
    "GET /health/ready": PUB(),
    "GET /api/v1/organizations": R(ALL),
    "POST /api/v1/organizations": R(A),
    "GET /api/v1/organizations/{org_id}": R(ALL, "org", other=OK),  # approved: public
    "PATCH /api/v1/organizations/{org_id}": R({A, O}, "org"),
    "POST /api/v1/organizations/{org_id}/approve": R(A, "org"),
    "POST /api/v1/organizations/{org_id}/suspend": R(A, "org"),
    "GET /api/v1/services": R(ALL),
    "POST /api/v1/services": R({A, O}),
    "GET /api/v1/services/{service_id}": R(ALL, "service", other=OK),  # published: the pool
    "PATCH /api/v1/services/{service_id}": R({A, O}, "service"),
    "POST /api/v1/services/{service_id}/approve": R(A, "service"),
    "POST /api/v1/services/{service_id}/archive": R({A, O}, "service"),
    "POST /api/v1/services/{service_id}/pause": R({A, O}, "service"),
    "POST /api/v1/services/{service_id}/reject": R(A, "service"),
    "POST /api/v1/services/{service_id}/resume": R({A, O}, "service"),
    "POST /api/v1/services/{service_id}/submit": R(O, "service"),
    "GET /api/v1/service-revisions": R({A, O}),
    "GET /api/v1/services/{service_id}/revisions": R({A, O}, "service", denied=404, other=404),
    "POST /api/v1/services/{service_id}/revisions": R(
        O, "service", denied=404, other=404, special={A: (403, 403)}
    ),  # the district sees every service: 403
    "GET /api/v1/services/{service_id}/revisions/{revision_id}": R({A, O}, "revision"),
    "POST /api/v1/services/{service_id}/revisions/{revision_id}/approve": R(A, "revision"),
    "POST /api/v1/services/{service_id}/revisions/{revision_id}/return": R(A, "revision"),
    "POST /api/v1/services/{service_id}/revisions/{revision_id}/submit": R(O, "revision"),
    "POST /api/v1/services/{service_id}/revisions/{revision_id}/withdraw": R(O, "revision"),
    "GET /api/v1/social-workers": R(ALL),
    "POST /api/v1/social-workers": R({A, O}),
    "PATCH /api/v1/social-workers/{worker_id}": R({A, O}, "worker"),
    "GET /api/v1/volunteer-teams": R(ALL),
    "POST /api/v1/volunteer-teams": R({S, A}),
    "PATCH /api/v1/volunteer-teams/{team_id}": R({S, A}, "team"),
    # ------------------------------------------------------------------ the workforce (marketplace.workforce)
    # The org, fund and procurement roles may not read the workforce at all: 403 before any object is looked up.
    "GET /api/v1/workforce/courses": R(CASE_READERS),
    "POST /api/v1/workforce/courses": R({S, A}),
    "POST /api/v1/workforce/courses/{course_id}/attendance": R({S, A}, "workforce_course", denied=403),
    "GET /api/v1/workforce/people": R(CASE_READERS),
    "GET /api/v1/workforce/people/{user_id}": R(CASE_READERS, "workforce_person", denied=403),
    "POST /api/v1/workforce/people/{user_id}/certificates": R({D, S, A}, "workforce_person", denied=403),
    "GET /api/v1/workforce/assessments": R(CASE_READERS),
    "POST /api/v1/workforce/assessments": R({S, A}),
    "GET /api/v1/workforce/assessments/{assessment_id}": R(CASE_READERS, "workforce_assessment", denied=403),
    "POST /api/v1/workforce/assessments/{assessment_id}/self-report": R(D, "workforce_assessment", special=_WF_DENIED),
    "POST /api/v1/workforce/assessments/{assessment_id}/score": R(S, "workforce_assessment", special=_WF_DENIED),
    "POST /api/v1/workforce/assessments/{assessment_id}/confirm": R(A, "workforce_assessment", special=_WF_DENIED),
    "POST /api/v1/workforce/assessments/{assessment_id}/correct": R(A, "workforce_assessment", special=_WF_DENIED),
    # ------------------------------------------------------------------ volunteers as people (marketplace.volunteers)
    # The director manages their community's volunteers, the supervisor the street's, the district all; the auditor
    # reads; an organization reads the current members of its own teams (the demo's teams are the streets': none).
    "GET /api/v1/volunteers": R({D, S, O, A, U}),
    "POST /api/v1/volunteers": R({D, S, A}),
    "GET /api/v1/volunteers/totals": R({D, S, A, U}),
    "GET /api/v1/volunteers/{volunteer_id}": R({D, S, O, A, U}, "volunteer", special={O: (404, 404)}),
    "PATCH /api/v1/volunteers/{volunteer_id}": R({D, S, A}, "volunteer"),
    "POST /api/v1/volunteers/{volunteer_id}/memberships": R({D, S, A}, "volunteer"),
    "POST /api/v1/volunteers/memberships/{membership_id}/leave": R({D, S, A}, "volunteer_membership"),
    "GET /api/v1/volunteers/{volunteer_id}/hours": R({D, S, A, U}, "volunteer"),
    "POST /api/v1/volunteers/{volunteer_id}/hours": R({D, S, A}, "volunteer"),
    "POST /api/v1/volunteers/hours/{hours_id}/reverse": R({D, S, A}, "volunteer_hours"),
    "POST /api/v1/volunteers/{volunteer_id}/certificates": R({D, S, A}, "volunteer"),
    "GET /api/v1/volunteers/certificates/{certificate_id}": R({D, S, A, U}, "volunteer_certificate"),
    "GET /api/v1/public/volunteer-certificates/{code}": PUB(),  # an unknown code: 200, "invalid"
}


def expected(rule: Rule, role: str | None, ownership: str) -> int | str:
    """The outcome the policy gives ``role`` (None: anonymous) on its ``own`` or someone ``other``'s object."""
    key = role or "anonymous"
    if key in rule.special:
        own, other = rule.special[key]
        return own if ownership == "own" else other
    if role is None:
        return OK if rule.public else 401
    hidden = rule.kind in HIDDEN_KINDS
    if role in rule.who:
        if ownership == "own":
            return OK
        return rule.other if rule.other is not None else (404 if hidden else 403)
    if rule.denied is not None:
        return rule.denied
    if not hidden:
        return 403
    sees = ownership == "own" and role in HIDDEN_KINDS[rule.kind or ""]
    return 403 if sees else 404
