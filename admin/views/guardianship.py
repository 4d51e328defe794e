"""Guardianship in the console: the board of entrusted guardianships nearing their review (and lapsed) and of the
temporary placements still open; a child's guardianship page (the arrangement now, its history, the director's
forms: entrusted confirmation, renewal, end, temporary placement and its end, long-term guardianship); the
assessment form rendered from the instrument's data (one question per block, phone first) and an assessment's
page with its score, result and the answers it was computed from.

Every read and write goes through ``guardianship.service`` with the session's Principal, as the API does, so the
console keeps its scope (another community's child is 404, a supervisor may read but not record: 403) and writes
the same audit rows; a form the service refuses is shown again in place with the Chinese message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views.children import parse, redirect
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.guardianship import instrument as inst
from marketplace.guardianship import service
from marketplace.guardianship.schemas import (
    AssessmentIn,
    EndIn,
    EntrustedIn,
    LongTermIn,
    RenewIn,
    TemporaryEndIn,
    TemporaryIn,
)
from marketplace.guardianship.taxonomy import TEMPORARY_OUTCOMES
from marketplace.ids import PathId

PAGE = 50
# The board lists the entrusted guardianships whose review falls within this many days (and the lapsed ones).
DUE_DAYS = 30
DONE = {
    "assessed": "监护评估已保存，得分与结论由系统按量表计算",
    "entrusted": "委托监护确认书已登记，档案监护方式已改为委托监护",
    "renewed": "委托监护已续签",
    "ended": "委托监护已终止，档案监护方式已改为家庭监护",
    "temporary": "临时监护已登记，档案监护方式已改为临时监护",
    "temporary_ended": "临时监护已结束",
    "long_term": "长期监护已登记，档案监护方式已改为长期监护",
}


_text = web.posted


def _clean(values: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The posted fields a schema takes, empty optional ones left out (the schema's default applies)."""
    return {n: _text(values, n) for n in names if _text(values, n)}


# ---------------------------------------------------------------- the board


@get("/guardianship", name="console-guardianship")
async def board(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    # The service applies the caller's scope (403 for roles without children's files) and audits both lists.
    due, due_total = await service.list_entrusted(
        session, principal, service.EntrustedFilters(due_within_days=DUE_DAYS), limit=PAGE, offset=(page - 1) * PAGE
    )
    placements, placements_total = await service.open_temporary(session, principal, limit=PAGE, offset=0)
    today = clock.today()
    return web.render(
        "guardianship.html",
        due=[service.entrusted_out(e, name, principal.role, today) for e, name in due],
        due_total=due_total,
        due_days=DUE_DAYS,
        placements=[(service.temporary_out(t), name, (today - t.started_on).days) for t, name in placements],
        placements_total=placements_total,
        page=page,
        pages=max(1, -(-due_total // PAGE)),
        today=today,
        **web.page_context(request, principal, "guardianship"),
    )


# ---------------------------------------------------------------- a child's guardianship


async def _child_reads(session: AsyncSession, principal: Principal, child_id: int) -> dict[str, Any]:
    child = await cases.visible_child(session, principal, child_id)
    g = await service.child_guardianship(session, principal, child_id)
    director = principal.role == "child_director" and principal.community_id == child.community_id
    return {
        "child_id": child.id,
        "child_name": child.name,
        "g": g,
        "director": director and child.status == "active",
        "outcomes": {k: v for k, v in TEMPORARY_OUTCOMES.items() if k != "long_term_state"},
        "today": clock.today(),
        "values": {},
    }


@get("/children/{child_id:int}/guardianship", name="console-child-guardianship")
async def child_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    reads = await _child_reads(session, principal, child_id)
    return web.render(
        "guardianship_child.html",
        error=None,
        message=DONE.get(done or ""),
        **reads,
        **web.page_context(request, principal, "guardianship"),
    )


async def _refused(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    exc: Exception,
    child_id: int,
    form: str,
    values: dict[str, Any],
) -> Response[str]:
    async def reads() -> dict[str, Any]:
        return {**await _child_reads(session, principal, child_id), "values": {"form": form, **values}}

    return await web.render_form_error(
        request,
        session,
        exc,
        "guardianship_child.html",
        principal=principal,
        active="guardianship",
        reads=reads,
        message=None,
    )


@post("/children/{child_id:int}/guardianship/entrusted", name="console-guardianship-entrust")
async def entrust(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    values = _clean(form, "person_name", "relationship", "contact_phone", "signed_on", "review_on", "note")
    try:
        await service.create_entrusted(session, principal, settings, child_id, parse(EntrustedIn, values))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, child_id, "entrusted", values)
    return redirect(request, f"/admin/children/{child_id}/guardianship?done=entrusted")


@post("/guardianship/entrusted/{entrusted_id:int}/renew", name="console-guardianship-renew")
async def renew(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    entrusted_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    child_id = int(_text(form, "child_id")) if _text(form, "child_id").isdigit() else 0
    values = _clean(form, "signed_on", "review_on", "contact_phone", "note")
    try:
        row = await service.renew_entrusted(session, principal, settings, entrusted_id, parse(RenewIn, values))
    except forms.FORM_ERRORS as exc:
        if not child_id:
            raise
        return await _refused(request, session, principal, exc, child_id, "renew", values)
    return redirect(request, f"/admin/children/{row.child_id}/guardianship?done=renewed")


@post("/guardianship/entrusted/{entrusted_id:int}/end", name="console-guardianship-end")
async def end(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    entrusted_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    child_id = int(_text(form, "child_id")) if _text(form, "child_id").isdigit() else 0
    values = _clean(form, "ended_on", "reason")
    try:
        row = await service.end_entrusted(session, principal, settings, entrusted_id, parse(EndIn, values))
    except forms.FORM_ERRORS as exc:
        if not child_id:
            raise
        return await _refused(request, session, principal, exc, child_id, "end", values)
    return redirect(request, f"/admin/children/{row.child_id}/guardianship?done=ended")


@post("/children/{child_id:int}/guardianship/temporary", name="console-guardianship-temporary")
async def temporary(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    values = _clean(form, "institution", "reason", "started_on")
    try:
        await service.create_temporary(session, principal, settings, child_id, parse(TemporaryIn, values))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, child_id, "temporary", values)
    return redirect(request, f"/admin/children/{child_id}/guardianship?done=temporary")


@post("/guardianship/temporary/{temporary_id:int}/end", name="console-guardianship-temporary-end")
async def end_temporary(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    temporary_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    child_id = int(_text(form, "child_id")) if _text(form, "child_id").isdigit() else 0
    values = _clean(form, "ended_on", "outcome", "assessment_id", "note")
    try:
        row = await service.end_temporary(session, principal, settings, temporary_id, parse(TemporaryEndIn, values))
    except forms.FORM_ERRORS as exc:
        if not child_id:
            raise
        return await _refused(request, session, principal, exc, child_id, "temporary_end", values)
    return redirect(request, f"/admin/children/{row.child_id}/guardianship?done=temporary_ended")


@post("/children/{child_id:int}/guardianship/long-term", name="console-guardianship-long-term")
async def long_term(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    values = _clean(form, "document_no", "decided_on", "institution", "started_on", "note")
    try:
        await service.create_long_term(session, principal, settings, child_id, parse(LongTermIn, values))
    except forms.FORM_ERRORS as exc:
        return await _refused(request, session, principal, exc, child_id, "long_term", values)
    return redirect(request, f"/admin/children/{child_id}/guardianship?done=long_term")


# ---------------------------------------------------------------- assessments


def _assess_context(
    child_id: int, child_name: str, answers: Mapping[str, str], assessed_on: str, note: str
) -> dict[str, Any]:
    return {
        "child_id": child_id,
        "child_name": child_name,
        "instrument": inst.CURRENT,
        "answers": dict(answers),
        "assessed_on": assessed_on,
        "note": note,
        "today": clock.today(),
    }


@get("/children/{child_id:int}/guardianship/assess", name="console-guardianship-assess-form")
async def assess_form(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, child_id: PathId
) -> Response[str]:
    child = await cases.visible_child(session, principal, child_id)
    cases.require_director(principal, child)
    return web.render(
        "guardianship_assess.html",
        error=None,
        **_assess_context(child.id, child.name, {}, clock.today().isoformat(), ""),
        **web.page_context(request, principal, "guardianship"),
    )


@post("/children/{child_id:int}/guardianship/assess", name="console-guardianship-assess")
async def assess(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    child_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    child = await cases.visible_child(session, principal, child_id)
    codes = [i.code for i in inst.CURRENT.items()]
    posted = {c: _text(form, f"answer_{c}") for c in codes}
    assessed_on, note = _text(form, "assessed_on"), _text(form, "note")
    name = child.name
    try:
        answers: dict[str, int] = {}
        errors = []
        for item in inst.CURRENT.items():
            value = posted[item.code]
            if value.lstrip("-").isdigit() and len(value) < 5:
                answers[item.code] = int(value)
            else:
                errors.append({"field": f"answer_{item.code}", "message": f"请回答“{item.label}”"})
        if errors:
            raise Invalid(f"还有 {len(errors)} 题未回答：{errors[0]['message']}", errors=errors)
        data = parse(
            AssessmentIn, {"answers": answers, "note": note, **({"assessed_on": assessed_on} if assessed_on else {})}
        )
        row = await service.create_assessment(session, principal, child_id, data)
    except forms.FORM_ERRORS as exc:
        if isinstance(exc, Invalid) and exc.errors:
            # The instrument's field names (answers.<code>) are the form's answer_<code>.
            exc.errors = [{**e, "field": e["field"].replace("answers.", "answer_")} for e in exc.errors]
        return await web.render_form_error(
            request,
            session,
            exc,
            "guardianship_assess.html",
            principal=principal,
            active="guardianship",
            **_assess_context(child_id, name, posted, assessed_on, note),
        )
    return redirect(request, f"/admin/guardianship/assessments/{row.id}?done=assessed")


@get("/guardianship/assessments/{assessment_id:int}", name="console-guardianship-assessment")
async def assessment_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    assessment_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    row = await service.read_assessment(session, principal, assessment_id)
    shown = (await service.present_assessments(session, [row]))[0]
    child = await cases.load_child(session, row.child_id)
    used = inst.get(row.instrument_code, row.instrument_version)
    return web.render(
        "guardianship_assessment.html",
        a=shown,
        instrument=used,
        child_name=child.name,
        message=DONE.get(done or ""),
        **web.page_context(request, principal, "guardianship"),
    )


ROUTES = [
    board,
    child_page,
    entrust,
    renew,
    end,
    temporary,
    end_temporary,
    long_term,
    assess_form,
    assess,
    assessment_page,
]
