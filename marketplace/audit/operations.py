"""Which operations touch children's data, and the rows the app writes for them when the work itself wrote none.

Every API operation (by its ``operationId``) and console page (by its route name) that reads or writes a child, a
need, a visit, a referral (its logs included), a case, a mandatory report, an allowance decision or a child's file
transfer is listed in :data:`CHILD_DATA` with the entity it concerns and the path parameter naming the record.
The services audit what they show and change, field by field (``audit.record`` / ``record_read``); the app
(``marketplace.app.provide_session``) adds one row for such an operation that left none, in the same transaction
for a write and through the group-commit writer for a read, and one ``refused`` row, committed after the rollback,
for every attempt refused with 403 or 404 (another scope's child, a role that may not), and for every attempt
refused with 401 (no token, a bad or expired one: :func:`record_anonymous_refusal`, a row without an actor,
``user_id`` null, username and role ``anonymous``).

``tests/audit/test_operations.py`` enumerates the OpenAPI schema: every operation under a child-data path is either
here or in :data:`NOT_CHILD_DATA` with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.audit.writer import AuditWriter
from marketplace.auth.principal import Principal
from marketplace.ids import MAX_ID

log = logging.getLogger("marketplace.audit")


@dataclass(frozen=True)
class Operation:
    entity: str
    param: str | None = None  # the path parameter holding the record's id


def _ops(entity: str, param: str | None, *keys: str) -> dict[str, Operation]:
    return {key: Operation(entity, param) for key in keys}


CHILD_DATA: Final[dict[str, Operation]] = {
    # the API
    **_ops("child", None, "listChildren", "createChild", "listOverdueVisits", "handover"),
    **_ops(
        "child",
        "child_id",
        "getChild",
        "updateChild",
        "revealChildContact",
        "getChildTimeline",
        "listVisits",
        "getAllowancePayee",
        "setAllowancePayee",
    ),
    **_ops("need", "child_id", "createNeed"),
    **_ops("visit", "child_id", "createVisit"),
    **_ops("report", "child_id", "createMandatoryReport"),
    **_ops("allowance_decision", "child_id", "proposeAllowanceDecision"),
    **_ops("need", None, "listNeeds"),
    **_ops("need", "need_id", "getNeed", "updateNeed", "matchNeed"),
    **_ops("referral", None, "listReferrals", "sendReferral"),
    **_ops(
        "referral",
        "referral_id",
        "getReferral",
        "acceptReferral",
        "closeReferral",
        "completeReferral",
        "declineReferral",
        "listReferralLogs",
        "addReferralLog",
        "revokeReferral",
        "shareReferralContact",
        "startReferral",
    ),
    **_ops("report", None, "listMandatoryReports", "makeMandatoryReport"),
    **_ops(
        "report",
        "report_id",
        "getMandatoryReport",
        "acknowledgeMandatoryReport",
        "closeMandatoryReport",
        "linkMandatoryReport",
        "recordReportPolice",
        "addReportStep",
    ),
    **_ops("intake", None, "listIntakes", "createIntake"),
    **_ops("intake", "intake_id", "getIntake", "triageIntake"),
    **_ops("allowance_decision", None, "listAllowanceDecisions"),
    **_ops(
        "allowance_decision",
        "decision_id",
        "getAllowanceDecision",
        "decideAllowanceDecision",
        "reviewAllowanceDecision",
    ),
    **_ops("child_transfer", None, "listChildTransfers", "requestChildTransfer"),
    **_ops(
        "child_transfer",
        "transfer_id",
        "getChildTransfer",
        "approveChildTransfer",
        "cancelChildTransfer",
        "rejectChildTransfer",
    ),
    **_ops("escalation", None, "listEscalations"),
    **_ops(
        "escalation",
        "escalation_id",
        "getEscalation",
        "acknowledgeEscalation",
        "reassignEscalation",
        "remindEscalation",
    ),
    # guardianship (marketplace.guardianship)
    **_ops(
        "child",
        "child_id",
        "getChildGuardianship",
        "createGuardianshipAssessment",
        "listGuardianshipAssessments",
        "createEntrustedGuardianship",
        "createTemporaryGuardianship",
        "createLongTermGuardianship",
    ),
    **_ops("guardianship_assessment", "assessment_id", "getGuardianshipAssessment"),
    **_ops("entrusted_guardianship", None, "listEntrustedGuardianships"),
    **_ops("entrusted_guardianship", "entrusted_id", "renewEntrustedGuardianship", "endEntrustedGuardianship"),
    **_ops("temporary_guardianship", "temporary_id", "endTemporaryGuardianship"),
    # 十防 safety checks and graded warnings (marketplace.safety)
    **_ops("child", "child_id", "listSafetyChecks"),
    **_ops("safety_check", "child_id", "createSafetyCheck"),
    **_ops("safety_check", "check_id", "getSafetyCheck"),
    **_ops("safety_warning", None, "listSafetyWarnings"),
    **_ops("safety_warning", "warning_id", "getSafetyWarning", "acknowledgeSafetyWarning", "addSafetyWarningAction"),
    # left-behind children's parents away (marketplace.families)
    **_ops("child", "child_id", "listChildParents", "listChildParentContacts"),
    **_ops("families_parent", "child_id", "createChildParent"),
    **_ops("families_parent", "parent_id", "reviseChildParent", "recordParentContact", "recordParentVisitHome"),
    **_ops("families_alert", None, "listFamilyContactAlerts"),
    # places (marketplace.places): the activities name the children on file who took part
    **_ops("place", "place_id", "listPlaceActivities", "recordPlaceActivity"),
    **_ops("place_activity", "activity_id", "getPlaceActivity", "updatePlaceActivity"),
    # case conferences (conferences): the conference, its minutes and decisions name and describe the child
    **_ops("child", "child_id", "conveneConference"),
    **_ops("conference", None, "listConferences", "listMyDecisions"),
    **_ops(
        "conference", "conference_id", "getConference", "holdConference", "addConferenceDecision", "cancelConference"
    ),
    **_ops(
        "conference_decision",
        "decision_id",
        "completeConferenceDecision",
        "cancelConferenceDecision",
        "reviseConferenceDecision",
    ),
    **_ops("conference", None, "console-conferences", "console-conference-new"),
    **_ops("child", "child_id", "console-conference-convene"),
    **_ops(
        "conference",
        "conference_id",
        "console-conference",
        "console-conference-held",
        "console-conference-decision",
        "console-conference-cancel",
    ),
    **_ops(
        "conference_decision",
        "decision_id",
        "console-conference-decision-done",
        "console-conference-decision-cancel",
        "console-conference-decision-revise",
    ),
    # the payees and accounts of a month's allowances, child by child
    **_ops("allowance_run", "run_id", "getAllowanceBankFile", "console-allowance-bank-file", "getAllowanceRunList"),
    **_ops("allowance_run", "run_id", "console-allowance-run-list"),
    **_ops("matching_run", None, "runMatching", "listMatchingRuns"),
    **_ops("matching_run", "run_id", "getMatchingRun", "dispatchMatchingRun"),
    # the console
    **_ops("families_alert", None, "console-families"),
    **_ops("families_parent", "child_id", "console-families-parent"),
    **_ops("families_parent", "parent_id", "console-families-contact"),
    **_ops("child", None, "console-children", "console-cases", "console-child-create", "console-handover-post"),
    **_ops("child", "child_id", "console-child", "console-child-consent", "console-child-contact"),
    **_ops("visit", "child_id", "console-child-visit"),
    **_ops("need", "child_id", "console-child-need"),
    **_ops("need", "need_id", "console-need-matches", "console-need-refer"),
    **_ops("referral", None, "console-referrals", "console-referral-inbox"),
    **_ops(
        "referral",
        "referral_id",
        "console-referral-follow",
        "console-referral-verdict",
        "console-referral-inbox-action",
        "console-referral-accept",
        "console-referral-decline",
        "console-referral-close",
    ),
    **_ops("report", None, "console-mandatory-reports", "console-report-create"),
    **_ops("report", "report_id", "console-mandatory-report-acknowledge"),
    **_ops("intake", None, "console-intakes", "console-intake-create"),
    **_ops("intake", "intake_id", "console-intake", "console-intake-triage"),
    **_ops("allowance_decision", "decision_id", "console-allowance-decide", "console-street-review"),
    **_ops("child_transfer", "transfer_id", "console-street-transfer-approve", "console-street-transfer-reject"),
    **_ops("entrusted_guardianship", None, "console-guardianship"),
    **_ops(
        "child",
        "child_id",
        "console-child-guardianship",
        "console-guardianship-entrust",
        "console-guardianship-temporary",
        "console-guardianship-long-term",
        "console-guardianship-assess-form",
        "console-guardianship-assess",
    ),
    **_ops("entrusted_guardianship", "entrusted_id", "console-guardianship-renew", "console-guardianship-end"),
    **_ops("temporary_guardianship", "temporary_id", "console-guardianship-temporary-end"),
    **_ops("guardianship_assessment", "assessment_id", "console-guardianship-assessment"),
    **_ops(
        "escalation",
        "escalation_id",
        "console-street-escalation-act",
        "console-street-escalation-acknowledge",
        "console-street-escalation-remind",
        "console-street-escalation-reassign",
    ),
    **_ops("safety_warning", None, "console-safety"),
    **_ops(
        "safety_warning", "warning_id", "console-safety-warning", "console-safety-acknowledge", "console-safety-action"
    ),
    **_ops("safety_check", "child_id", "console-safety-check-form", "console-safety-check"),
    **_ops("place", "place_id", "console-place", "console-place-activity-new", "console-place-activity"),
    **_ops("place_activity", "activity_id", "console-place-activity-edit", "console-place-activity-update"),
}

# Operations under the same paths that show or change no child's data, and why.
NOT_CHILD_DATA: Final[dict[str, str]] = {
    "getGuardianshipInstrument": "the guardianship assessment instrument: items, scales and bands, no child",
    "listSafetyPreventions": "the ten preventions' checklists and seasons: the district's reference data, no child",
    "listEscalationDirectors": "the directors a referral's escalation may go to: staff, no child",
    "listConferenceCandidates": "the staff accounts a child's conference may invite: staff, no child",
    "listAllowanceStandards": "the district's allowance amounts per category",
    "addAllowanceStandard": "the district's allowance amounts per category",
    "runAllowances": "a monthly payment run: totals per payee (its decisions are audited when read)",
    "getAllowanceRun": "a monthly payment run: totals per payee",
    "payAllowanceRun": "a monthly payment run's state",
    "signOffAllowanceRun": "a monthly payment run's state",
    "withdrawAllowanceRun": "a monthly payment run's state",
    "prepareAllowanceRun": "a payment run prepared in the background: its kind, month and budget line",
    "getAllowanceRunProgress": "a payment run's preparation: steps done of steps total",
    "listFestivalPlans": "festival plans: amounts per child category and the line's figures, no child",
    "getFestivalPlan": "a festival plan: amounts per child category and the line's figures, no child",
    "createFestivalPlan": "a festival plan: amounts per child category, no child",
    "updateFestivalPlan": "a festival plan: amounts per child category, no child",
    "versionFestivalPlan": "a festival plan's new version: amounts per child category, no child",
    "listFestivalPlanRuns": "a festival's runs: titles, states, counts and totals, no child",
    "runFestivalPlan": "a festival run prepared: counts and totals (its list is audited when read)",
    "getNotificationPreferences": "the caller's own email/SMS preferences: no child",
    "putNotificationPreferences": "the caller's own email/SMS preferences: no child",
    "sendTestNotification": "a test message to the caller: no child",
    "getDeliveryStats": "delivery counts and failure codes: no message body, no child",
    "console-account-notifications": "the caller's own email/SMS preferences: no child",
    "console-account-notifications-post": "the caller's own email/SMS preferences: no child",
    "console-account-notifications-test": "a test message to the caller: no child",
    "console-messaging": "delivery counts and failure codes: no message body, no child",
    "listPlaces": "stations and children's homes, their staff on duty and activity counts: no child",
    "createPlace": "a station or a children's home: no child",
    "getPlace": "a station or a children's home, its staff on duty: no child",
    "updatePlace": "a station or a children's home: no child",
    "addPlaceStaff": "a person on duty at a place: no child",
    "placeStaffLeaves": "a person on duty at a place: no child",
    "getPlaceUsage": "counts per street and quarter: no child named",
}

REFUSED_STATUSES: Final = frozenset({403, 404})


def operation_of(key: str | None) -> Operation | None:
    return CHILD_DATA.get(key) if key else None


def _entity_id(op: Operation, path_params: Mapping[str, Any]) -> int | None:
    value = path_params.get(op.param) if op.param else None
    # An id past the database's integer range (a refused attempt's path) names no record.
    in_range = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
    return value if in_range else None


# POSTs on a parent's path that create a record of their own (the rest of the POSTs with an id change that record).
CREATES: Final = frozenset(
    {
        "createNeed",
        "createVisit",
        "createMandatoryReport",
        "proposeAllowanceDecision",
        "addReferralLog",
        "addReportStep",
        "console-child-visit",
        "console-child-need",
        "createSafetyCheck",
        "console-safety-check",
        "createChildParent",
        "recordParentContact",
        "recordParentVisitHome",
        "reviseChildParent",
        "console-families-parent",
        "console-families-contact",
        "conveneConference",
        "addConferenceDecision",
        "console-conference-convene",
        "console-conference-decision",
        "recordPlaceActivity",
        "console-place-activity",
    }
)


def action_of(method: str, key: str, op: Operation) -> str:
    if method in ("GET", "HEAD"):
        return "read" if op.param else "list"
    if method in ("PATCH", "PUT"):
        return "update"
    return "update" if op.param and key not in CREATES else "create"


def fallback_rows(
    principal: Principal | None, method: str, key: str, op: Operation, path_params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The row for a child-data operation whose work wrote none."""
    return audit.rows_for(
        principal, action_of(method, key, op), op.entity, [_entity_id(op, path_params)], (), {"operation": key}
    )


def refused_rows(
    principal: Principal | None, method: str, key: str, op: Operation, path_params: Mapping[str, Any], status: int
) -> list[dict[str, Any]]:
    """The row of an attempt refused with ``status`` (nothing was shown or changed)."""
    return audit.rows_for(
        principal,
        "refused",
        op.entity,
        [_entity_id(op, path_params)],
        (),
        {"operation": key, "method": method, "status": status},
    )


REFUSED_KEY: Final = "audit_refused"


def note_refusal(session: AsyncSession, status: int) -> None:
    """A console form refused (its work undone, the page shown again with ``status``): the request gets a
    ``refused`` row for a 403/404 and no row of the work it did not do (see :func:`ensure_audited`)."""
    session.info[REFUSED_KEY] = status


async def ensure_audited(
    session: AsyncSession,
    principal: Principal | None,
    method: str,
    key: str | None,
    path_params: Mapping[str, Any],
) -> None:
    """After a child-data operation's work, before its transaction ends: its row, if the work wrote none; for a
    refused console form, its ``refused`` row (403/404) or nothing (invalid input: nothing was shown or changed)."""
    op = operation_of(key)
    refused = session.info.pop(REFUSED_KEY, None)
    if op is None or key is None:
        return
    if refused is not None:
        if refused in REFUSED_STATUSES and principal is not None:
            await audit.record_rows(session, refused_rows(principal, method, key, op, path_params, refused))
        return
    if not audit.audited(session):
        await audit.record_rows(session, fallback_rows(principal, method, key, op, path_params))


ANONYMOUS: Final = "anonymous"


async def record_anonymous_refusal(
    writer: AuditWriter, method: str, key: str | None, path_params: Mapping[str, Any], status: int = 401
) -> None:
    """A child-data operation refused before anyone was known (no bearer token, a bad, expired or revoked one:
    401): its ``refused`` row, without an actor, committed on its own by the group-commit writer."""
    op = operation_of(key)
    if op is None or key is None:
        return
    rows = refused_rows(None, method, key, op, path_params, status)
    for row in rows:
        row["username"], row["role"] = ANONYMOUS, ANONYMOUS
    try:
        await writer.append(rows)
    except Exception:  # the refusal stands either way; the writer has logged why its commit failed
        log.warning("the anonymous refused attempt on %s %s could not be audited", key, dict(path_params))


async def record_refusal(
    writer: AuditWriter,
    principal: Principal | None,
    method: str,
    key: str | None,
    path_params: Mapping[str, Any],
    exc: BaseException,
) -> None:
    """After the refused request's rollback: its ``refused`` row, committed on its own (by the group-commit
    writer). A signed-in caller only: an anonymous one never reaches a child's record."""
    status = getattr(exc, "status_code", None)
    op = operation_of(key)
    if op is None or key is None or principal is None or status not in REFUSED_STATUSES:
        return
    try:
        await writer.append(refused_rows(principal, method, key, op, path_params, int(status)))
    except Exception:  # the refusal stands either way; the writer has logged why its commit failed
        log.warning("the refused attempt on %s %s could not be audited", key, dict(path_params))
