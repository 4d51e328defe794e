"""The need lifecycle: the one way a need's status changes.

open → matched (a referral is sent) → in_service (the provider starts) → met | partly_met | not_met (the child's
director or the street's supervisor confirms the outcome with a verdict, after a follow-up visit), or withdrawn
(cancelled, the file closed, or the verdict that the need no longer exists). A declined or withdrawn referral puts
the need back to open; so may the caseworker after a partial or failed outcome, to refer again.

The provider's completion of a referral proposes an outcome and changes nothing here: the need stays in service
until the verdict.
"""

from __future__ import annotations

from typing import Final

from marketplace import clock
from marketplace.cases.models import Need
from marketplace.cases.taxonomy import NEED_STATUSES, SETTLED_NEED_STATUSES, VERDICTS
from marketplace.statemachine import StateMachine, Transition

NEED_LIFECYCLE: Final = StateMachine(
    "need",
    NEED_STATUSES,
    [
        Transition("match", frozenset({"open"}), "matched", "转介"),
        Transition("start", frozenset({"matched"}), "in_service", "开始服务"),
        Transition("reopen", frozenset({"matched", "in_service", "partly_met", "not_met"}), "open", "重新对接"),
        Transition("confirm_met", frozenset({"in_service"}), "met", "确认已满足"),
        Transition("confirm_partly_met", frozenset({"in_service"}), "partly_met", "确认部分满足"),
        Transition("confirm_not_met", frozenset({"in_service"}), "not_met", "确认未满足"),
        Transition("withdraw", frozenset({"open", "matched", "in_service"}), "withdrawn", "撤销"),
    ],
)
# The transition each verdict takes.
VERDICT_TRANSITION: Final[dict[str, str]] = {
    "met": "confirm_met",
    "partly_met": "confirm_partly_met",
    "not_met": "confirm_not_met",
    "withdrawn": "withdraw",
}
assert set(VERDICT_TRANSITION) == set(VERDICTS)
# Needs still waiting for help (a referral may be sent, or one is under way).
ACTIVE_NEED_STATUSES: Final = ("open", "matched", "in_service")
# Needs a referral holds (sent … completed): they change with the referral, not on their own.
HELD_NEED_STATUSES: Final = frozenset({"matched", "in_service"})


def move(need: Need, name: str, *, by: int | None = None) -> str:
    """Apply transition ``name`` to ``need`` (the caller holds its row lock and flushes); returns the new status.

    Raises Conflict (409, naming the allowed transitions) when the need's state does not allow it."""
    target = NEED_LIFECYCLE.target(need.status, name)
    need.status = target
    if target in SETTLED_NEED_STATUSES:
        need.settled_at, need.settled_by = clock.now(), by
        need.met_at = need.settled_at if target in ("met", "partly_met") else None
    else:
        need.settled_at = need.settled_by = need.met_at = None
    return target


def settle(need: Need, verdict: str, *, by: int | None) -> str:
    """The caseworker's verdict becomes the need's status."""
    return move(need, VERDICT_TRANSITION[verdict], by=by)
