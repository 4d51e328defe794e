"""The staff web console (server-rendered, under /admin)."""

from __future__ import annotations

from typing import Any


def routes() -> list[Any]:
    """The console's route handlers; mounted by the app factory."""
    return []
