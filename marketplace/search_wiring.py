"""Attach the search backend to the app state (the search issue fills in the backends)."""

from __future__ import annotations

from litestar.datastructures import State

from marketplace.settings import Settings


def attach_search(state: State, settings: Settings) -> None:
    state.search = None
