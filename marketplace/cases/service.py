"""Children's files (一人一档), needs and visits, with scope checks on every object (reports: ``cases.reports``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Row, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking, outbox
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import lifecycle, ports
from marketplace.cases.crypto import FieldCipher, dialect_cipher, field_cipher, resident_id_problem
from marketplace.cases.models import Child, Need, Visit
from marketplace.cases.readmodel import DISTRICT_READERS, ChildFilters, query_children, scope_of
from marketplace.cases.schemas import ChildIn, ChildPatch, NeedIn, NeedPatch, VisitIn, Warning
from marketplace.cases.taxonomy import NEED_STATUSES
from marketplace.cases.transfer_schemas import ContactRevealOut
from marketplace.db import Database
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.pagination import fetch_page
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES
from marketplace.settings import Settings

__all__ = ["DISTRICT_READERS", "ChildFilters"]  # the list's filters and readers live in readmodel
# Roles that never see a child's file: the money side of the district, and providers (who see a referral).
NO_FILE_ACCESS = frozenset({"fund_manager", "procurement_officer", "org_staff"})

# The fields of the full file, as written to the audit log on every read.
FILE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_number_masked",
    "categories",
    "guardianship",
    "risk_level",
    "school",
    "household_notes",
    "guardian_name",
    "guardian_relation",
    "guardian_phone_masked",
    "address_masked",
    "consent_to_share",
    "share_note",
)
# What revealing a file's contact details shows in clear (the audit row names them).
CONTACT_FIELDS = ("guardian_phone", "address")
SUMMARY_FIELDS = ("name", "gender", "age", "id_number_masked", "categories", "risk_level")
# What a need and a visit show (audited by name; never their text).
NEED_FIELDS = ("category", "urgency", "note", "status", "emergency")
VISIT_FIELDS = ("visited_on", "kind", "findings", "next_visit_due")
# Why the referrals of a closed file were withdrawn, as the provider reads it.
CLOSED_FILE_REASON = "儿童档案已结案 (the child's file was closed)"


# ---------------------------------------------------------------- scope


def scope_clause(principal: Principal, community_col: Any, street_col: Any) -> ColumnElement[bool] | None:
    """The SQL condition for the children (or needs, referrals) a role may read; None means all.

    Raises Forbidden for roles that may not list children's data at all (``readmodel.scope_of``).
    """
    scope = scope_of(principal)
    condition: ColumnElement[bool] | None = None
    if scope == "community":
        condition = community_col == principal.community_id
    elif scope == "street":
        condition = street_col == principal.street_id
    elif scope == "none":
        condition = false()
    return condition


def can_read(principal: Principal, community_id: int, street_id: int) -> bool:
    if principal.role == "child_director":
        return principal.community_id == community_id
    if principal.role == "child_supervisor":
        return principal.street_id == street_id
    return principal.role in DISTRICT_READERS


def require_director(principal: Principal, child: Child) -> None:
    """Only the child's own director writes the file; others who can see it get 403, the rest 404."""
    if principal.role == "child_director" and principal.community_id == child.community_id:
        return
    if can_read(principal, child.community_id, child.street_id):
        raise Forbidden("只有本社区儿童主任可修改儿童档案 (only the community's child director may change the file)")
    raise NotFound(f"儿童档案 {child.id} 不存在 (child not found)")


async def load_child(session: AsyncSession, child_id: int, *, lock: bool = False) -> Child:
    stmt = select(Child).where(Child.id == child_id)
    if lock:
        stmt = stmt.with_for_update()
    child = await session.scalar(stmt)
    if child is None:
        raise NotFound(f"儿童档案 {child_id} 不存在 (child not found)")
    return child


async def visible_child(session: AsyncSession, principal: Principal, child_id: int, *, lock: bool = False) -> Child:
    child = await load_child(session, child_id, lock=lock)
    if not can_read(principal, child.community_id, child.street_id):
        raise NotFound(f"儿童档案 {child_id} 不存在 (child not found)")
    return child


# ---------------------------------------------------------------- helpers


def age_on(birth: dt.date, on: dt.date) -> int:
    return max(0, on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)))


def next_visit_due(settings: Settings, risk: str, last: dt.date, requested: dt.date | None = None) -> dt.date:
    """The risk tier sets the longest gap between visits; a director may plan an earlier one, never a later."""
    due = last + dt.timedelta(days=settings.visit_interval_days[risk])
    return min(due, requested) if requested is not None else due


def visits_on_time(visits: list[tuple[int, dt.date, dt.date]], start: dt.date, end: dt.date) -> tuple[int, int]:
    """(on time, total) for the visits made in [start, end], given as (child, visited on, next visit due) rows.

    A visit is on time when it came no later than the date the child's previous visit set for the next one
    (``next_visit_due``); a child's first visit has no such date and counts as on time.
    """
    last_due: dict[int, dt.date] = {}
    on_time = total = 0
    for child_id, visited_on, next_due in sorted(visits, key=lambda v: (v[0], v[1])):
        if start <= visited_on <= end:
            total += 1
            due = last_due.get(child_id)
            if due is None or visited_on <= due:
                on_time += 1
        last_due[child_id] = next_due
    return on_time, total


def _check_child_fields(values: dict[str, Any]) -> None:
    errors: list[dict[str, str]] = []
    for i, code in enumerate(values.get("categories") or []):
        if code not in CHILD_CATEGORIES:
            errors.append({"field": f"categories[{i}]", "message": f"未知儿童类别 '{code}' (unknown child category)"})
    if "id_number" in values:
        problem = resident_id_problem(values["id_number"])
        if problem:
            errors.append({"field": "id_number", "message": f"身份证号无效：{problem}"})
    birth = values.get("birth_date")
    if birth is not None:
        today = clock.today()
        if birth > today:
            errors.append({"field": "birth_date", "message": "出生日期不能晚于今天 (birth date in the future)"})
        elif age_on(birth, today) >= 18:
            errors.append({"field": "birth_date", "message": "已满18周岁，不属于儿童 (18 or older)"})
        number = values.get("id_number")
        if number and not resident_id_problem(number) and number[6:14] != birth.strftime("%Y%m%d"):
            errors.append({"field": "id_number", "message": "身份证号中的出生日期与出生日期不符 (birth date mismatch)"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


# Where a director asks for a file held by another community (one person, one file).
TRANSFER_LINK = {"method": "POST", "href": "/api/v1/child-transfers"}


async def _lock_id_number(session: AsyncSession, lookup_hash: str) -> None:
    """Serialize the filing of one identity number until the transaction ends, so two concurrent creates cannot
    both find no file and both insert one. PostgreSQL: a transaction-scoped advisory lock on the number's hash;
    SQLite serializes writers already."""
    if session.get_bind().dialect.name == "postgresql":
        key = int(lookup_hash[:15], 16)  # 60 bits: fits a bigint
        await session.execute(select(func.pg_advisory_xact_lock(key)))


async def _file_holding(
    session: AsyncSession, cipher: FieldCipher, id_number: str, *, exclude: int | None = None
) -> Row[int, int, int] | None:
    """The first file (id, community, street) filed under ``id_number``, if any."""
    stmt = select(Child.id, Child.community_id, Child.street_id).where(
        # Under every key of the ring: during a key rotation a file may still carry the old key's hash.
        Child.id_number_hmac.in_(cipher.lookup_hashes(id_number))
    )
    if exclude is not None:
        stmt = stmt.where(Child.id != exclude)
    return (await session.execute(stmt.order_by(Child.id).limit(1))).first()


async def refuse_second_file(
    session: AsyncSession, principal: Principal, cipher: FieldCipher, id_number: str, *, exclude: int | None = None
) -> None:
    """One person, one file: an identity number that has a file anywhere in the district (any status) opens no
    second one. The refusal (409) names only the community that holds it, and where to ask for a transfer; the
    file's id is named only to a caller who may open it anyway."""
    await _lock_id_number(session, cipher.lookup_hash(id_number))
    held = await _file_holding(session, cipher, id_number, exclude=exclude)
    if held is None:
        return
    name = await session.scalar(select(Community.name).where(Community.id == held.community_id)) or ""
    extra: dict[str, Any] = {}
    if can_read(principal, held.community_id, held.street_id):
        extra["child_id"] = held.id
    raise Conflict(
        f"该身份证号已在{name}建档，一人只能有一份档案；如需转入本社区，请提交转档申请 "
        "(one person, one file: this identity number has a file already; ask its community for a transfer)",
        code="id_number_exists",
        holding_community={"id": held.community_id, "name": name},
        transfer=TRANSFER_LINK,
        **extra,
    )


@dataclass(frozen=True)
class IdCheck:
    """What checking an identity number as it is typed found: the problems (a file is refused with them), the
    warnings (to verify, not refused), and the birth date and gender the number encodes."""

    problems: list[dict[str, str]]
    warnings: list[dict[str, str]]
    birth_date: dt.date | None = None
    gender: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def id_birth_date(number: str) -> dt.date | None:
    """The birth date an 18-digit identity number encodes (digits 7-14), or None when it names no real day."""
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


async def check_id_number(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    id_number: str,
    *,
    birth_date: dt.date | None = None,
    gender: str | None = None,
) -> IdCheck:
    """A director's check of an identity number before filing (the console checks it as it is typed): the
    checksum, the birth date it encodes (a child's, agreeing with the one given), the gender its 17th digit
    encodes (odd: male), and one person, one file (the duplicate check ``create_child`` runs, without its lock;
    a file held elsewhere is named by its community only, as the 409 does)."""
    principal.require("child_director")
    number = id_number.strip().upper()
    problems: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    problem = resident_id_problem(number)
    if problem:
        return IdCheck([{"field": "id_number", "message": f"身份证号无效：{problem}"}], [])
    born = id_birth_date(number)
    encoded_gender = "male" if int(number[16]) % 2 else "female"
    today = clock.today()
    if born is None:
        problems.append({"field": "id_number", "message": "身份证号中的出生日期无效 (no such birth date)"})
    elif born > today:
        problems.append({"field": "id_number", "message": "身份证号中的出生日期晚于今天 (birth date in the future)"})
    elif age_on(born, today) >= 18:
        problems.append({"field": "id_number", "message": "已满18周岁，不属于儿童 (18 or older)"})
    if born is not None and birth_date is not None and birth_date != born:
        problems.append({"field": "birth_date", "message": "身份证号中的出生日期与出生日期不符 (birth date mismatch)"})
    if gender and gender != encoded_gender:
        warnings.append(
            {"field": "gender", "message": "身份证号第17位表示的性别与所选性别不符，请核对 (gender does not match)"}
        )
    held = await _file_holding(session, field_cipher(settings), number)
    if held is not None:
        name = await session.scalar(select(Community.name).where(Community.id == held.community_id)) or ""
        problems.append(
            {
                "field": "id_number",
                "message": f"该身份证号已在{name}建档，一人只能有一份档案；如需转入本社区，请提交转档申请 "
                "(one person, one file: ask its community for a transfer)",
            }
        )
    return IdCheck(problems, warnings, born, encoded_gender)


async def _duplicates(session: AsyncSession, child: Child) -> list[Warning]:
    warnings: list[Warning] = []
    same = list(
        (
            await session.scalars(
                select(Child.id).where(
                    Child.community_id == child.community_id,
                    # The name is encrypted: its blind index under every key of the ring (a rotation under way).
                    Child.name_hmac.in_(dialect_cipher(session.get_bind().dialect).name_hashes(child.name)),
                    Child.birth_date == child.birth_date,
                    Child.id != child.id,
                )
            )
        ).all()
    )
    if same:
        warnings.append(
            Warning(
                code="possible_duplicate",
                message="本社区已有同名同出生日期的儿童档案，请核实是否重复建档 (same name and birth date in this community)",
                child_ids=same,
            )
        )
    return warnings


# ---------------------------------------------------------------- children


async def create_child(
    session: AsyncSession, principal: Principal, settings: Settings, data: ChildIn
) -> tuple[Child, list[Warning]]:
    principal.require("child_director")
    community = await session.get(Community, data.community_id)
    if community is None or community.id != principal.community_id:
        raise Forbidden("只能为本社区儿童建档 (only for children of your own community)")
    values = msgspec.structs.asdict(data)
    _check_child_fields(values)
    cipher_ = _cipher(settings)
    today = clock.today()
    id_number = data.id_number.upper()
    await refuse_second_file(session, principal, cipher_, id_number)
    child = Child(
        community_id=community.id,
        street_id=community.street_id,
        name=data.name.strip(),
        gender=data.gender,
        birth_date=data.birth_date,
        id_number_enc=cipher_.encrypt(id_number, "children.id_number"),
        id_number_hmac=cipher_.lookup_hash(id_number),
        categories=list(dict.fromkeys(data.categories)),
        guardianship=data.guardianship,
        risk_level=data.risk_level,
        school=data.school,
        household_notes=data.household_notes,
        guardian_name=data.guardian_name,
        guardian_relation=data.guardian_relation,
        guardian_phone_enc=cipher_.encrypt(data.guardian_phone, "children.guardian_phone")
        if data.guardian_phone
        else None,
        address_enc=cipher_.encrypt(data.address, "children.address") if data.address else None,
        consent_to_share=data.consent_to_share,
        consent_recorded_on=today if data.consent_to_share else None,
        share_note=data.share_note,
        # A new file is due its first visit within the risk tier's interval from today.
        next_visit_due=next_visit_due(settings, data.risk_level, today),
        status="active",
        created_by=principal.user_id,
    )
    session.add(child)
    await session.flush()
    warnings = await _duplicates(session, child)
    await audit.record(session, principal, "create", "child", child.id, FILE_FIELDS)
    return child, warnings


def _cipher(settings: Settings) -> FieldCipher:
    return field_cipher(settings)


async def read_child(session: AsyncSession, principal: Principal, child_id: int) -> Child:
    child = await visible_child(session, principal, child_id)
    await audit.record_read(session, principal, "read", "child", [child.id], FILE_FIELDS)
    return child


async def list_children(
    session: AsyncSession,
    principal: Principal,
    f: ChildFilters,
    *,
    limit: int,
    offset: int,
    db: Database | None = None,
) -> tuple[list[Row[Any]], int]:
    """A page of the children ``principal`` may read (their summary columns: ``readmodel.query_children``) and the
    total, audited. Read through ``db.read`` when given (the API's hot path), else on the session's connection."""
    if db is not None:
        page, total = await db.read(query_children, principal, f, limit, offset)
    else:
        page, total = await session.run_sync(lambda s: query_children(s.connection(), principal, f, limit, offset))
    await audit.record_read(session, principal, "list", "child", [c.id for c in page], SUMMARY_FIELDS)
    return page, total


async def update_child(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: ChildPatch
) -> tuple[Child, list[Warning]]:
    child = await load_child(session, child_id, lock=True)
    require_director(principal, child)
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    if not values:
        return child, []
    check = dict(values)
    if "birth_date" in values or "id_number" in values:
        # Check the pair as it will stand after the change.
        check.setdefault("birth_date", child.birth_date)
        if "id_number" not in check:
            stored = masking.reveal(
                _cipher(settings).decrypt, child.id_number_enc, "children.id_number", f"child {child.id}"
            )
            if stored == masking.UNREADABLE:
                raise Invalid(
                    "已存身份证号无法解密，请同时重新填写身份证号 (the stored identity number cannot be decrypted: "
                    "send id_number with birth_date)",
                    errors=[{"field": "id_number", "message": "已存身份证号无法解密，请重新填写"}],
                )
            check["id_number"] = stored
    _check_child_fields(check)
    if "id_number" in values:
        await refuse_second_file(session, principal, _cipher(settings), values["id_number"].upper(), exclude=child.id)
    closing: list[Warning] = []
    if values.get("status") == "closed" and child.status != "closed":
        closing = await _close_open_work(session, child, principal.user_id)
    cipher_ = _cipher(settings)
    for field, value in values.items():
        if field == "id_number":
            child.id_number_enc = cipher_.encrypt(value.upper(), "children.id_number")
            child.id_number_hmac = cipher_.lookup_hash(value.upper())
        elif field == "guardian_phone":
            child.guardian_phone_enc = cipher_.encrypt(value, "children.guardian_phone") if value else None
        elif field == "address":
            child.address_enc = cipher_.encrypt(value, "children.address") if value else None
        elif field == "categories":
            child.categories = list(dict.fromkeys(value))
        elif field == "consent_to_share":
            if value != child.consent_to_share:
                child.consent_recorded_on = clock.today() if value else None
            child.consent_to_share = value
        else:
            setattr(child, field, value)
    if "risk_level" in values:
        base = child.last_visit_on or clock.local_date(child.created_at)
        child.next_visit_due = next_visit_due(settings, child.risk_level, base)
    await session.flush()
    warnings: list[Warning] = list(closing)
    if {"name", "birth_date"} & values.keys():
        warnings += await _duplicates(session, child)
    await audit.record(session, principal, "update", "child", child.id, sorted(values))
    return child, warnings


async def _close_open_work(session: AsyncSession, child: Child, closed_by: int | None) -> list[Warning]:
    """Closing a file ends what is still open for the child: its active needs are withdrawn here, and its
    referrals are revoked by the referrals feature on the ``cases.file_closed`` event once this change
    commits (a place an acceptance booked goes back to the service, the provider is told), so no provider
    keeps a place or a caseload for a child the district no longer follows. The response names what is
    withdrawn, so the director sees it."""
    revoked = list(await ports.open_referrals(session, child.id))
    outbox.emit(session, ports.FILE_CLOSED, {"child_id": child.id, "reason": CLOSED_FILE_REASON})
    needs = list(
        (
            await session.scalars(
                select(Need)
                .where(Need.child_id == child.id, Need.status.in_(lifecycle.ACTIVE_NEED_STATUSES))
                .order_by(Need.id)
                .with_for_update()
            )
        ).all()
    )
    for need in needs:
        lifecycle.move(need, "withdraw", by=closed_by)
    out: list[Warning] = []
    if revoked:
        out.append(
            Warning(
                code="referrals_revoked",
                message=f"档案结案，已撤回 {len(revoked)} 个进行中的转介并通知承接机构 "
                f"(closing the file revoked {len(revoked)} open referral(s))",
                child_ids=[child.id],
                referral_ids=revoked,
            )
        )
    if needs:
        out.append(
            Warning(
                code="needs_cancelled",
                message=f"档案结案，已撤销 {len(needs)} 个未了结的需求 (closing the file withdrew {len(needs)} open need(s))",
                child_ids=[child.id],
                need_ids=[n.id for n in needs],
            )
        )
    return out


async def reveal_contact(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, reason: str
) -> ContactRevealOut:
    """The guardian's phone and address in clear, for field work: to the child's director and the street's
    supervisor only, one child per request, with the stated reason written to the audit log at once."""
    child = await load_child(session, child_id)
    allowed = (principal.role == "child_director" and principal.community_id == child.community_id) or (
        principal.role == "child_supervisor" and principal.street_id == child.street_id
    )
    if not allowed:
        if can_read(principal, child.community_id, child.street_id):
            raise Forbidden("只有儿童主任或本街道督导员可查看联系方式 (only the child's director or supervisor)")
        raise NotFound(f"儿童档案 {child_id} 不存在 (child not found)")
    reason = reason.strip()
    if not reason:
        raise Invalid.field("reason", "请说明查看理由 (state the reason)")
    c = _cipher(settings)
    out = ContactRevealOut(
        child_id=child.id,
        guardian_name=child.guardian_name,
        guardian_relation=child.guardian_relation,
        guardian_phone=masking.reveal(
            c.decrypt, child.guardian_phone_enc, "children.guardian_phone", f"child {child.id}"
        ),
        address=masking.reveal(c.decrypt, child.address_enc, "children.address", f"child {child.id}"),
    )
    await audit.record(session, principal, "reveal", "child", child.id, CONTACT_FIELDS, {"reason": reason})
    return out


# ---------------------------------------------------------------- needs


async def create_need(session: AsyncSession, principal: Principal, child_id: int, data: NeedIn) -> Need:
    child = await load_child(session, child_id)
    require_director(principal, child)
    if data.category not in SERVICE_CATEGORIES:
        raise Invalid.field("category", f"未知服务类别 '{data.category}' (unknown service category)")
    if child.status != "active":
        raise Conflict("档案已结案，不能新增需求 (the file is closed)")
    need = Need(
        child_id=child.id,
        street_id=child.street_id,
        community_id=child.community_id,
        category=data.category,
        urgency=data.urgency,
        note=data.note,
        status="open",
        created_by=principal.user_id,
    )
    session.add(need)
    await session.flush()
    return need


async def visible_need(session: AsyncSession, principal: Principal, need_id: int, *, lock: bool = False) -> Need:
    stmt = select(Need).where(Need.id == need_id)
    if lock:
        stmt = stmt.with_for_update()
    need = await session.scalar(stmt)
    if need is None or not can_read(principal, need.community_id, need.street_id):
        raise NotFound(f"需求 {need_id} 不存在 (need not found)")
    return need


async def read_need(session: AsyncSession, principal: Principal, need_id: int) -> Need:
    """A need as its page or the API shows it (its note may carry a mandatory report's text): audited."""
    need = await visible_need(session, principal, need_id)
    await audit.record_read(session, principal, "read", "need", [need.id], NEED_FIELDS, {"child_id": need.child_id})
    return need


async def update_need(session: AsyncSession, principal: Principal, need_id: int, data: NeedPatch) -> Need:
    need = await visible_need(session, principal, need_id, lock=True)
    if not (principal.role == "child_director" and principal.community_id == need.community_id):
        raise Forbidden("只有本社区儿童主任可修改需求 (only the community's child director)")
    if data.status is not msgspec.UNSET:
        _change_need_status(need, data.status, principal.user_id)
    if data.urgency is not msgspec.UNSET:
        need.urgency = data.urgency
    if data.note is not msgspec.UNSET:
        need.note = data.note
    await session.flush()
    changed = [f for f in ("status", "urgency", "note") if getattr(data, f) is not msgspec.UNSET]
    await audit.record(session, principal, "update", "need", need.id, changed, {"child_id": need.child_id})
    return need


def _change_need_status(need: Need, status: str, by: int | None) -> None:
    """The director withdraws a need (``cancelled`` is the old word for it), or sends a partly met or unmet one
    back to the open list. A need a referral holds changes with the referral: revoke it first."""
    name = "reopen" if status == "open" else "withdraw"
    if need.status in lifecycle.HELD_NEED_STATUSES:
        raise Conflict(
            f"需求{NEED_STATUSES[need.status]}，请先撤回其转介 (a referral holds the need: revoke it first)",
            current_status=need.status,
            allowed=[],
        )
    lifecycle.move(need, name, by=by)


async def list_needs(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    street_id: int | None,
    child_id: int | None,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Need], int]:
    stmt = select(Need)
    clause = scope_clause(principal, Need.community_id, Need.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(Need.status == status)
    if street_id:
        stmt = stmt.where(Need.street_id == street_id)
    if child_id:
        stmt = stmt.where(Need.child_id == child_id)
    if category:
        stmt = stmt.where(Need.category == category)
    rows, total = await fetch_page(
        session, stmt, Need.urgency.desc(), Need.created_at, Need.id, limit=limit, offset=offset
    )
    await audit.record_read(session, principal, "list", "need", [n.id for n in rows], NEED_FIELDS)
    return rows, total


async def open_need_counts(session: AsyncSession, principal: Principal, child_ids: list[int]) -> dict[int, int]:
    """How many needs each of ``child_ids`` has still open or being met (the caller's scope applies: a child
    outside it counts nothing)."""
    if not child_ids:
        return {}
    stmt = (
        select(Need.child_id, func.count())
        .where(Need.child_id.in_(child_ids), Need.status.in_(lifecycle.ACTIVE_NEED_STATUSES))
        .group_by(Need.child_id)
    )
    clause = scope_clause(principal, Need.community_id, Need.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    return {int(cid): int(n) for cid, n in (await session.execute(stmt)).all()}


# ---------------------------------------------------------------- visits


async def create_visit(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: VisitIn
) -> tuple[Visit, Child]:
    child = await load_child(session, child_id, lock=True)
    require_director(principal, child)
    today = clock.today()
    if data.visited_on > today:
        raise Invalid.field("visited_on", "走访日期不能晚于今天 (visit date in the future)")
    if data.visited_on < child.birth_date:
        raise Invalid.field("visited_on", "走访日期早于出生日期 (visit before birth)")
    if data.next_visit_due is not None and data.next_visit_due < data.visited_on:
        raise Invalid.field("next_visit_due", "下次走访日期不能早于本次走访 (next visit before this one)")
    due = next_visit_due(settings, child.risk_level, data.visited_on, data.next_visit_due)
    visit = Visit(
        child_id=child.id,
        visited_on=data.visited_on,
        kind=data.kind,
        findings=data.findings,
        next_visit_due=due,
        created_by=principal.user_id,
    )
    session.add(visit)
    # A visit recorded late (older than the latest) does not move the schedule back.
    if child.last_visit_on is None or data.visited_on >= child.last_visit_on:
        child.last_visit_on = data.visited_on
        child.next_visit_due = due
    await session.flush()
    await audit.record(session, principal, "create", "visit", visit.id, VISIT_FIELDS, {"child_id": child.id})
    return visit, child


async def list_visits(
    session: AsyncSession, principal: Principal, child_id: int, *, limit: int, offset: int
) -> tuple[list[Visit], Child, int]:
    child = await visible_child(session, principal, child_id)
    stmt = select(Visit).where(Visit.child_id == child.id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(Visit.visited_on.desc(), Visit.id.desc()).limit(limit).offset(offset))
    await audit.record_read(session, principal, "read", "child", [child.id], ["visits"])
    return list(rows.all()), child, total


async def overdue_visits(
    session: AsyncSession, principal: Principal, *, street_id: int | None, limit: int, offset: int
) -> tuple[list[Child], int]:
    stmt = select(Child).where(Child.status == "active", Child.next_visit_due < clock.today())
    clause = scope_clause(principal, Child.community_id, Child.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if street_id:
        stmt = stmt.where(Child.street_id == street_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        (await session.scalars(stmt.order_by(Child.next_visit_due, Child.id).limit(limit).offset(offset))).all()
    )
    await audit.record_read(
        session, principal, "list", "child", [c.id for c in rows], ["name", "risk_level", "next_visit_due"]
    )
    return rows, total
