"""One way to change state: named transitions, checked, so no illegal transition is possible."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from marketplace.errors import Conflict, Invalid


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    label: str = ""


class StateMachine:
    def __init__(self, entity: str, states: dict[str, str], transitions: Iterable[Transition]) -> None:
        self.entity = entity
        self.states = states
        self.transitions = {t.name: t for t in transitions}
        for t in self.transitions.values():
            unknown = (set(t.sources) | {t.target}) - set(states)
            if unknown:
                raise ValueError(f"{entity}.{t.name} names unknown states {unknown}")

    def target(self, current: str, name: str) -> str:
        transition = self.transitions.get(name)
        if transition is None:
            raise Invalid(f"未知操作 {name} (unknown {self.entity} transition)")
        if current not in transition.sources:
            raise Conflict(
                f"{self.states.get(current, current)}状态下不能执行“{transition.label or name}” "
                f"({self.entity} in state '{current}' cannot '{name}')",
                current_status=current,
                allowed=sorted(self.allowed(current)),
            )
        return transition.target

    def allowed(self, current: str) -> list[str]:
        return [t.name for t in self.transitions.values() if current in t.sources]
