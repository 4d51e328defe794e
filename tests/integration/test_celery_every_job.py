"""Every background job on the real Celery worker (issue #17: "only two tests use the real Celery worker").

One worker process on Redis and the test's database runs every task the worker defines and every job the features
register (``marketplace.tasks.JOBS``). Each job is sent the way the beat sends it (its beat entry's task and job
name, through the broker, by the app's own Celery client); the outbox's per-event task is sent by the app itself
after an API call. Each has something to do, prepared in the database beforehand, and its effect is checked there.
A job or task that is registered without a case here fails the test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe
from celery import Celery
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from marketplace import clock, outbox, tasks
from marketplace.app import create_app
from marketplace.audit.models import ChainVerification
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.cases.models import Child, Escalation, MandatoryReport, Need, Notification
from marketplace.conferences.models import Conference, Decision
from marketplace.db import Database
from marketplace.families.models import ContactAlert, ParentAway
from marketplace.features import load_jobs
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds.channels import StripeChannel
from marketplace.funds.models import Donation, Reconciliation
from marketplace.guardianship.models import EntrustedGuardianship
from marketplace.idempotency.models import IdempotencyKey
from marketplace.intake.models import Intake
from marketplace.messaging.models import Delivery, NotificationPreference
from marketplace.outbox import OutboxEvent
from marketplace.procurement import service as procurement
from marketplace.procurement.allowance_models import AllowanceRun
from marketplace.procurement.schemas import BudgetIn, BudgetLineIn
from marketplace.referrals.models import Referral
from marketplace.reports.models import ExportJob
from marketplace.safety.models import SafetyWarning
from marketplace.settings import Settings
from marketplace.workforce.models import Certificate
from tests.cases.support import Cases, add_child, cases
from tests.integration.conftest_jobs import STRIPE_KEY, broker_client, job_mailbox, job_worker, jobs_settings
from tests.integration.conftest_stripe import localstripe
from tests.support import figures
from tests.support.world import PASSWORD, World
from workers import tasks as worker_tasks
from workers.beat import BEAT_SCHEDULE
from workers.celery_app import app as worker_app

pytestmark = pytest.mark.integration
__all__ = ["broker_client", "cases", "job_mailbox", "job_worker", "jobs_settings", "localstripe"]

SUITE = "Real services"
H = dt.timedelta(hours=1)


@dataclass
class Ctx:
    db: Database
    settings: Settings
    world: World
    cases: Cases
    localstripe: str
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)


Step = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class JobCase:
    prepare: Step  # something for the job to do
    done: Step  # its effect, read from the database (truthy once there)


# ---------------------------------------------------------------- the jobs' cases


async def _referral_prepare(c: Ctx) -> None:
    rid = c.cases.referrals["A"]
    async with c.db.session() as s:
        r = await s.get(Referral, rid)
        assert r is not None
        need = await s.get(Need, r.need_id)
        assert need is not None
        need.urgency = 1
        r.sent_at = clock.now() - 30 * 24 * H  # unanswered for a month: every step of the ladder is due
    c.facts["referral"] = rid


async def _referral_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        levels = (
            await s.scalars(
                select(Escalation.level).where(
                    Escalation.entity == "referral", Escalation.entity_id == c.facts["referral"]
                )
            )
        ).all()
        level = await s.scalar(select(Referral.escalation_level).where(Referral.id == c.facts["referral"]))
    return sorted(levels) == [1, 2, 3] and level == 3


async def _report_prepare(c: Ctx) -> None:
    child = c.cases.children["A"]
    async with c.db.session() as s:
        kid = await s.get(Child, child)
        assert kid is not None
        report = MandatoryReport(
            child_id=kid.id,
            community_id=kid.community_id,
            street_id=kid.street_id,
            kind="alone",
            description="独自在家多日",
            supervisor_ack_due_at=clock.now() - 3 * H,
            district_ack_due_at=clock.now() + 9 * H,
        )
        s.add(report)
        await s.flush()
        c.facts["report"] = report.id


async def _report_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return bool(
            await s.scalar(
                select(func.count()).where(
                    Escalation.entity == "mandatory_report",
                    Escalation.entity_id == c.facts["report"],
                    Escalation.kind == "report_ack",
                    Escalation.level == 2,
                )
            )
        )


async def _intake_prepare(c: Ctx) -> None:
    """A 特急 call taken three hours ago and not triaged (its deadline was two hours)."""
    async with c.db.session() as s:
        intake = Intake(
            channel="hotline_12355",
            received_at=clock.now() - 3 * H,
            community_id=c.world.communities[0],
            street_id=c.world.streets[0],
            urgency=4,
            what="来电称有儿童独自在家",
            place="福山社区",
            subject_description="女孩，约6岁",
            due_at=clock.now() - H,
            status="new",
        )
        s.add(intake)
        await s.flush()
        c.facts["intake"] = intake.id


async def _intake_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        intake = await s.get(Intake, c.facts["intake"])
        return intake is not None and intake.escalated_at is not None


async def _visits_prepare(c: Ctx) -> None:
    child = c.cases.children["B"]
    async with c.db.session() as s:
        kid = await s.get(Child, child)
        assert kid is not None
        kid.next_visit_due = clock.today() - dt.timedelta(days=3)
        c.facts["visit"] = (child, f"visit_due:{kid.next_visit_due.isoformat()}")


async def _visits_done(c: Ctx) -> bool:
    child, entity = c.facts["visit"]
    async with c.db.session(write=False) as s:
        return bool(
            await s.scalar(
                select(func.count()).where(
                    Escalation.entity == entity, Escalation.entity_id == child, Escalation.level == 1
                )
            )
        )


async def _guardianship_prepare(c: Ctx) -> None:
    """An entrusted guardianship whose review date passed yesterday: the job marks it lapsed."""
    review_on = clock.today() - dt.timedelta(days=1)
    async with c.db.session() as s:
        e = EntrustedGuardianship(
            child_id=c.cases.children["A"],
            person_name="陈秀英",
            relationship="外祖母",
            contact_phone="13800138000",
            signed_on=review_on - dt.timedelta(days=365),
            review_on=review_on,
            status="active",
        )
        s.add(e)
        await s.flush()
        c.facts["entrusted"] = e.id


async def _guardianship_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return await s.scalar(
            select(EntrustedGuardianship.status).where(EntrustedGuardianship.id == c.facts["entrusted"])
        ) == "lapsed"


async def _safety_prepare(c: Ctx) -> None:
    child = c.cases.children["C"]
    async with c.db.session() as s:
        kid = await s.get(Child, child)
        assert kid is not None
        kid.risk_level, kid.next_visit_due = "critical", clock.today() - dt.timedelta(days=40)  # 40 + 30: red
    c.facts["safety"] = child


async def _safety_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        grade = await s.scalar(select(SafetyWarning.grade).where(SafetyWarning.open_child_id == c.facts["safety"]))
    return grade == "red"


async def _families_prepare(c: Ctx) -> None:
    """A father away of child A, recorded 20 days ago and silent since (weekly: 7 days + 7 of grace)."""
    async with c.db.session() as s:
        parent = ParentAway(
            child_id=c.cases.children["A"],
            version=1,
            relation="father",
            work_province="广东省",
            work_city="东莞市",
            frequency="weekly",
            tracked_from=clock.today() - dt.timedelta(days=20),
        )
        s.add(parent)
        await s.flush()
        parent.lineage_id = parent.id
        c.facts["families_parent"] = parent.id


async def _families_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return bool(
            await s.scalar(
                select(func.count()).where(
                    ContactAlert.parent_id == c.facts["families_parent"], ContactAlert.status == "open"
                )
            )
        )


async def _certificates_prepare(c: Ctx) -> None:
    """The director's post certificate expires in three weeks."""
    async with c.db.session() as s:
        cert = Certificate(
            user_id=c.world.users["director"],
            kind="director_post",
            number="FTMZ-2023-0001",
            issued_on=clock.today() - dt.timedelta(days=1000),
            expires_on=clock.today() + dt.timedelta(days=21),
            issuer="福田区民政局",
        )
        s.add(cert)
        await s.flush()
        c.facts["certificate"] = cert.id


async def _certificates_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return bool(
            await s.scalar(
                select(func.count()).where(
                    Notification.kind == "workforce_certificate_expiring",
                    Notification.entity_id == c.facts["certificate"],
                )
            )
        )


async def _fund(c: Ctx) -> int:
    if "fund" not in c.facts:
        async with c.db.session() as s:
            c.facts["fund"] = (
                await funds.ensure_fund(s, code="futian_public_welfare", name="福田区未成年人保护公益基金")
            ).id
    return int(c.facts["fund"])


async def _reconcile_prepare(c: Ctx) -> None:
    await _fund(c)


async def _reconcile_done(c: Ctx) -> bool:
    yesterday = clock.today() - dt.timedelta(days=1)
    async with c.db.session(write=False) as s:
        return bool(
            await s.scalar(
                select(func.count()).where(
                    Reconciliation.fund_id == c.facts["fund"],
                    Reconciliation.source == "stripe",
                    Reconciliation.since == yesterday,
                    Reconciliation.until == yesterday,
                    Reconciliation.created_by.is_(None),
                )
            )
        )


async def _expire_prepare(c: Ctx) -> None:
    fund_id = await _fund(c)
    async with c.db.session() as s:
        started = await gifts.start_online(
            s,
            StripeChannel(c.settings),
            fund_id=fund_id,
            amount_fen=6_600,
            donor=gifts.DonorInput(name="未付款的捐赠人"),
            designation=None,
        )
        donation = started.donation
        await s.flush()
        c.facts["pending"] = (donation.id, donation.external_id)
    hours = c.settings.pending_donation_hours
    async with c.db.session() as s:
        await s.execute(
            update(Donation)
            .where(Donation.id == donation.id)
            .values(created_at=clock.now() - dt.timedelta(hours=hours + 1))
        )


async def _expire_done(c: Ctx) -> bool:
    donation_id, intent = c.facts["pending"]
    async with c.db.session(write=False) as s:
        status = await s.scalar(select(Donation.status).where(Donation.id == donation_id))
    if status != "expired":
        return False
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": c.localstripe})  # type: ignore[typeddict-item]
    return client.v1.payment_intents.retrieve(intent).status == "canceled"


async def _verify_prepare(c: Ctx) -> None:
    return None  # the audit rows the preparations above wrote are the chain to prove


async def _verify_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        row = await s.scalar(select(ChainVerification).where(ChainVerification.trigger == "job"))
    if row is None:
        return False
    assert row.ok, row.broken
    return row.rows_checked > 0


async def _allowances_prepare(c: Ctx) -> None:
    officer = Principal(user_id=c.world.users["procurement"], username="procurement", role="procurement_officer")
    async with c.db.session() as s:
        await procurement.create_budget(
            s,
            officer,
            BudgetIn(
                name="未成年人保护补贴",
                fiscal_year=clock.today().year,
                total_fen=10_000_000,
                lines=[
                    BudgetLineIn(code="living_allowance", name="生活补贴", appropriation_fen=5_000_000),
                    BudgetLineIn(code="director_subsidy", name="岗位补贴", appropriation_fen=5_000_000),
                ],
            ),
        )


async def _allowances_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        run = await s.scalar(select(AllowanceRun).where(AllowanceRun.month == clock.month_key()))
    return run is not None and run.paid_count > 0 and run.total_fen > 0


async def _purge_prepare(c: Ctx) -> None:
    """A file closed longer ago than the retention period: the nightly purge deletes it."""
    years = c.settings.retention_years
    async with c.db.session() as s:
        child = await add_child(s, c.settings, c.world.communities[0], c.world.streets[0], name="到期档案", seq="917")
        child.status, child.closed_at = "closed", clock.now() - dt.timedelta(days=366 * (years + 1))
        await s.flush()
        c.facts["purged_child"] = child.id


async def _purge_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return await s.get(Child, c.facts["purged_child"]) is None


async def _exports_prepare(c: Ctx) -> None:
    """A finished export older than the export retention: its file is deleted, the job marked expired."""
    async with c.db.session() as s:
        job = ExportJob(
            kind="coverage",
            params={},
            format="csv",
            status="done",
            filename="coverage.csv",
            content_type="text/csv",
            content_sealed="aGVsbG8=",
            size_bytes=5,
            created_by=c.world.users["admin"],
            finished_at=clock.now() - dt.timedelta(hours=c.settings.export_retention_hours + 1),
        )
        s.add(job)
        await s.flush()
        c.facts["old_export"] = job.id


async def _exports_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        return await s.scalar(select(ExportJob.status).where(ExportJob.id == c.facts["old_export"])) == "expired"


async def _idempotency_prepare(c: Ctx) -> None:
    """A stored answer past its 24 hours and one still within them: only the first is purged."""
    now = clock.now()
    async with c.db.session() as s:
        for key, expires in (("expired-key", now - H), ("live-key", now + H)):
            s.add(
                IdempotencyKey(
                    owner=f"user:{c.world.users['admin']}",
                    key=key,
                    method="POST",
                    path="/api/v1/services",
                    request_hash="0" * 64,
                    claim="0" * 32,
                    claimed_at=expires - 25 * H,
                    status_code=201,
                    headers="[]",
                    body=b"{}",
                    created_at=expires - 25 * H,
                    completed_at=expires - 24 * H,
                    expires_at=expires,
                )
            )


async def _idempotency_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        left = set((await s.scalars(select(IdempotencyKey.key))).all())
    return "expired-key" not in left and "live-key" in left


async def _deliver_prepare(c: Ctx) -> None:
    """The supervisor wants urgent notifications by email, day and night; a mandatory report notice waits."""
    supervisor = c.world.users["supervisor"]
    async with c.db.session() as s:
        s.add(
            NotificationPreference(
                user_id=supervisor,
                email_groups="urgent",
                sms_groups="off",
                email="sup@futian.example",
                mobile="",
                quiet_start=None,
                quiet_end=None,
                email_since=clock.now() - H,
            )
        )
        await notifications.notify(
            s,
            [supervisor],
            key="job-deliver",
            kind="mandatory_report",
            title="强制报告",
            body="",
            entity="mandatory_report",
            entity_id=1,
        )


async def _deliver_done(c: Ctx) -> bool:
    """The notice went into the local SMTP server (other jobs' notices to the supervisor may go with it)."""
    key = f"job-deliver:{c.world.users['supervisor']}"
    async with c.db.session(write=False) as s:
        rows = (
            await s.execute(
                select(Delivery.channel, Delivery.status, Delivery.receipt)
                .join(Notification, Notification.id == Delivery.notification_id)
                .where(Notification.key == key)
            )
        ).all()
    return len(rows) == 1 and rows[0][0] == "email" and rows[0][1] == "sent" and bool(rows[0][2])


async def _conference_prepare(c: Ctx) -> None:
    """A held conference on child A with a decision the director answers, due yesterday: overdue."""
    async with c.db.session() as s:
        child = await s.get(Child, c.cases.children["A"])
        assert child is not None
        conference = Conference(
            child_id=child.id,
            community_id=child.community_id,
            street_id=child.street_id,
            topic="会商",
            scheduled_at=clock.now() - 48 * H,
            status="held",
            minutes="纪要",
            held_at=clock.now() - 48 * H,
        )
        s.add(conference)
        await s.flush()
        decision = Decision(
            conference_id=conference.id,
            child_id=child.id,
            text="入户核实",
            owner_user_id=c.world.users["director"],
            responsible_id=c.world.users["director"],
            due_on=clock.today() - dt.timedelta(days=1),
        )
        s.add(decision)
        await s.flush()
        c.facts["conference_decision"] = decision.id


async def _conference_done(c: Ctx) -> bool:
    async with c.db.session(write=False) as s:
        told = await s.scalars(
            select(Notification.recipient_id).where(Notification.kind == "conference_decision_overdue")
        )
        return c.world.users["supervisor"] in set(told.all())


# Every job the features register: a job without a case here fails the test.
JOB_CASES: dict[str, JobCase] = {
    "referrals.escalate_overdue": JobCase(_referral_prepare, _referral_done),
    "cases.report_ack_overdue": JobCase(_report_prepare, _report_done),
    "cases.visit_alerts": JobCase(_visits_prepare, _visits_done),
    "guardianship.reviews": JobCase(_guardianship_prepare, _guardianship_done),
    "safety.grade": JobCase(_safety_prepare, _safety_done),
    "intake.overdue": JobCase(_intake_prepare, _intake_done),
    "funds.reconcile_yesterday": JobCase(_reconcile_prepare, _reconcile_done),
    "funds.expire_pending_donations": JobCase(_expire_prepare, _expire_done),
    "audit.verify_chains": JobCase(_verify_prepare, _verify_done),
    "procurement.monthly_allowances": JobCase(_allowances_prepare, _allowances_done),
    "cases.purge_expired": JobCase(_purge_prepare, _purge_done),
    "reports.expire_exports": JobCase(_exports_prepare, _exports_done),
    "idempotency.purge_expired": JobCase(_idempotency_prepare, _idempotency_done),
    "messaging.deliver": JobCase(_deliver_prepare, _deliver_done),
    "families.contact_check": JobCase(_families_prepare, _families_done),
    "conferences.decisions_due": JobCase(_conference_prepare, _conference_done),
    "workforce.certificates": JobCase(_certificates_prepare, _certificates_done),
}


# ---------------------------------------------------------------- the outbox's tasks


async def _stale_event_prepare(c: Ctx) -> None:
    """An event committed and never relayed (a crash between commit and relay), old enough for the sweeper."""
    async with c.db.session() as s:
        event = outbox.emit(s, "service.changed", {"service_id": c.world.services[1]})
        await s.flush()
        c.facts["stale_event"] = event.id
        outbox.discard_pending(s)
    async with c.db.session() as s:
        await s.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == c.facts["stale_event"])
            .values(created_at=clock.now() - dt.timedelta(minutes=5))
        )


async def _event_done(c: Ctx, key: str) -> bool:
    async with c.db.session(write=False) as s:
        event = await s.get(OutboxEvent, c.facts[key])
    return event is not None and event.processed_at is not None and event.dispatched_at is not None


async def _api_event_prepare(c: Ctx) -> None:
    """A service paused through the API: the app commits its outbox event and sends the per-event task itself."""
    async with AsyncTestClient(app=create_app(c.settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "org", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post(f"/api/v1/services/{c.world.services[0]}/pause", headers=headers)
        assert r.status_code == 200, r.text
    async with c.db.session(write=False) as s:
        c.facts["api_event"] = await s.scalar(
            select(OutboxEvent.id).where(OutboxEvent.topic == "service.changed").order_by(OutboxEvent.id.desc())
        )


# The worker's own tasks, beyond run_job (which carries every job above).
TASK_CASES: dict[str, JobCase] = {
    tasks.SWEEP_OUTBOX: JobCase(_stale_event_prepare, lambda c: _event_done(c, "stale_event")),
    tasks.PROCESS_OUTBOX_EVENT: JobCase(_api_event_prepare, lambda c: _event_done(c, "api_event")),
}


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:]


def _beat_entries() -> dict[str, tuple[str, list[Any]]]:
    """What the beat sends: task name and arguments, keyed by the job (or task) it runs."""
    out: dict[str, tuple[str, list[Any]]] = {}
    for entry in BEAT_SCHEDULE.values():
        args = list(entry.get("args", []))
        out[args[0] if entry["task"] == tasks.RUN_JOB else entry["task"]] = (entry["task"], args)
    return out


async def test_every_registered_job_and_task_runs_on_the_real_worker(
    jobs_settings: Settings,
    job_worker: Path,
    broker_client: Celery,
    world: World,
    cases: Cases,
    localstripe: str,
) -> None:
    load_jobs()
    assert worker_tasks.app is worker_app
    worker_defined = {name for name in worker_app.tasks if not name.startswith("celery.")}
    registered = set(tasks.JOBS)
    figures.record(SUITE, "Celery jobs registered", len(registered) + len(worker_defined - {tasks.RUN_JOB}))
    assert registered == set(JOB_CASES), f"jobs without a case here: {sorted(registered - set(JOB_CASES))}"
    assert worker_defined - {tasks.RUN_JOB} == set(TASK_CASES), sorted(worker_defined)
    beat = _beat_entries()
    assert registered <= set(beat), f"registered jobs the beat never sends: {sorted(registered - set(beat))}"

    db = Database(jobs_settings)
    ctx = Ctx(db, jobs_settings, world, cases, localstripe)
    try:
        for case in [*JOB_CASES.values(), TASK_CASES[tasks.SWEEP_OUTBOX]]:
            await case.prepare(ctx)
        # What the beat would send, through the broker, by the app's own client; then one job again (idempotent).
        for name in [*JOB_CASES, tasks.SWEEP_OUTBOX]:
            task, args = beat[name]
            broker_client.send_task(task, args=args)
        await TASK_CASES[tasks.PROCESS_OUTBOX_EVENT].prepare(ctx)

        pending = {**JOB_CASES, **TASK_CASES}
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            for name, case in list(pending.items()):
                if await case.done(ctx):
                    del pending[name]
            if pending:
                await asyncio.sleep(0.5)
        covered = len(JOB_CASES) + len(TASK_CASES) - len(pending)
        figures.record(SUITE, "Celery jobs run by a real worker", covered)
        assert not pending, f"no effect within 120 s: {sorted(pending)}\n" + _tail(job_worker)
        # Nothing the worker was handed failed.
        log = _tail(job_worker, 10**9)
        assert " raised unexpected" not in log and "Traceback" not in log, log[-4000:]
    finally:
        await db.dispose()
