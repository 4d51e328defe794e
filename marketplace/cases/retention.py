"""The retention rule: a closed child's file is deleted a set number of years after its closing, leaving no copy.

A file closed at instant *t* is due at *t* plus ``Settings.retention_years`` whole years (a closing on 29 February
falls due on 1 March). The nightly job ``cases.purge_expired`` (workers/beat.py) and ``marketplace purge-expired``
delete every due file, one file per transaction, each with a ``purged`` audit row naming the file's id and the counts
of what went. What happens to each table is the ``PLAN`` below (docs/api.md, "Retention", says the same):

* deleted with the file: the child's row (name, identity number and its blind indexes, guardian, address, notes),
  needs, visits, referrals and their service logs, file transfers, escalation steps and what supervisors did about
  them, allowance decisions and payees (bank accounts), the notifications about any of these, and the outbox events
  whose payload names any of them;
* kept without the child (accounting archives, kept 30 years under the 会计档案管理办法): allowance payments keep
  their run, month, kind, category, amount and budget line; the person's and payee's names become ``TOMBSTONE``,
  the person key ``purged:<payment id>``, the reason is cleared and the links to the decision and the payee go;
* kept without the child (a legal record that the duty to report was done): mandatory reports keep their kind,
  dates, police notification (station and receipt number: the police hold the substance under it) and
  acknowledgements; the link to the file and the need go, the description becomes ``TOMBSTONE`` and the subject's
  name, description, place and every step's note are cleared;
* edited: batch matching runs lose the child's needs from their proposals, one-off allowance runs lose the child from
  their requested list, notification digests (overdue visits) lose the child's id from their lists;
* untouched: the audit log (append-only and hash-chained; it holds ids, never names) and the ledger (journal entries
  and postings carry amounts, accounts and memos about funds, never a child).

A file with a payment in an allowance run not yet paid or withdrawn (``HOLDING_RUN_STATUSES``) waits: the run's
signed list must still match when it is paid; it is deleted by the first nightly run after.

Cases sits below referrals, procurement and matching in the layer order: their tables are reached here by name
through the shared metadata (the features are loaded whenever a job or command runs), never by importing them.
Logs name file ids and counts only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ColumnElement, Table, Text, cast, delete, false, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, tasks
from marketplace.audit import service as audit
from marketplace.audit.models import AuditEntry
from marketplace.cases.eligibility_models import AllowanceDecision, AllowancePayee
from marketplace.cases.models import (
    Child,
    ChildTransfer,
    Escalation,
    EscalationAction,
    MandatoryReport,
    MandatoryReportStep,
    Need,
    Notification,
    Visit,
)
from marketplace.db import Base, Database
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings

log = logging.getLogger("marketplace.retention")

# What a record kept for the archives shows where the child's name was.
TOMBSTONE: Final = "（已按保存期限清除）"
# The audit row of a deletion: entity "child", the file's id, the counts in ``detail``.
AUDIT_ACTION: Final = "purged"
# Allowance runs whose signed list must not change: a file with a payment in one waits.
HOLDING_RUN_STATUSES: Final = frozenset({"preparing", "prepared", "signed_off"})
BATCH: Final = 200
# A run of the job stops after this many files (the next night goes on).
MAX_PER_RUN: Final = 10_000

PLAN: Final[dict[str, str]] = {
    "children": "deleted",
    "needs": "deleted",
    "visits": "deleted",
    "referrals": "deleted",
    "referral_logs": "deleted",
    "child_transfers": "deleted",
    "escalations": "deleted",
    "escalation_actions": "deleted",
    "allowance_decisions": "deleted",
    "allowance_payees": "deleted",
    "notifications": "deleted (digests naming several children: the child's id removed)",
    "outbox_events": "deleted (lists naming several records: the child's removed)",
    # The features above the files (``swept_tables``), each row with the notifications about it.
    "conferences": "deleted, with their participants, decisions and revisions",
    "conference_participants": "deleted",
    "conference_decisions": "deleted",
    "conference_decision_revisions": "deleted",
    "safety_checks": "deleted",
    "safety_warnings": "deleted, with their history",
    "safety_warning_events": "deleted",
    "intakes": "deleted (the calls about the child or about one of its reports), with their triage",
    "intake_triages": "deleted",
    "guardianship_assessments": "deleted",
    "entrusted_guardianships": "deleted",
    "temporary_guardianships": "deleted",
    "long_term_guardianships": "deleted",
    "families_parents": "deleted, every version, with their contacts, visits home and alerts",
    "families_contacts": "deleted",
    "families_visits_home": "deleted",
    "families_alerts": "deleted",
    "place_activity_children": "deleted (the activity keeps its counts by category, which name nobody)",
    "allowance_payments": "kept, names tombstoned, reason cleared, person key and links replaced",
    "mandatory_reports": "kept, unlinked, free text tombstoned or cleared",
    "mandatory_report_steps": "kept, note cleared",
    "matching_runs": "kept, the child's needs removed from the proposals",
    "allowance_runs": "kept, the child removed from a one-off run's requested list",
    "audit_log": "kept (ids only), plus the purged row",
    "journal_entries": "untouched (no child data)",
    "ledger_postings": "untouched (no child data)",
}


# ---------------------------------------------------------------- when a file is due


def add_years(instant: dt.datetime, years: int) -> dt.datetime:
    """``instant`` moved by whole years; 29 February becomes 1 March (or 28 February going back)."""
    try:
        return instant.replace(year=instant.year + years)
    except ValueError:  # 29 February in a year without one
        moved = instant.replace(year=instant.year + years, day=28)
        return moved + dt.timedelta(days=1) if years > 0 else moved


def due_at(closed_at: dt.datetime, settings: Settings) -> dt.datetime:
    return add_years(closed_at, settings.retention_years)


def cutoff(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """Files closed at or before this instant are due now."""
    return add_years(now or clock.now(), -settings.retention_years)


def _due(settings: Settings, now: dt.datetime | None = None) -> ColumnElement[bool]:
    return (Child.status == "closed") & Child.closed_at.is_not(None) & (Child.closed_at <= cutoff(settings, now))


@dataclass(frozen=True)
class DueFile:
    child_id: int
    community_id: int
    street_id: int
    closed_at: dt.datetime
    due_at: dt.datetime


async def due_files(session: AsyncSession, settings: Settings, *, limit: int | None = None) -> list[DueFile]:
    """The closed files due for deletion now, oldest closing first (ids and dates only)."""
    stmt = (
        select(Child.id, Child.community_id, Child.street_id, Child.closed_at)
        .where(_due(settings))
        .order_by(Child.closed_at, Child.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    return [DueFile(i, c, s, closed, due_at(closed, settings)) for i, c, s, closed in rows if closed is not None]


@dataclass(frozen=True)
class Overview:
    """What the console shows the district: the rule, and how many closed files fall due when."""

    years: int
    closed: int
    due_now: int
    # Files falling due in each of the next twelve district months (``YYYY-MM``, count), months with none left out.
    upcoming: list[tuple[str, int]]
    next_due_on: dt.date | None
    oldest_due_on: dt.date | None
    last_purge_at: dt.datetime | None
    last_purge_count: int


async def overview(session: AsyncSession, settings: Settings, community_ids: Sequence[int] | None = None) -> Overview:
    """Counts and dates only; ``community_ids`` narrows it to a street's or a community's files."""
    now = clock.now()
    scope: ColumnElement[bool] = Child.community_id.in_(community_ids) if community_ids is not None else ~false()
    closed = await session.scalar(select(func.count()).where(Child.status == "closed", scope)) or 0
    due_now = await session.scalar(select(func.count()).where(_due(settings, now), scope)) or 0
    oldest = await session.scalar(select(func.min(Child.closed_at)).where(_due(settings, now), scope))
    horizon = cutoff(settings, now + dt.timedelta(days=366))
    soon = (
        await session.scalars(
            select(Child.closed_at)
            .where(
                Child.status == "closed",
                Child.closed_at > cutoff(settings, now),
                Child.closed_at <= horizon,
                scope,
            )
            .order_by(Child.closed_at)
        )
    ).all()
    months: dict[str, int] = {}
    for closed_at in soon:
        if closed_at is None:
            continue
        month = clock.local_date(due_at(closed_at, settings)).strftime("%Y-%m")
        months[month] = months.get(month, 0) + 1
    upcoming = sorted(months.items())[:12]
    purges = (AuditEntry.action == AUDIT_ACTION) & (AuditEntry.entity == "child")
    last_at = await session.scalar(select(func.max(AuditEntry.at)).where(purges))
    last_count = 0
    if last_at is not None:
        # The files the last night's run deleted (one run takes minutes at most).
        last_count = (
            await session.scalar(select(func.count()).where(purges, AuditEntry.at >= last_at - dt.timedelta(hours=6)))
            or 0
        )
    return Overview(
        years=settings.retention_years,
        closed=closed,
        due_now=due_now,
        upcoming=upcoming,
        next_due_on=clock.local_date(due_at(soon[0], settings)) if soon and soon[0] is not None else None,
        oldest_due_on=clock.local_date(due_at(oldest, settings)) if oldest is not None else None,
        last_purge_at=last_at,
        last_purge_count=last_count,
    )


# ---------------------------------------------------------------- what names the child in JSON


# A JSON key ``<kind>_id`` / ``<kind>_ids`` names a record of ``kind``; these keys are spelled otherwise.
KEY_ALIASES: Final = {"follow_up_visit": "visit", "mandatory_report": "report", "transfer": "child_transfer"}


@dataclass
class Related:
    """The ids of every record hanging off one file, by the name payloads and links use for them."""

    ids: dict[str, set[int]] = field(default_factory=dict)

    def of(self, kind: str) -> set[int]:
        return self.ids.setdefault(kind, set())

    def all_ids(self) -> set[int]:
        return set().union(*self.ids.values()) if self.ids else set()

    def kind_of_key(self, key: str) -> str | None:
        for suffix in ("_ids", "_id"):
            if key.endswith(suffix):
                kind = key.removesuffix(suffix)
                kind = KEY_ALIASES.get(kind, kind)
                return kind if kind in self.ids else None
        return None


DROP: Final = object()


def scrub(value: Any, related: Related) -> tuple[Any, bool]:
    """``value`` without what names the file: ``DROP`` for a mapping that names one of its records by a scalar
    ``<kind>_id``; lists under ``<kind>_ids`` lose its ids; lists lose the mappings that are dropped. Returns the
    cleaned value and whether anything changed."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            kind = related.kind_of_key(str(key))
            if kind is not None and not isinstance(item, list) and _as_int(item) in related.of(kind):
                return DROP, True
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            kind = related.kind_of_key(str(key))
            if kind is not None and isinstance(item, list):
                kept = [x for x in item if _as_int(x) not in related.of(kind)]
                changed |= len(kept) != len(item)
                out[key] = kept
                continue
            cleaned, hit = scrub(item, related)
            changed |= hit
            if cleaned is not DROP:
                out[key] = cleaned
        return out, changed
    if isinstance(value, list):
        items = []
        changed = False
        for item in value:
            cleaned, hit = scrub(item, related)
            changed |= hit
            if cleaned is not DROP:
                items.append(cleaned)
        return items, changed
    return value, False


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _mentions(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """A coarse SQL filter (the JSON's text holds one of the numbers); ``scrub`` decides exactly."""
    texts = sorted({str(i) for i in ids})
    if not texts:
        return false()
    return or_(*(cast(column, Text).like(f"%{t}%") for t in texts))


# ---------------------------------------------------------------- deleting one file


def _table(name: str) -> Table | None:
    """A table of a feature above cases (referrals, procurement, matching), by name; None when it is not loaded."""
    return Base.metadata.tables.get(name)


@dataclass
class Outcome:
    child_id: int
    purged: bool
    held: bool = False
    counts: dict[str, int] = field(default_factory=dict)


async def _ids(session: AsyncSession, stmt: Any) -> set[int]:
    return {int(i) for i in (await session.scalars(stmt)).all()}


async def _related(session: AsyncSession, child_id: int) -> Related:
    r = Related()
    r.of("child").add(child_id)
    r.of("need").update(await _ids(session, select(Need.id).where(Need.child_id == child_id)))
    r.of("visit").update(await _ids(session, select(Visit.id).where(Visit.child_id == child_id)))
    r.of("report").update(await _ids(session, select(MandatoryReport.id).where(MandatoryReport.child_id == child_id)))
    r.of("child_transfer").update(
        await _ids(session, select(ChildTransfer.id).where(ChildTransfer.child_id == child_id))
    )
    r.of("decision").update(
        await _ids(session, select(AllowanceDecision.id).where(AllowanceDecision.child_id == child_id))
    )
    r.of("allowance_decision").update(r.of("decision"))
    r.of("payee").update(await _ids(session, select(AllowancePayee.id).where(AllowancePayee.child_id == child_id)))
    referrals = _table("referrals")
    if referrals is not None:
        r.of("referral").update(await _ids(session, select(referrals.c.id).where(referrals.c.child_id == child_id)))
    entity_ids = {
        "child": r.of("child"),
        "referral": r.of("referral"),
        "mandatory_report": r.of("report"),
        "child_transfer": r.of("child_transfer"),
    }
    r.of("escalation").update(
        await _ids(
            session,
            select(Escalation.id).where(
                or_(
                    Escalation.child_id == child_id,
                    *(
                        (Escalation.entity == entity) & Escalation.entity_id.in_(ids)
                        for entity, ids in entity_ids.items()
                        if ids
                    ),
                )
            ),
        )
    )
    return r


# The entity names notifications use for a file's records, and the kind of id each carries.
NOTIFICATION_ENTITIES: Final = {
    "child": "child",
    "need": "need",
    "visit": "visit",
    "referral": "referral",
    "mandatory_report": "report",
    "child_transfer": "child_transfer",
    "allowance_decision": "decision",
    "escalation": "escalation",
}


def _payments_of(payments: Table, child_id: int, related: Related) -> ColumnElement[bool]:
    return or_(
        payments.c.person_key == f"child:{child_id}",
        payments.c.decision_id.in_(related.of("decision")) if related.of("decision") else false(),
        payments.c.payee_id.in_(related.of("payee")) if related.of("payee") else false(),
    )


async def held_by_run(session: AsyncSession, child_id: int, related: Related) -> bool:
    """True while one of the child's allowance payments sits in a run not yet paid or withdrawn."""
    payments, runs = _table("allowance_payments"), _table("allowance_runs")
    if payments is None or runs is None:
        return False
    n = await session.scalar(
        select(func.count())
        .select_from(payments.join(runs, runs.c.id == payments.c.run_id))
        .where(_payments_of(payments, child_id, related), runs.c.status.in_(HOLDING_RUN_STATUSES))
    )
    return bool(n)


async def _rewrite_json(
    session: AsyncSession, table: Table, column: str, where: ColumnElement[bool], related: Related
) -> tuple[int, int]:
    """Rows of ``table`` whose JSON ``column`` names the file: deleted when the row itself is about one of its records,
    rewritten when it merely lists one. Returns (deleted, rewritten)."""
    col = table.c[column]
    rows = (await session.execute(select(table.c.id, col).where(where))).all()
    dropped: list[int] = []
    rewritten = 0
    for row_id, value in rows:
        cleaned, changed = scrub(value, related)
        if cleaned is DROP:
            dropped.append(row_id)
        elif changed:
            await session.execute(update(table).where(table.c.id == row_id).values({column: cleaned}))
            rewritten += 1
    if dropped:
        await session.execute(delete(table).where(table.c.id.in_(dropped)))
    return len(dropped), rewritten


# The tables whose purge is written out in ``purge_file``: the sweep of the features' tables leaves them alone.
WRITTEN_OUT: Final = frozenset(
    {
        "children",
        "needs",
        "visits",
        "referrals",
        "referral_logs",
        "child_transfers",
        "escalations",
        "escalation_actions",
        "allowance_decisions",
        "allowance_payees",
        "allowance_payments",
        "allowance_runs",
        "notifications",
        "outbox_events",
        "mandatory_reports",
        "mandatory_report_steps",
        "matching_runs",
        "audit_log",
    }
)
# Where the features above the files hang their records: the child, and its mandatory reports (the call that made one).
_ROOTS: Final = {"children": "child", "mandatory_reports": "report"}


def swept_tables() -> dict[str, list[tuple[str, str, str]]]:
    """The tables of the features above the files (casework, conferences, guardianship, ...) that hang off a child,
    directly or through one another, read from the metadata: for each, its references ``(column, table, column)`` to
    a root (``_ROOTS``) or to another swept table. Every one of them needs a line in ``PLAN`` (a test checks)."""
    tables = Base.metadata.tables
    found: dict[str, list[tuple[str, str, str]]] = {}
    changed = True
    while changed:
        changed = False
        for name, table in tables.items():
            if name in WRITTEN_OUT:
                continue
            refs = [
                (fk.parent.name, fk.column.table.name, fk.column.name)
                for fk in table.foreign_keys
                if fk.column.table.name in _ROOTS or fk.column.table.name in found
            ]
            if refs and found.get(name) != refs:
                found[name] = refs
                changed = True
    return found


async def _sweep_features(session: AsyncSession, related: Related, run: Any) -> None:
    """Delete every row of the features' tables (``swept_tables``) that hangs off the file: the rows referring to the
    child or to one of its reports, then whatever refers to those, deepest first; and the notifications about them
    (a feature names its records in a notification by the table's singular: ``conferences`` → ``conference``)."""
    found = swept_tables()
    if not found:
        return
    tables = Base.metadata.tables
    roots = {"children": related.of("child"), "mandatory_reports": related.of("report")}
    ids: dict[str, set[int]] = {}
    # Parents before children (the metadata's order), so a table's ids are known when its dependents are read.
    order = [t.name for t in Base.metadata.sorted_tables if t.name in found]
    for name in order:
        table = tables[name]
        clauses = []
        for column, target, target_column in found[name]:
            wanted = roots.get(target) if target in roots else ids.get(target)
            if wanted and target_column == "id":
                clauses.append(table.c[column].in_(wanted))
        ids[name] = await _ids(session, select(table.c.id).where(or_(*clauses))) if clauses else set()
    for name in reversed(order):
        if not ids[name]:
            continue
        entity = name[:-1] if name.endswith("s") else name
        await run(
            "notifications",
            delete(Notification).where(Notification.entity == entity, Notification.entity_id.in_(ids[name])),
        )
        await run(name, delete(tables[name]).where(tables[name].c.id.in_(ids[name])))


async def purge_file(session: AsyncSession, settings: Settings, child_id: int, *, lock: bool = True) -> Outcome:
    """Delete one due file and everything hanging off it (``PLAN``), in the caller's transaction; audited."""
    stmt = select(Child).where(Child.id == child_id, _due(settings))
    if settings.is_sqlite:
        # Deleted rows are overwritten with zeros in the pages, not left in their free space.
        await session.execute(text("PRAGMA secure_delete = ON"))
    elif lock:
        stmt = stmt.with_for_update()
    child = await session.scalar(stmt)
    if child is None:
        return Outcome(child_id, purged=False)
    closed_at = child.closed_at
    related = await _related(session, child_id)
    if await held_by_run(session, child_id, related):
        return Outcome(child_id, purged=False, held=True)
    counts: dict[str, int] = {}

    async def run(name: str, statement: Any) -> None:
        result = await session.execute(statement)
        counts[name] = counts.get(name, 0) + (result.rowcount or 0)  # type: ignore[attr-defined]

    # Messages and queued events about the file's records.
    entity_match = [
        (Notification.entity == entity) & Notification.entity_id.in_(related.of(kind))
        for entity, kind in NOTIFICATION_ENTITIES.items()
        if related.of(kind)
    ]
    if entity_match:
        await run("notifications", delete(Notification).where(or_(*entity_match)))
    notes = Notification.__table__
    dropped, edited = await _rewrite_json(session, notes, "data", _mentions(notes.c.data, related.all_ids()), related)  # type: ignore[arg-type]
    counts["notifications"] = counts.get("notifications", 0) + dropped
    counts["notifications_edited"] = edited
    events = OutboxEvent.__table__
    dropped, edited = await _rewrite_json(
        session,
        events,  # type: ignore[arg-type]
        "payload",
        _mentions(events.c.payload, related.all_ids()),
        related,
    )
    counts["outbox_events"], counts["outbox_events_edited"] = dropped, edited
    matching = _table("matching_runs")
    if matching is not None and related.of("need"):
        for column in ("assignments", "unassigned"):
            _, edited = await _rewrite_json(
                session, matching, column, _mentions(matching.c[column], related.of("need")), related
            )
            counts["matching_runs_edited"] = counts.get("matching_runs_edited", 0) + edited
    # Escalation steps and what was done about them.
    if related.of("escalation"):
        await run(
            "escalation_actions",
            delete(EscalationAction).where(EscalationAction.escalation_id.in_(related.of("escalation"))),
        )
        await run("escalations", delete(Escalation).where(Escalation.id.in_(related.of("escalation"))))
    # Referrals and their service logs.
    referrals, logs = _table("referrals"), _table("referral_logs")
    if referrals is not None and related.of("referral"):
        if logs is not None:
            await run("referral_logs", delete(logs).where(logs.c.referral_id.in_(related.of("referral"))))
        await run("referrals", delete(referrals).where(referrals.c.id.in_(related.of("referral"))))
    # Accounting archives: the payments stay, without the child.
    payments, runs = _table("allowance_payments"), _table("allowance_runs")
    if payments is not None:
        rows = (
            (await session.execute(select(payments.c.id).where(_payments_of(payments, child_id, related))))
            .scalars()
            .all()
        )
        for payment_id in rows:
            await session.execute(
                update(payments)
                .where(payments.c.id == payment_id)
                .values(
                    person_name=TOMBSTONE,
                    payee_name=TOMBSTONE,
                    person_key=f"purged:{payment_id}",
                    reason="",
                    decision_id=None,
                    payee_id=None,
                )
            )
        counts["allowance_payments_anonymised"] = len(rows)
    if runs is not None:
        _, edited = await _rewrite_json(
            session,
            runs,
            "params",
            (runs.c.kind != "monthly") & _mentions(runs.c.params, related.of("child")),
            related,
        )
        counts["allowance_runs_edited"] = edited
    await run("allowance_decisions", delete(AllowanceDecision).where(AllowanceDecision.child_id == child_id))
    await run("allowance_payees", delete(AllowancePayee).where(AllowancePayee.child_id == child_id))
    # Legal records: the mandatory reports stay, unlinked and without their words.
    if related.of("report"):
        await run(
            "mandatory_report_steps_anonymised",
            update(MandatoryReportStep).where(MandatoryReportStep.report_id.in_(related.of("report"))).values(note=""),
        )
        await run(
            "mandatory_reports_anonymised",
            update(MandatoryReport)
            .where(MandatoryReport.id.in_(related.of("report")))
            .values(
                child_id=None,
                need_id=None,
                description=TOMBSTONE,
                subject_name="",
                subject_description="",
                place="",
            ),
        )
    # The features' records about the file (safety checks, calls, conferences, guardianship, parents away, ...).
    await _sweep_features(session, related, run)
    # The file itself.
    await run("child_transfers", delete(ChildTransfer).where(ChildTransfer.child_id == child_id))
    await run("visits", delete(Visit).where(Visit.child_id == child_id))
    await run("needs", delete(Need).where(Need.child_id == child_id))
    await session.execute(delete(Child).where(Child.id == child_id))
    counts = {k: v for k, v in sorted(counts.items()) if v}
    assert closed_at is not None
    await audit.record(
        session,
        None,
        AUDIT_ACTION,
        "child",
        child_id,
        [],
        {
            "closed_on": clock.local_date(closed_at).isoformat(),
            "retention_years": settings.retention_years,
            "counts": counts,
        },
    )
    return Outcome(child_id, purged=True, counts=counts)


# ---------------------------------------------------------------- the job and the command


@dataclass
class PurgeReport:
    dry_run: bool
    due: list[DueFile] = field(default_factory=list)
    purged: list[Outcome] = field(default_factory=list)
    held: list[int] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for outcome in self.purged:
            for name, n in outcome.counts.items():
                out[name] = out.get(name, 0) + n
        return dict(sorted(out.items()))


async def purge_expired(
    db: Database,
    *,
    dry_run: bool = False,
    limit: int = MAX_PER_RUN,
    progress: Callable[[Outcome], None] | None = None,
) -> PurgeReport:
    """Delete every file due under the retention rule, each in its own transaction (a failure stops at one file and
    leaves the others done); ``dry_run`` only lists them."""
    settings = db.settings
    report = PurgeReport(dry_run=dry_run)
    async with db.session(write=False) as session:
        report.due = await due_files(session, settings, limit=limit)
    if dry_run:
        for due in report.due:
            async with db.session(write=False) as session:
                if await held_by_run(session, due.child_id, await _related(session, due.child_id)):
                    report.held.append(due.child_id)
        return report
    for due in report.due:
        async with db.session() as session:
            outcome = await purge_file(session, settings, due.child_id)
        if outcome.held:
            report.held.append(due.child_id)
        elif outcome.purged:
            report.purged.append(outcome)
        if progress is not None:
            progress(outcome)
    if report.purged and settings.is_sqlite:
        await _drop_old_page_images(db)
    log.info(
        "retention: %d closed files due, %d deleted, %d waiting for an allowance run (ids %s)",
        len(report.due),
        len(report.purged),
        len(report.held),
        report.held[:20],
    )
    return report


async def _drop_old_page_images(db: Database) -> None:
    """SQLite keeps earlier images of changed pages in its write-ahead log until it is checkpointed: copy the log into
    the database and truncate it, so the deleted rows' old pages leave the disk with it. (PostgreSQL keeps dead rows
    in its table files until VACUUM reuses the space: README.md, "Retention".)"""
    async with db.engine.connect() as conn:
        # On the driver's connection: a checkpoint cannot run inside the transaction SQLAlchemy would begin.
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        cursor = await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = await cursor.fetchone()
        busy = bool(row and row[0])
    if busy:
        log.warning("retention: the write-ahead log could not be truncated now (readers busy); the next run retries")


@tasks.job("cases.purge_expired")
async def purge_expired_job(db: Database) -> int:
    """Nightly: delete the closed files past the retention period; returns how many went."""
    return len((await purge_expired(db)).purged)
