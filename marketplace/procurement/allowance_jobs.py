"""Allowance runs prepared in the background, with progress a browser can poll.

``start`` checks what it can at once (a bad request is refused there: 4xx, nothing written), writes the run as
``preparing`` with its request and emits ``allowances.prepare``; the handler (``run_prepare``, after the request has
committed: in process, or on the worker) finds who is paid, committing its progress after each step, then writes the
list and commits the budget in one transaction. A refusal found then (the budget line lacks room, nobody to pay)
leaves the run ``failed`` with the Chinese reason and nothing else written. Safe to run twice.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.auth.service import principal_of
from marketplace.cases.crypto import FieldCipher, dialect_cipher
from marketplace.errors import Conflict, NotFound
from marketplace.procurement import allowance_oneoff as oneoff
from marketplace.procurement import allowances
from marketplace.procurement.models import AllowanceRun
from marketplace.procurement.service import require_write
from marketplace.settings import Settings

log = logging.getLogger("marketplace.procurement")

TOPIC = "allowances.prepare"


async def start_monthly(
    session: AsyncSession, principal: Principal, month: str, *, budget_id: int | None
) -> AllowanceRun:
    """Queue the month's run (checked now: the month and the budget; who is paid: in the background)."""
    require_write(principal)
    allowances.month_start(month)
    chosen = await allowances._budget_for(session, month, budget_id)
    run = AllowanceRun(
        month=month,
        budget_id=chosen.id,
        kind="monthly",
        status="preparing",
        params={"kind": "monthly", "month": month, "budget_id": chosen.id},
        steps_total=2,
        created_by=principal.account_id,
    )
    return await _queue(session, run)


async def start_one_off(session: AsyncSession, principal: Principal, req: oneoff.OneOffRequest) -> AllowanceRun:
    """Queue a festival or special run. A special run's short list is checked whole now (a child who is not
    eligible is refused at once); a festival's district-wide list is found in the background."""
    require_write(principal)
    if req.kind == "special":
        checked = await oneoff.check(session, principal, req)
        line = checked.line
    else:
        oneoff.validate_shape(req)
        line = await oneoff._line(session, req)
        await oneoff._title_taken(session, req, exclude=None)
    assert req.pay_date is not None
    run = AllowanceRun(
        month=f"{req.pay_date.year:04d}-{req.pay_date.month:02d}",
        budget_id=line.budget_id,
        kind=req.kind,
        title=req.title.strip()[:120],
        pay_date=req.pay_date,
        line_id=line.id,
        status="preparing",
        params=_sealed_reasons(req.as_params(), dialect_cipher(session.get_bind().dialect)),
        steps_total=2,
        created_by=principal.account_id,
    )
    return await _queue(session, run)


# A special run's reasons wait in the run's parameters while it is prepared: sealed like the payments' own
# ``reason`` column (they may describe a child's circumstances), and emptied once the run is prepared or failed.
PARAMS_REASON = "allowance_runs.params.reason"


def _sealed_reasons(params: dict[str, object], cipher: FieldCipher) -> dict[str, object]:
    payees = params.get("payees")
    if not isinstance(payees, list):
        return params
    sealed = [
        {**p, "reason": cipher.encrypt(str(p["reason"]), PARAMS_REASON) if p.get("reason") else ""} for p in payees
    ]
    return {**params, "payees": sealed}


def _opened_reasons(params: dict[str, object], cipher: FieldCipher) -> dict[str, object]:
    payees = params.get("payees")
    if not isinstance(payees, list):
        return params
    opened = [
        {**p, "reason": cipher.decrypt(str(p["reason"]), PARAMS_REASON) if p.get("reason") else ""} for p in payees
    ]
    return {**params, "payees": opened}


def _without_reasons(params: dict[str, object]) -> dict[str, object]:
    payees = params.get("payees")
    if not isinstance(payees, list) or not payees:
        return params
    return {**params, "payees": [{**p, "reason": ""} for p in payees]}


async def _queue(session: AsyncSession, run: AllowanceRun) -> AllowanceRun:
    session.add(run)
    await session.flush()
    outbox.emit(session, TOPIC, {"run_id": run.id})
    return run


def progress_percent(run: AllowanceRun) -> int:
    if run.status != "preparing":
        return 100
    return min(99, int(100 * run.steps_done / run.steps_total)) if run.steps_total else 0


async def run_prepare(session: AsyncSession, run_id: int, settings: Settings) -> None:
    """Prepare a queued run, committing its progress after each step. Safe to run twice."""
    run = await session.get(AllowanceRun, run_id)
    if run is None or run.status != "preparing":
        return
    try:
        user = await session.get(User, run.created_by) if run.created_by is not None else None
        if user is None or not user.is_active:
            raise NotFound("发起编制的账号已停用 (the requesting account is disabled)")
        principal = principal_of(user)

        async def progress(done: int, total: int) -> None:
            run.steps_done, run.steps_total = done, total
            await session.commit()

        if run.kind == "monthly":
            await progress(1, 2)
            await oneoff.still_preparing(session, run.id)
            result = await allowances.run_month(
                session,
                principal,
                str(run.params.get("month", run.month)),
                budget_id=run.budget_id,
                region=settings.allowances.region,
                run=run,
            )
            if result.run_id is None:
                raise Conflict(
                    f"{run.month} 没有新增可发放的对象（均已发放或未登记收款人 {result.missing_payee} 人）(nobody to pay)"
                )
        else:
            cipher = dialect_cipher(session.get_bind().dialect)
            req = oneoff.OneOffRequest.from_params(_opened_reasons(run.params, cipher))
            checked = await oneoff.check(session, principal, req, run_id=run.id, progress=progress)
            await oneoff.write(session, principal, checked, run=run)
    except Exception as exc:
        await session.rollback()
        failed = await session.get(AllowanceRun, run_id)
        # Prepared meanwhile by another delivery of the task: its outcome stands.
        if failed is None or failed.status != "preparing":
            return
        if not hasattr(exc, "detail"):
            log.exception("allowance run %s failed", run_id)
        failed.status, failed.error = "failed", str(getattr(exc, "detail", exc))[:2000]
        failed.params = _without_reasons(failed.params)
        return
    run.steps_done = run.steps_total
    run.params = _without_reasons(run.params)
