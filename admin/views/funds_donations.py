"""The fund manager's gifts in the console: an offline gift recorded with its donor found or created as the name is
typed, the gift's page (refund and purpose change, each previewed before it posts), its printable receipt
(original, then copies), the donor list, and a disbursement within a purpose's balance.

Every form calls the same services as the API. A preview runs the real change and rolls it back, so what it shows
(the journal lines, or the API's refusal) is exactly what posting would do; a refused form is drawn again in place
with the API's Chinese message and the values typed, and nothing is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import DomainError, Invalid
from marketplace.funds import accounts, corrections, purposes, receipts
from marketplace.funds import donations as gifts
from marketplace.funds import service as funds
from marketplace.funds.models import (
    Disbursement,
    Donation,
    DonationRefund,
    Donor,
    JournalEntry,
    LedgerAccount,
    Posting,
    PurposeChange,
)
from marketplace.funds.schemas import DisbursementIn, OfflineDonationIn, OfflineRefundIn, PurposeChangeIn
from marketplace.geography.models import Street
from marketplace.ids import PathId
from marketplace.resources.models import Service
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES

DONOR_KINDS = {"individual": "个人", "enterprise": "企业", "organization": "社会组织"}
FIELD_LABELS = {
    "fund_id": "基金",
    "amount_fen": "金额",
    "amount": "金额",
    "channel": "方式",
    "received_on": "到账日期",
    "reference": "流水号",
    "note": "备注",
    "name": "捐赠人名称",
    "kind": "捐赠人类型",
    "email": "电子邮箱",
    "phone": "电话",
    "purpose": "用途",
    "reason": "退款原因",
    "consent_note": "捐赠人同意的内容",
    "consent_reference": "同意凭证",
    "memo": "拨付说明",
    "service_id": "服务项目",
    "referral_id": "转介编号",
    "paid_on": "拨付日期",
}
DONOR_PAGE = 30


# ---------------------------------------------------------------- helpers


def _schema(schema: type[Any], values: dict[str, Any]) -> Any:
    """The posted form as the API's request schema: the same limits, refused with a Chinese field message."""
    try:
        return msgspec.convert(values, schema, strict=False)
    except msgspec.ValidationError as exc:
        found = re.search(r"\$\.([a-z_.]+)", str(exc))
        field = found.group(1).rsplit(".", 1)[-1] if found else "form"
        label = FIELD_LABELS.get(field, field)
        raise Invalid.field(field, f"请检查“{label}”的填写 (invalid {field})") from exc


def yuan_to_fen(raw: str, field: str = "amount") -> int:
    """A typed amount in yuan (1,200.50 or ¥12000) as integer fen."""
    fen = web.parse_yuan(raw, max_digits=12)
    if fen is None or fen < 0:
        raise Invalid.field(field, "请填写金额（元），如 12000 或 12000.50，最多两位小数 (amount in yuan)")
    if fen == 0:
        raise Invalid.field(field, "金额须大于 0 (amount must be positive)")
    return fen


def _day(raw: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid.field(field, "请填写日期，格式 YYYY-MM-DD (a date is required)") from None


def _id(raw: str, field: str, label: str) -> int | None:
    text = raw.strip().lstrip("#")
    if not text:
        return None
    if not text.isdigit() or len(text) > 9 or int(text) == 0:
        raise Invalid.field(field, f"{label}应为编号数字 ({field} must be a number)")
    return int(text)


_redirect = web.after_change


async def _postings(session: AsyncSession, entry_id: int | None, fund_id: int) -> list[dict[str, Any]]:
    """A journal entry's lines in words: 借/贷, the account by name, the amount."""
    if entry_id is None:
        return []
    rows = (
        await session.execute(
            select(LedgerAccount.code, Posting.amount_fen)
            .join(Posting, Posting.account_id == LedgerAccount.id)
            .where(Posting.entry_id == entry_id)
            .order_by(Posting.id)
        )
    ).all()
    names = await purposes.labels(session, {code.split(":", 3)[3] for code, _ in rows if code.count(":") >= 3})
    return [
        {"side": "借" if fen > 0 else "贷", "account": account_label(code, fund_id, names), "amount_fen": abs(fen)}
        for code, fen in rows
    ]


def account_label(code: str, fund_id: int, names: dict[str, str]) -> str:
    rest = code.removeprefix(accounts.prefix(fund_id))
    kind, _, purpose = rest.partition(":")
    fixed = {"cash": "银行存款", "in_kind": "实物资产", "fees": "手续费"}
    if kind in fixed:
        return fixed[kind]
    label = names.get(purpose) or accounts.purpose_label(purpose)
    if kind == "income":
        return f"捐赠收入（{label}）"
    if kind == "spend":
        return f"公益支出（{label}）"
    return code


async def purpose_choices(session: AsyncSession, fund_id: int | None) -> list[tuple[str, str, int | None]]:
    """The purposes a gift can be given for, by name: the fund's own (with what is left), then every service
    category, street and child group not yet among them."""
    held: dict[str, int] = {}
    if fund_id is not None:
        b = await funds.fund_balances(session, await funds.get_fund(session, fund_id))
        # A micro-project's purpose is no gift's (its money comes from the fund's approval of the project).
        held = {p: v["available_fen"] for p, v in b.purposes.items() if not p.startswith("project:")}
    streets = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    wanted = [accounts.UNRESTRICTED, *sorted(held)]
    wanted += [f"category:{c}" for c in SERVICE_CATEGORIES]
    wanted += [f"street:{i}" for i, _ in streets]
    wanted += [f"group:{c}" for c in CHILD_CATEGORIES]
    names = await purposes.labels(session, wanted)
    seen: set[str] = set()
    out: list[tuple[str, str, int | None]] = []
    for p in wanted:
        if p not in seen:
            seen.add(p)
            out.append((p, names[p], held.get(p)))
    return out


def _designation(purpose: str) -> gifts.Designation | None:
    kind, value = accounts.parse_purpose(purpose)
    if kind == accounts.UNRESTRICTED:
        return None
    if kind == "project":
        raise Invalid.field("purpose", "民生微实事项目不接受定向捐赠 (a micro-project takes no designated gift)")
    return gifts.Designation(
        category=value if kind == "category" else None,  # type: ignore[arg-type]
        street_id=value if kind == "street" else None,  # type: ignore[arg-type]
        service_id=value if kind == "service" else None,  # type: ignore[arg-type]
        child_category=value if kind == "group" else None,  # type: ignore[arg-type]
    )


async def _fund_list(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    return [{"id": f.id, "name": f.name} for f in await funds.list_funds(session, principal)]


# ---------------------------------------------------------------- an offline gift


async def _gift_context(
    session: AsyncSession, principal: Principal, values: dict[str, str], error: str | None = None, field: str = ""
) -> dict[str, Any]:
    fund_list = await _fund_list(session, principal)
    ids = [f["id"] for f in fund_list]
    chosen = values.get("fund_id", "")
    fund_id = int(chosen) if chosen.isdigit() and int(chosen) in ids else (ids[0] if ids else None)
    known = None
    if values.get("donor_id", "").isdigit() and len(values["donor_id"]) < 10:
        known = await session.get(Donor, int(values["donor_id"]))
    return {
        "values": values,
        "error": error,
        "error_field": field,
        "funds": fund_list,
        "channels": gifts.OFFLINE_CHANNELS,
        "donor_kinds": DONOR_KINDS,
        "purposes": await purpose_choices(session, fund_id) if fund_id else [],
        "known_donor": known,
        "today": clock.today().isoformat(),
    }


@get("/funds/donations/new", name="console-fund-gift-new")
async def new_gift_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    funds.require_writer(principal)
    ctx = await _gift_context(session, principal, {"channel": "bank_transfer", "consent": "anonymous"})
    return web.render("funds_gift_new.html", **ctx, **web.page_context(request, principal, "funds"))


@get("/funds/donors/search", name="console-fund-donor-search")
async def donor_search(
    session: DbSession,
    principal: CurrentUser,
    q: Annotated[str, QueryParameter(max_length=100)] = "",
    donor_name: Annotated[str, QueryParameter(max_length=200)] = "",
) -> Response[str]:
    """The donors whose name, phone, e-mail or credit code hold what is typed (the API's GET /api/v1/donors?q=);
    the gift form sends its name field as typed."""
    funds.require_reader(principal)
    typed = (q or donor_name).strip()[:100]
    rows: list[gifts.DonorSummary] = []
    total = 0
    if typed:
        rows, total = await gifts.list_donors(session, principal, q=typed, limit=8, offset=0)
    return web.render("_funds_donor_matches.html", rows=rows, total=total, q=typed, kinds=DONOR_KINDS)


def _gift_payload(form: dict[str, str]) -> tuple[dict[str, Any], int | None]:
    donor_id = _id(form.get("donor_id", ""), "donor_id", "捐赠人")
    consent = form.get("consent", "")
    if consent not in ("named", "anonymous"):
        raise Invalid.field("consent", "请选择捐赠人是否同意公开署名 (consent to be named)")
    name = form.get("donor_name", "").strip()
    if not name:
        raise Invalid.field("name", "请填写捐赠人姓名或单位名称，或从搜索结果中选择 (donor name required)")
    donor: dict[str, Any] = {
        "name": name,
        "kind": form.get("donor_kind", "individual") or "individual",
        "anonymous": consent == "anonymous",
    }
    for key in ("email", "phone", "credit_code"):
        if value := form.get(f"donor_{key}", "").strip():
            donor[key] = value
    if not form.get("purpose"):
        raise Invalid.field("purpose", "请选择用途 (choose a purpose)")
    accounts.parse_purpose(form["purpose"])
    payload = {
        "fund_id": form.get("fund_id", ""),
        "amount_fen": yuan_to_fen(form.get("amount", "")),
        "channel": form.get("channel", ""),
        "donor": donor,
        "received_on": form.get("received_on", "").strip(),
        "note": form.get("note", "").strip(),
    }
    if reference := form.get("reference", "").strip():
        payload["reference"] = reference
    return payload, donor_id


@post("/funds/donations/new", name="console-fund-gift-create")
async def create_gift(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    funds.require_writer(principal)
    values = {k: v[:500] for k, v in form.items()}
    try:
        payload, donor_id = _gift_payload(values)
        data: OfflineDonationIn = _schema(OfflineDonationIn, payload)
        donation = await gifts.record_offline(
            session,
            principal,
            fund_id=data.fund_id,
            amount_fen=data.amount_fen,
            channel=data.channel,
            donor=gifts.DonorInput(
                name=data.donor.name,
                kind=data.donor.kind,
                email=data.donor.email,
                phone=data.donor.phone,
                anonymous=data.donor.anonymous,
                credit_code=data.donor.credit_code,
            ),
            designation=_designation(values["purpose"]),
            received_on=data.received_on,
            reference=data.reference,
            note=data.note,
            donor_id=donor_id,
        )
    except DomainError as exc:
        await web.abandon(session)
        ctx = await _gift_context(session, principal, values, exc.detail, _error_field(exc))
        template = "_funds_gift_form.html" if web.is_htmx(request) else "funds_gift_new.html"
        return web.render(template, status_code=exc.status_code, **ctx, **web.page_context(request, principal, "funds"))
    return _redirect(request, f"/admin/funds/donations/{donation.id}?done=recorded")


def _error_field(exc: DomainError) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("field", "")).removeprefix("donor.")
    return ""


# ---------------------------------------------------------------- the gift's page


async def _donation_context(
    session: AsyncSession, principal: Principal, donation_id: int, **extra: Any
) -> dict[str, Any]:
    d = await gifts.read_donation(session, principal, donation_id)
    names = await purposes.labels(session, [d.purpose])
    refunds = (
        await session.scalars(
            select(DonationRefund).where(DonationRefund.donation_id == d.id).order_by(DonationRefund.id)
        )
    ).all()
    changes = (
        await session.scalars(select(PurposeChange).where(PurposeChange.donation_id == d.id).order_by(PurposeChange.id))
    ).all()
    change_names = await purposes.labels(session, {p for c in changes for p in (c.from_purpose, c.to_purpose)})
    entries = (
        await session.execute(
            select(JournalEntry.id, JournalEntry.memo, JournalEntry.occurred_on)
            .where(JournalEntry.memo.like(f"捐赠 #{d.id} %"))
            .order_by(JournalEntry.id)
        )
    ).all()
    writable = d.status in ("succeeded", "partially_refunded")
    touched = await gifts.corrections_touching(session, d)
    return {
        "d": d,
        "purpose_label": names[d.purpose],
        "channel_label": gifts.CHANNELS.get(d.channel, d.channel),
        "status_label": gifts.DONATION_STATUSES.get(d.status, d.status),
        "left_fen": d.amount_fen - d.refunded_fen,
        "refunds": refunds,
        "changes": [(c, change_names[c.from_purpose], change_names[c.to_purpose]) for c in changes],
        "entries": [
            {"id": i, "memo": m, "on": o, "lines": await _postings(session, i, d.fund_id)} for i, m, o in entries
        ],
        "prints": await receipts.print_count(session, d.id),
        "corrections": [
            {
                "c": t.correction,
                "who": t.resolved_by,
                "kind": corrections.RESOLUTION_KINDS.get(t.correction.kind, t.correction.kind),
            }
            for t in touched
        ],
        "may_write": principal.role in funds.WRITERS,
        "may_refund": writable and d.channel != "stripe",
        "may_change": writable,
        "purposes": [p for p in await purpose_choices(session, d.fund_id) if p[0] != d.purpose],
        "refund_values": {},
        "change_values": {},
        "refund_error": None,
        "change_error": None,
        "today": clock.today().isoformat(),
        **extra,
    }


DONE = {
    "recorded": "捐赠已登记、入账，收据已开具",
    "refunded": "退款已登记入账",
    "changed": "用途已变更，捐赠人同意已记录",
}


@get("/funds/donations/{donation_id:int}", name="console-fund-donation")
async def donation_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    donation_id: PathId,
    done: Annotated[str, QueryParameter(max_length=20)] = "",
) -> Response[str]:
    ctx = await _donation_context(session, principal, donation_id, done=DONE.get(done, ""))
    return web.render("funds_donation.html", **ctx, **web.page_context(request, principal, "funds"))


def _refund_input(form: dict[str, str]) -> OfflineRefundIn:
    data: OfflineRefundIn = _schema(
        OfflineRefundIn,
        {
            "amount_fen": yuan_to_fen(form.get("amount", "")),
            "reference": form.get("reference", "").strip(),
            "reason": form.get("reason", "").strip(),
        },
    )
    return data


def _change_input(form: dict[str, str]) -> PurposeChangeIn:
    if not form.get("purpose"):
        raise Invalid.field("purpose", "请选择新用途 (choose the new purpose)")
    data: PurposeChangeIn = _schema(
        PurposeChangeIn,
        {
            "purpose": form.get("purpose", ""),
            "consent_note": form.get("consent_note", "").strip(),
            "consent_reference": form.get("consent_reference", "").strip(),
        },
    )
    return data


async def _gift_change(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    donation_id: int,
    form: dict[str, str],
    what: str,
    *,
    confirm: bool,
) -> Response[str]:
    """Refund or re-designate a gift: the preview runs the change, shows its journal lines and rolls it back; the
    confirmation runs it for good. A refusal draws the form again with the message and the values typed."""
    values = {k: v[:500] for k, v in form.items()}
    try:
        if what == "refund":
            r = _refund_input(values)
            donation = await gifts.refund_offline(
                session, principal, donation_id, amount_fen=r.amount_fen, reference=r.reference, reason=r.reason
            )
            key = f"refund:{donation.channel}:{r.reference}"
            entry_id = await session.scalar(select(JournalEntry.id).where(JournalEntry.idempotency_key == key))
        else:
            c = _change_input(values)
            donation = await gifts.change_purpose(
                session,
                principal,
                donation_id,
                purpose=c.purpose,
                consent_note=c.consent_note,
                consent_reference=c.consent_reference,
            )
            entry_id = await session.scalar(
                select(PurposeChange.entry_id)
                .where(PurposeChange.donation_id == donation.id)
                .order_by(PurposeChange.id.desc())
                .limit(1)
            )
        lines = await _postings(session, entry_id, donation.fund_id)
        receipt_no = donation.receipt_no
    except DomainError as exc:
        await web.abandon(session)
        ctx = await _donation_context(
            session, principal, donation_id, **{f"{what}_values": values, f"{what}_error": exc.detail}
        )
        if web.is_htmx(request):
            return web.render(
                f"_funds_{what}_form.html", status_code=exc.status_code, **ctx, csrf=web.csrf_token(request)
            )
        return web.render(
            "funds_donation.html", status_code=exc.status_code, **ctx, **web.page_context(request, principal, "funds")
        )
    if confirm:
        return _redirect(
            request, f"/admin/funds/donations/{donation_id}?done={'refunded' if what == 'refund' else 'changed'}"
        )
    await web.abandon(session)
    ctx = await _donation_context(session, principal, donation_id)
    return web.render(
        "_funds_change_preview.html",
        **ctx,
        what=what,
        lines=lines,
        values=values,
        new_receipt=receipt_no,
        csrf=web.csrf_token(request),
    )


@post("/funds/donations/{donation_id:int}/refund/preview", name="console-fund-refund-preview")
async def preview_refund(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    donation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _gift_change(request, session, principal, donation_id, form, "refund", confirm=False)


@post("/funds/donations/{donation_id:int}/refund", name="console-fund-refund")
async def refund_gift(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    donation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _gift_change(request, session, principal, donation_id, form, "refund", confirm=True)


@post("/funds/donations/{donation_id:int}/purpose/preview", name="console-fund-purpose-preview")
async def preview_purpose_change(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    donation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _gift_change(request, session, principal, donation_id, form, "change", confirm=False)


@post("/funds/donations/{donation_id:int}/purpose", name="console-fund-purpose")
async def change_gift_purpose(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    donation_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    return await _gift_change(request, session, principal, donation_id, form, "change", confirm=True)


# ---------------------------------------------------------------- the receipt


@get("/funds/donations/{donation_id:int}/receipt", name="console-fund-receipt", opt={"writes": True})
async def receipt_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, donation_id: PathId
) -> Response[str]:
    """The printable receipt; each opening by the fund manager is recorded as a print, the first the original."""
    printed = await receipts.print_receipt(session, principal, donation_id)
    d = printed.donation
    return web.render(
        "funds_receipt.html",
        r=printed,
        donor_kind=DONOR_KINDS.get(d.donor.kind, d.donor.kind),
        channel_label=gifts.CHANNELS.get(d.channel, d.channel),
        **web.page_context(request, principal, "funds"),
    )


# ---------------------------------------------------------------- donors


@get("/funds/donors", name="console-fund-donors")
async def donors_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    q: Annotated[str, QueryParameter(max_length=100)] = "",
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    rows, total = await gifts.list_donors(
        session, principal, q=q.strip() or None, limit=DONOR_PAGE, offset=(page - 1) * DONOR_PAGE
    )
    gifts_of: dict[int, list[Donation]] = {}
    ids = [s.donor.id for s in rows]
    if ids:
        recent = await session.scalars(
            select(Donation).where(Donation.donor_id.in_(ids)).order_by(Donation.id.desc()).limit(500)
        )
        for g in recent.all():
            gifts_of.setdefault(g.donor_id, []).append(g)
    return web.render(
        "funds_donors.html",
        rows=rows,
        gifts_of=gifts_of,
        total=total,
        q=q.strip(),
        page=page,
        pages=max(1, -(-total // DONOR_PAGE)),
        kinds=DONOR_KINDS,
        statuses=gifts.DONATION_STATUSES,
        **web.page_context(request, principal, "funds"),
    )


# ---------------------------------------------------------------- disbursement


async def _disburse_context(
    session: AsyncSession, principal: Principal, values: dict[str, str], error: str | None = None
) -> dict[str, Any]:
    fund_list = await _fund_list(session, principal)
    balances = await funds.list_fund_balances(session, principal)
    names = await purposes.labels(session, {p for b in balances for p in b.purposes})
    services = (
        await session.execute(
            select(Service.id, Service.title).where(Service.status == "published").order_by(Service.title).limit(500)
        )
    ).all()
    return {
        "values": values,
        "error": error,
        "funds": fund_list,
        "balances": [
            {
                "fund": b.fund,
                "purposes": [
                    (p, names.get(p) or accounts.purpose_label(p), v["available_fen"])
                    for p, v in sorted(b.purposes.items())
                    # a micro-project's held money is paid by its acceptance (慈善资源), not from this form
                    if v["available_fen"] > 0 and not p.startswith("project:")
                ],
            }
            for b in balances
        ],
        "services": services,
        "today": clock.today().isoformat(),
    }


@get("/funds/disbursements/new", name="console-fund-disburse-new")
async def disburse_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    funds.require_writer(principal)
    ctx = await _disburse_context(session, principal, {"paid_on": clock.today().isoformat()})
    return web.render("funds_disburse.html", **ctx, **web.page_context(request, principal, "funds"))


async def _disburse(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, form: dict[str, str], *, confirm: bool
) -> Response[str]:
    funds.require_writer(principal)
    values = {k: v[:500] for k, v in form.items()}
    try:
        fund_id = _id(values.get("fund_id", ""), "fund_id", "基金")
        if fund_id is None:
            raise Invalid.field("fund_id", "请选择基金 (choose a fund)")
        payload: dict[str, Any] = {
            "amount_fen": yuan_to_fen(values.get("amount", "")),
            "purpose": values.get("purpose", ""),
            "memo": values.get("memo", "").strip(),
        }
        if not payload["purpose"]:
            raise Invalid.field("purpose", "请选择从哪个用途拨付 (choose a purpose)")
        for key, label in (("service_id", "服务项目"), ("referral_id", "转介编号")):
            if (value := _id(values.get(key, ""), key, label)) is not None:
                payload[key] = value
        if values.get("paid_on", "").strip():
            payload["paid_on"] = values["paid_on"].strip()
        data: DisbursementIn = _schema(DisbursementIn, payload)
        row: Disbursement = await funds.disburse(
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
        lines = await _postings(session, row.entry_id, fund_id)
        label = (await purposes.labels(session, [row.purpose]))[row.purpose]
    except DomainError as exc:
        await web.abandon(session)
        ctx = await _disburse_context(session, principal, values, exc.detail)
        template = "_funds_disburse_form.html" if web.is_htmx(request) else "funds_disburse.html"
        return web.render(template, status_code=exc.status_code, **ctx, **web.page_context(request, principal, "funds"))
    if confirm:
        return _redirect(request, f"/admin/funds?done=disbursed&disbursement={row.id}")
    await web.abandon(session)
    return web.render(
        "_funds_disburse_preview.html", lines=lines, values=values, purpose_label=label, csrf=web.csrf_token(request)
    )


@post("/funds/disbursements/preview", name="console-fund-disburse-preview")
async def preview_disbursement(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    return await _disburse(request, session, principal, form, confirm=False)


@post("/funds/disbursements", name="console-fund-disburse")
async def create_disbursement(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    return await _disburse(request, session, principal, form, confirm=True)


ROUTES = [
    new_gift_page,
    donor_search,
    create_gift,
    donation_page,
    preview_refund,
    refund_gift,
    preview_purpose_change,
    change_gift_purpose,
    receipt_page,
    donors_page,
    disburse_page,
    preview_disbursement,
    create_disbursement,
]
