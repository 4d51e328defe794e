"""The safety feature's events on a child's timeline (stage: monitoring): warnings raised, regraded, acknowledged,
acted on, escalated, noted and resolved, and completed checks. No identity number or address: codes, grades,
the reasons' labels and the notes the director wrote."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases.loop import LoopEvent
from marketplace.cases.models import Child
from marketplace.safety import rules
from marketplace.safety.models import SafetyCheck, SafetyWarning, SafetyWarningEvent
from marketplace.safety.taxonomy import ANSWERS, EVENT_KINDS, GRADES, PREVENTIONS


async def loop_events(session: AsyncSession, child: Child) -> list[LoopEvent]:
    out: list[LoopEvent] = []
    reasons = {
        w.id: "；".join(str(r["label"]) for r in w.reasons)
        for w in (await session.scalars(select(SafetyWarning).where(SafetyWarning.child_id == child.id))).all()
    }
    events = await session.scalars(
        select(SafetyWarningEvent)
        .where(SafetyWarningEvent.child_id == child.id)
        .order_by(SafetyWarningEvent.created_at, SafetyWarningEvent.id)
    )
    for e in events.all():
        grade = GRADES.get(e.grade, e.grade)
        if e.kind == "regraded":
            title = f"预警等级变化：{GRADES.get(e.from_grade or '', '')} → {grade}"
        else:
            title = f"{grade}：{EVENT_KINDS.get(e.kind, e.kind)}"
        detail = e.note or (reasons.get(e.warning_id, "") if e.kind in {"raised", "regraded"} else "")
        out.append(
            LoopEvent(e.created_at, "monitoring", f"safety_{e.kind}", title, detail, "safety_warning", e.warning_id)
        )
    checks = await session.scalars(select(SafetyCheck).where(SafetyCheck.child_id == child.id))
    for c in checks.all():
        p = PREVENTIONS.get(c.prevention)
        label = p.label if p else c.prevention
        fix = "（更正）" if c.supersedes_id else ""
        missed = [p.items.get(k, k) for k, a in c.answers.items() if a == "missed"] if p else []
        detail = f"{ANSWERS['missed']}：{'、'.join(missed)}" if missed else "各项均已落实或不适用"
        out.append(
            LoopEvent(
                c.created_at,
                "monitoring",
                "safety_check",
                f"十防检查{fix}：{label}（{rules.season_label(c.season)}）",
                detail,
                "safety_check",
                c.id,
            )
        )
    return out
