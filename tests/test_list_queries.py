"""Every paged list of the API runs as many SQL statements for a page of 50 rows as for a page of 1.

The endpoints come from the app's OpenAPI schema: every GET under /api/v1 with a ``limit`` parameter is a paged
list and must have a case below (who may read it, which path ids), so a new list endpoint fails here until it is
classified. Lists that are not paged are named, with the reason, in ``UNPAGED``. The data is the Futian demo plus
enough rows that every list has more than 50, each new row carrying everything its response shows (bids,
approvals, milestones with targets, amendments, payments, budget movements), so a per-row query cannot hide.
Statements are counted with a ``before_cursor_execute`` listener on the app's engines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select

from marketplace import clock
from marketplace.accounts.models import OrganizationApplication
from marketplace.app import create_app
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import LoginFailure, User
from marketplace.cases.models import (
    Child,
    ChildTransfer,
    Escalation,
    EscalationAction,
    MandatoryReport,
    MandatoryReportStep,
    Notification,
    Visit,
)
from marketplace.conferences.models import Conference, Decision, Participant
from marketplace.db import Database
from marketplace.families.models import ContactAlert, ParentAway, ParentContact
from marketplace.funds import service as funds
from marketplace.funds.models import Disbursement, Donation, Donor, Fund, FundProject
from marketplace.geography.models import Community
from marketplace.guardianship import instrument
from marketplace.guardianship.models import EntrustedGuardianship, GuardianshipAssessment
from marketplace.intake.models import Intake, IntakeTriage
from marketplace.matching.models import MatchingRun
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from marketplace.procurement.models import (
    Bid,
    Budget,
    BudgetAdjustment,
    BudgetLine,
    Commitment,
    Contract,
    ContractAmendment,
    Milestone,
    Payment,
    Procurement,
    ProcurementApproval,
)
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources import credit_code
from marketplace.resources.models import Organization, Service, ServiceRevision, VolunteerTeam
from marketplace.safety.models import SafetyCheck, SafetyWarning, SafetyWarningEvent
from marketplace.settings import Settings
from marketplace.volunteers.models import Hours, Volunteer
from marketplace.workforce.models import Attendance, Course
from tests.support.databases import DemoTemplate, PostgresTemplate, SqliteTemplate
from tests.support.databases import test_settings as make_settings

PASSWORD = "demo-password"
SIZES = (1, 50)
EXTRA = 55  # rows added to each list the demo keeps short


@dataclass(frozen=True)
class Case:
    user: str | None  # a demo login allowed to read the list; None for a public list
    path: dict[str, str] = field(default_factory=dict)  # path parameter -> key of the id in ``World.ids``


CASES: dict[str, Case] = {
    "listAudit": Case("admin"),
    "listChildren": Case("admin"),
    "listVisits": Case("admin", {"child_id": "child"}),
    "listNeeds": Case("admin"),
    "listOverdueVisits": Case("admin"),
    "listNotifications": Case("director"),
    "listMandatoryReports": Case("admin"),
    "listIntakes": Case("admin"),
    "listChildTransfers": Case("admin"),
    "listEscalations": Case("admin"),
    "listSafetyWarnings": Case("admin"),
    "listSafetyChecks": Case("admin", {"child_id": "child"}),
    "listConferences": Case("admin"),
    "listMyDecisions": Case("director"),
    "listAllowanceDecisions": Case("admin"),
    "listEntrustedGuardianships": Case("admin"),
    "listGuardianshipAssessments": Case("admin", {"child_id": "child"}),
    "listDisbursements": Case("fund", {"fund_id": "fund"}),
    "listFundProjects": Case("fund", {"fund_id": "micro_fund"}),
    "getFundLedger": Case("fund", {"fund_id": "fund"}),
    "listDonations": Case("fund"),
    "listDonors": Case("fund"),
    "getPublicHonourRoll": Case(None, {"fund_id": "fund"}),
    "listPublicDisbursements": Case(None, {"fund_id": "fund"}),
    "listPublicDonations": Case(None, {"fund_id": "fund"}),
    "listMatchingRuns": Case("admin"),
    "listBudgets": Case("procurement"),
    "listProcurements": Case("procurement"),
    "listContracts": Case("procurement"),
    "listReferralLogs": Case("admin", {"referral_id": "referral"}),
    "listReferrals": Case("admin"),
    "listOrganizations": Case("admin"),
    "listServices": Case("admin"),
    "listVolunteerTeams": Case("admin"),
    "listSocialWorkers": Case("admin"),
    "listUsers": Case("admin"),
    "listUserLoginFailures": Case("admin", {"user_id": "user"}),
    "listOrganizationApplications": Case("admin"),
    "listServiceRevisions": Case("admin", {"service_id": "service"}),
    "listServiceRevisionQueue": Case("admin"),
    "listChildParentContacts": Case("admin", {"child_id": "child"}),
    "listFamilyContactAlerts": Case("admin"),
    "listWorkforceCourses": Case("admin"),
    "listWorkforcePeople": Case("admin"),
    "listWorkforceAssessments": Case("admin"),
    "listPlaces": Case("admin"),
    "listPublicPlaces": Case(None),
    "listPlaceActivities": Case("admin", {"place_id": "place"}),
    "listVolunteers": Case("admin"),
    "listVolunteerHours": Case("admin", {"volunteer_id": "volunteer"}),
}

# Lists that return everything at once, and why that is bounded.
UNPAGED: dict[str, str] = {
    "listFunds": "a handful of funds; balances come from one ledger read for all of them",
    "listPublicFunds": "the district's funds (one per street and kind at most), balances from one ledger read",
    "listFundAllocations": "a micro-project fund's allocations from the district (two or three a year)",
    "listReconciliations": "the latest 100 reconciliations (a few a month), with their differences in one more query",
    "listStatementMappings": "one saved statement layout per bank the fund banks with (a handful)",
    "listStreets": "the district's 10 streets",
    "listChildParents": "one child's parents away (two, rarely more), their versions on request, in one query each",
    "listSafetyPreventions": "the ten preventions of safety.taxonomy and their items (data, no query)",
    "getSafetyCheck": "one 十防 check: its 3–5 items are the checklist's, read with the check in one query",
    "listEscalationDirectors": "the active child directors of one street (one or two per community), in one query",
    "listConferenceCandidates": "the staff of one child's circle (its directors, supervisors, district, serving orgs)",
    "listCommunities": "the district's 92 communities",
    "listReportExports": "the user's own export jobs",
    "listAllowanceStandards": "one row per allowance standard change",
    "listFestivalPlans": "a year holds one plan per festival (seven), its versions on request; lines and runs in a few queries",
    "listFestivalPlanRuns": "one festival's runs in a year: the first and its few 补发, in one query",
    "budgetLineMovements": "one budget line's whole trail (a few rows a month), read in three queries",
    "getPublicDisclosureCalendar": "three duties' periods since the fund began (eight quarters and a year a year)",
}


@dataclass(frozen=True)
class World:
    settings: Settings
    ids: dict[str, int]


# ---------------------------------------------------------------- data


async def _add_rows(settings: Settings) -> dict[str, int]:
    db = Database(settings)
    today = clock.today()
    now = clock.now()
    try:
        async with db.session() as s:
            users = {u.username: u for u in (await s.scalars(select(User))).all()}
            admin, director, officer = users["admin"].id, users["director"].id, users["procurement"].id
            fund = await funds.ensure_fund(s, code=funds.PUBLIC_WELFARE_CODE, name="福田区未成年人保护公益基金")
            micro_fund = await s.scalar(select(Fund.id).where(Fund.kind == "micro_project").order_by(Fund.id).limit(1))
            assert micro_fund is not None
            child_id = await s.scalar(select(Child.id).order_by(Child.id).limit(1))
            referral = await s.scalar(select(Referral).order_by(Referral.id).limit(1))
            assert child_id is not None and referral is not None
            street_id = await s.scalar(select(Child.street_id).where(Child.id == child_id))
            orgs = list((await s.scalars(select(Organization).where(Organization.status == "approved"))).all())
            org_ids = [o.id for o in orgs]
            staff = list((await s.scalars(select(User).where(User.organization_id.is_not(None)))).all())
            community_id = await s.scalar(select(Child.community_id).where(Child.id == child_id))
            other_community = await s.scalar(
                select(Community.id).where(Community.id != community_id).order_by(Community.id).limit(1)
            )
            # The demo keeps most children's visits up to date: make enough of them overdue to page through.
            late = (await s.scalars(select(Child.id).order_by(Child.id).limit(EXTRA))).all()
            for kid in (await s.scalars(select(Child).where(Child.id.in_(late)))).all():
                kid.next_visit_due = today - dt.timedelta(days=1)
            for i in range(EXTRA):
                # A mandatory report with everything its response shows: a linked child, the police receipt, a
                # handling step, an acknowledgement and who was told.
                report = MandatoryReport(
                    child_id=child_id,
                    community_id=community_id,
                    street_id=street_id,
                    kind="lives_alone",
                    description=f"独自在家 {i}",
                    police_notified=True,
                    police_notified_at=now,
                    police_station="福田派出所",
                    police_receipt_no=f"FT-{i:04d}",
                    reported_by=director,
                    reporter_role="child_director",
                    supervisor_ack_due_at=now,
                    district_ack_due_at=now,
                    district_ack_at=now,
                    district_ack_by=admin,
                )
                s.add(report)
                await s.flush()
                s.add(MandatoryReportStep(report_id=report.id, kind="medical", taken_at=now, recorded_by=director))
                # Its unsigned acknowledgement climbed to the street (an open step) and was acted on.
                step = Escalation(
                    entity="mandatory_report",
                    entity_id=report.id,
                    kind="report_ack",
                    level=2,
                    due_at=now,
                    child_id=child_id,
                    recipients=[],
                )
                s.add(step)
                await s.flush()
                s.add(EscalationAction(escalation_id=step.id, action="acknowledge", note=f"已阅 {i}", actor_id=admin))
                # A resolved safety warning with its history, and a superseded 十防 check of the child.
                warning = SafetyWarning(
                    child_id=child_id,
                    community_id=community_id,
                    street_id=street_id,
                    grade="yellow",
                    points=25,
                    reasons=[{"code": "risk:high", "label": "风险等级：高危", "points": 25}],
                    status="resolved",
                    ack_due_at=now,
                    acknowledged_at=now,
                    acknowledged_by=director,
                    escalated_at=now,
                    resolved_at=now,
                )
                s.add(warning)
                await s.flush()
                s.add(SafetyWarningEvent(warning_id=warning.id, child_id=child_id, kind="raised", grade="yellow"))
                s.add(
                    SafetyCheck(
                        child_id=child_id,
                        community_id=community_id,
                        street_id=street_id,
                        prevention="bullying",
                        season="2025-autumn",
                        answers={"asked_about_bullying": "missed"},
                        notes='{"asked_about_bullying": "未见到孩子"}',
                        missed=1,
                        checked_on=today - dt.timedelta(days=i),
                        checked_by=director,
                    )
                )
                # A hotline call that made the report, with its triage.
                intake = Intake(
                    channel="hotline_12355",
                    received_at=now,
                    received_by=admin,
                    recorder_role="district_admin",
                    caller_phone="13712345678",
                    what=f"来电反映独自在家 {i}",
                    community_id=community_id,
                    street_id=street_id,
                    urgency=3,
                    child_id=child_id,
                    due_at=now,
                    status="triaged",
                    outcome="mandatory_report",
                    triaged_at=now,
                    triaged_by=director,
                    report_id=report.id,
                )
                s.add(intake)
                await s.flush()
                s.add(
                    IntakeTriage(
                        intake_id=intake.id,
                        outcome="mandatory_report",
                        report_id=report.id,
                        child_id=child_id,
                        triaged_by=director,
                        triager_role="child_director",
                    )
                )
                # A transfer request of the file from its community to another one, decided or not.
                s.add(
                    ChildTransfer(
                        child_id=child_id,
                        from_community_id=community_id,
                        to_community_id=other_community,
                        status="pending" if i % 2 else "rejected",
                        reason=f"迁居 {i}",
                        requested_by=director,
                    )
                )
                s.add(
                    Notification(
                        key=f"list-queries:report:{i}",
                        recipient_id=admin,
                        kind="mandatory_report",
                        title="强制报告",
                        entity="mandatory_report",
                        entity_id=report.id,
                    )
                )
            # A parent away of the first child with a contact log and a silence a day for each of the last days.
            parent = ParentAway(
                child_id=child_id,
                relation="father",
                work_province="广东省",
                work_city="东莞市",
                frequency="weekly",
                tracked_from=today - dt.timedelta(days=200),
            )
            s.add(parent)
            await s.flush()
            parent.lineage_id = parent.id
            for i in range(EXTRA):
                day = today - dt.timedelta(days=100 + i)
                s.add(ParentContact(parent_id=parent.id, child_id=child_id, contacted_on=day, channel="phone"))
                s.add(
                    ContactAlert(
                        parent_id=parent.id,
                        child_id=child_id,
                        silent_since=day,
                        due_on=day + dt.timedelta(days=14),
                        level=1 + i % 2,
                        status="open",
                    )
                )
            for i in range(EXTRA):
                # Workforce courses, each with a director's attendance (the people and assessments: the demo's).
                course = Course(
                    title=f"业务培训{i}",
                    kind="business",
                    organizer="福田区民政局",
                    starts_on=today - dt.timedelta(days=i),
                    ends_on=today - dt.timedelta(days=i),
                    hours=4.0,
                    street_id=street_id if i % 2 else None,
                    created_by=admin,
                )
                s.add(course)
                await s.flush()
                s.add(Attendance(course_id=course.id, user_id=director, hours=4.0, passed=True))
            for i in range(EXTRA):
                # Guardianship: an assessment (with its assessor's name) and an entrusted guardianship each.
                answers = {item.code: i % (item.best + 1) for item in instrument.CURRENT.items()}
                scored = instrument.score(instrument.CURRENT, answers)
                s.add(
                    GuardianshipAssessment(
                        child_id=child_id,
                        instrument_code="GA",
                        instrument_version=1,
                        answers=answers,
                        domain_scores=scored.domains,
                        score=scored.score,
                        result=scored.result,
                        recommended="family",
                        assessed_on=today,
                        assessor_id=director,
                    )
                )
                s.add(
                    EntrustedGuardianship(
                        child_id=child_id,
                        person_name=f"受托人 {i}",
                        relationship="外祖母",
                        contact_phone="13800138000",
                        signed_on=today,
                        review_on=today + dt.timedelta(days=i),
                        status="ended" if i % 3 else "active",
                    )
                )
            for i in range(EXTRA):
                # A held conference with a participant, an outside party and an open decision the director answers.
                conference = Conference(
                    child_id=child_id,
                    community_id=community_id,
                    street_id=street_id,
                    topic=f"会商 {i}",
                    scheduled_at=now,
                    place="社区",
                    status="held",
                    minutes=f"纪要 {i}",
                    held_at=now,
                    convened_by=director,
                )
                s.add(conference)
                await s.flush()
                party = Participant(conference_id=conference.id, kind="school", name="陈老师", organisation="学校")
                s.add_all([Participant(conference_id=conference.id, user_id=director, kind="internal"), party])
                await s.flush()
                s.add(
                    Decision(
                        conference_id=conference.id,
                        child_id=child_id,
                        text=f"决定 {i}",
                        owner_party_id=party.id,
                        responsible_id=director,
                        due_on=today,
                    )
                )
            for i in range(EXTRA):
                s.add(AuditEntry(user_id=admin, username="admin", role="district_admin", action="read", entity="child"))
                s.add(
                    Visit(
                        child_id=child_id,
                        visited_on=today - dt.timedelta(days=i),
                        kind="home",
                        next_visit_due=today + dt.timedelta(days=30),
                        created_by=staff[i % len(staff)].id if staff else None,
                    )
                )
                s.add(
                    Notification(
                        key=f"list-queries:{i}",
                        recipient_id=director,
                        kind="referral.answered",
                        title=f"通知 {i}",
                        entity="referral",
                        entity_id=referral.id,
                    )
                )
                s.add(
                    Disbursement(
                        fund_id=fund.id, amount_fen=100 + i, purpose="unrestricted", memo=f"拨付 {i}", paid_on=today
                    )
                )
                s.add(
                    FundProject(
                        fund_id=micro_fund,
                        title=f"儿童微项目 {i}",
                        category="education_aid",
                        requested_fen=10_000 + i,
                        approved_fen=10_000 + i,
                        status="approved",
                    )
                )
                donor = Donor(name=f"爱心人士{i:02d}", kind="individual", consent_to_name=True)
                s.add(donor)
                await s.flush()
                s.add(
                    Donation(
                        fund_id=fund.id,
                        donor_id=donor.id,
                        amount_fen=10_000 + i,
                        channel="bank_transfer",
                        status="succeeded",
                        received_on=today,
                    )
                )
                s.add(
                    MatchingRun(
                        street_id=street_id,
                        created_by=admin,
                        month=today.strftime("%Y-%m"),
                        needs_count=1,
                        services_count=1,
                        total_score=1.0,
                        optimal=True,
                        duration_ms=1,
                    )
                )
                s.add(
                    ReferralLog(
                        referral_id=referral.id,
                        delivered_on=today - dt.timedelta(days=i % 20),
                        minutes=60,
                        note=f"服务记录 {i}",
                    )
                )
                s.add(
                    Organization(
                        name=f"深圳市福田区测试社会服务中心{i:02d}",
                        kind="social_work_agency",
                        credit_code=credit_code.make("5", "3", "440304", f"9{i:07d}"),
                        contact_name="测试",
                        contact_phone="13800000000",
                        status="approved",
                        approved_at=now,
                    )
                )
                s.add(VolunteerTeam(street_id=street_id, name=f"测试志愿队{i:02d}", member_count=10))
                s.add(LoginFailure(username="director", address=f"10.0.0.{i}", reason="password", at=now))
                s.add(
                    OrganizationApplication(
                        name=f"深圳市福田区申请中心{i:02d}",
                        credit_code=credit_code.make("5", "3", "440304", f"8{i:07d}"),
                        legal_representative="测试",
                        contact_name="测试",
                        contact_phone="13800000000",
                        street_ids=[street_id],
                        qualifications="登记证书与服务经验说明。",
                    )
                )
            await s.flush()
            # A published service's revision history (the last one waiting), each with its diff.
            service_id = await s.scalar(select(Service.id).where(Service.status == "published").order_by(Service.id))
            assert service_id is not None
            for i in range(EXTRA):
                s.add(
                    ServiceRevision(
                        service_id=service_id,
                        status="pending_review" if i == EXTRA - 1 else "withdrawn",
                        changes={"title": f"修改后的名称{i:02d}", "capacity_per_month": 30 + i},
                        previous={"title": "原名称", "capacity_per_month": 10},
                        reason="",
                        created_by=admin,
                        submitted_at=now,
                        decided_at=None if i == EXTRA - 1 else now,
                    )
                )
            await s.flush()
            place_id = await _add_places(s, child_id, today, director)
            await _add_procurement(s, today, officer, admin, org_ids)
            # A volunteer with a day's hours at a time for EXTRA days, on the demo's referral.
            volunteer = await s.scalar(select(Volunteer).order_by(Volunteer.id).limit(1))
            assert volunteer is not None
            volunteer.registered_on = today - dt.timedelta(days=EXTRA + 5)
            s.add_all(
                Hours(
                    volunteer_id=volunteer.id,
                    referral_id=referral.id,
                    street_id=volunteer.street_id,
                    served_on=today - dt.timedelta(days=i + 1),
                    minutes=60,
                    task="陪伴学习",
                )
                for i in range(EXTRA)
            )
            await s.flush()
            return {
                "place": place_id,
                "volunteer": volunteer.id,
                "child": child_id,
                "fund": fund.id,
                "micro_fund": micro_fund,
                "referral": referral.id,
                "user": director,
                "service": service_id,
            }
    finally:
        await db.dispose()


async def _add_places(s: Any, child_id: int, today: dt.date, director: int) -> int:
    """Children's homes enough to page (each with a person on duty) and, at the first, activities each naming the
    child."""
    child = await s.get(Child, child_id)
    homes = [
        Place(
            kind="children_home",
            street_id=child.street_id,
            community_id=child.community_id,
            name=f"分页测试儿童之家{i:02d}",
            address="福田区",
            opening_hours="周六 9:00-12:00",
            facilities=["reading_corner"],
            phone="0755-83000000",
            active=True,
            note="",
        )
        for i in range(EXTRA)
    ]
    s.add_all(homes)
    await s.flush()
    s.add_all([PlaceStaff(place_id=h.id, name="值班志愿者", role="volunteer", duty="周六") for h in homes])
    activities = [
        Activity(
            place_id=homes[0].id,
            held_on=today - dt.timedelta(days=i % 60),
            kind="reading",
            title=f"阅读分享会{i:02d}",
            minutes=60,
            counts={"children": {"left_behind": 1, "other": 3}, "on_file": 1, "other_children": 3},
            children_total=4,
            volunteers_total=1,
            recorded_by=director,
        )
        for i in range(EXTRA)
    ]
    s.add_all(activities)
    await s.flush()
    s.add_all([ActivityChild(activity_id=a.id, child_id=child_id) for a in activities])
    await s.flush()
    return int(homes[0].id)


async def _add_procurement(s: Any, today: dt.date, officer: int, admin: int, org_ids: list[int]) -> None:
    """Budgets with moved, committed and paid lines; procurements with two bids and an approval; contracts with
    three targeted milestones (one accepted and paid), an amendment and payments."""
    year = today.year
    for i in range(EXTRA):
        budget = Budget(name=f"测试预算 {i:02d}", fiscal_year=year, total_fen=3_000_000, created_by=officer)
        s.add(budget)
        await s.flush()
        lines = [
            BudgetLine(budget_id=budget.id, code=code, name=code, original_fen=1_000_000)
            for code in ("purchase_services", "living_allowance", "training")
        ]
        s.add_all(lines)
        await s.flush()
        s.add(
            BudgetAdjustment(
                budget_id=budget.id,
                from_line_id=lines[2].id,
                to_line_id=lines[0].id,
                amount_fen=100_000,
                document_no=f"调{i}",
                created_by=officer,
            )
        )
        org_a, org_b = org_ids[i % len(org_ids)], org_ids[(i + 1) % len(org_ids)]
        p = Procurement(
            budget_line_id=lines[0].id,
            fiscal_year=year,
            title=f"测试采购 {i:02d}",
            method="competitive_negotiation",
            estimated_fen=500_000,
            service_categories=["psychological_support"],
            status="contracted",
            findings=[{"code": "split_purchase", "severity": "warn", "message": "提示"}],
            awarded_on=today - dt.timedelta(days=40),
            publicity_ends_on=today - dt.timedelta(days=39),
            created_by=officer,
        )
        s.add(p)
        await s.flush()
        bids = [
            Bid(procurement_id=p.id, organization_id=org_a, price_fen=450_000, technical_score=90),
            Bid(procurement_id=p.id, organization_id=org_b, price_fen=480_000, technical_score=85),
        ]
        s.add_all(bids)
        s.add(ProcurementApproval(procurement_id=p.id, document_no=f"审{i}", approved_by=admin))
        await s.flush()
        p.awarded_bid_id = bids[0].id
        c = Contract(
            procurement_id=p.id,
            budget_line_id=lines[0].id,
            organization_id=org_a,
            title=p.title,
            amount_fen=450_000,
            starts_on=today - dt.timedelta(days=30),
            ends_on=today + dt.timedelta(days=300),
            signed_on=today - dt.timedelta(days=31),
            created_by=officer,
        )
        s.add(c)
        await s.flush()
        milestones = [
            Milestone(
                contract_id=c.id,
                seq=n + 1,
                name=f"节点 {n + 1}",
                kind="delivery",
                due_on=today + dt.timedelta(days=30 * (n + 1)),
                amount_fen=100_000,
                target_metric=metric,
                target_quantity=5,
                status="pending",
            )
            for n, metric in enumerate(("completed_referrals", "service_logs", "home_visits", "home_visits"))
        ]
        milestones[3].status = "accepted"
        milestones[3].accepted_on = today - dt.timedelta(days=1)
        milestones[3].measured_quantity = 6
        s.add_all(milestones)
        await s.flush()
        s.add(ContractAmendment(contract_id=c.id, delta_fen=20_000, reason="追加", created_by=officer))
        s.add(Commitment(line_id=lines[0].id, kind="contract", contract_id=c.id, amount_fen=470_000))
        for amount in (40_000, 60_000):
            s.add(
                Payment(
                    line_id=lines[0].id,
                    kind="contract",
                    contract_id=c.id,
                    milestone_id=milestones[3].id,
                    amount_fen=amount,
                    paid_on=today,
                )
            )
    await s.flush()


@pytest.fixture(scope="module")
def world(
    db_template: SqliteTemplate | PostgresTemplate,
    demo_template: DemoTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("list-queries")
    settings = demo_template.new_settings(tmp)
    url = settings.database_url
    ids = asyncio.run(_add_rows(settings))
    yield World(settings, ids)
    if isinstance(db_template, PostgresTemplate):
        db_template.drop(url)


# ---------------------------------------------------------------- the schema


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("schema")
    return create_app(make_settings(f"sqlite:///{tmp}/unused.db", tmp)).openapi_schema.to_schema()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _lists(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The GET operations under /api/v1 that take a page (``limit``), and those that return a list unpaged."""
    paged, unpaged = set(), set()
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None or not path.startswith("/api/v1/"):
            continue
        names = {p["name"] for p in op.get("parameters", [])}
        if "limit" in names:
            paged.add(op["operationId"])
            continue
        content = op.get("responses", {}).get("200", {}).get("content", {})
        body = _resolve(schema, next(iter(content.values()), {}).get("schema", {}))
        items = _resolve(schema, body.get("properties", {}).get("items", {}))
        # An untyped response (dict[str, Any]) shows no array: a list is then known by its name.
        if body.get("type") == "array" or items.get("type") == "array" or op["operationId"].startswith("list"):
            unpaged.add(op["operationId"])
    return paged, unpaged


def test_every_list_endpoint_is_classified(schema: dict[str, Any]) -> None:
    paged, unpaged = _lists(schema)
    assert paged - set(CASES) == set(), "paged list endpoints with no case in tests/test_list_queries.py"
    assert set(CASES) - paged == set(), "cases for endpoints that are no longer paged lists"
    assert unpaged - set(UNPAGED) == set(), "list endpoints without paging: page them or say why in UNPAGED"
    assert set(UNPAGED) - unpaged == set()


# ---------------------------------------------------------------- counting


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append(statement)

    engines = {id(e.sync_engine): e.sync_engine for e in (db.engine, db.read_engine)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", on_execute)


def _path(schema: dict[str, Any], operation: str) -> str:
    found = [path for path, item in schema["paths"].items() if item.get("get", {}).get("operationId") == operation]
    assert len(found) == 1, f"{operation} is not a GET of the API"
    return found[0]


@pytest.mark.parametrize("operation", sorted(CASES))
async def test_list_runs_the_same_statements_for_1_and_50_rows(
    operation: str, world: World, schema: dict[str, Any]
) -> None:
    case = CASES[operation]
    url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(world.ids[case.path[m.group(1)]]), _path(schema, operation))
    app = create_app(world.settings)
    async with AsyncTestClient(app=app) as client:
        headers = {}
        if case.user is not None:
            login = await client.post("/api/v1/auth/login", json={"username": case.user, "password": PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        await client.get(url, params={"limit": 1}, headers=headers)  # warm-up: first-use work is not per row
        counts: dict[int, list[str]] = {}
        for size in SIZES:
            with counting(app.state.db) as seen:
                r = await client.get(url, params={"limit": size}, headers=headers)
            assert r.status_code == 200, (operation, r.text)
            body = r.json()
            assert len(body["items"]) == size, f"{operation}: fewer than {size} rows to page through"
            if "total" in body:
                assert body["total"] > max(SIZES)
            counts[size] = list(seen)
    small, large = (counts[n] for n in SIZES)
    assert len(small) == len(large), (
        f"{operation}: {len(small)} statements for 1 row, {len(large)} for 50:\n" + "\n---\n".join(large)
    )
