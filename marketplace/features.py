"""Discovery of the feature packages, so a new feature plugs in without editing a central list."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import Any

import marketplace

_NOT_FEATURES = {"migrations", "demo"}


def feature_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(marketplace.__path__) if m.ispkg and m.name not in _NOT_FEATURES)


def _submodules(name: str) -> list[ModuleType]:
    found = []
    for feature in feature_names():
        spec = importlib.util.find_spec(f"marketplace.{feature}.{name}")
        if spec is not None:
            found.append(importlib.import_module(f"marketplace.{feature}.{name}"))
    return found


@cache
def load_models() -> None:
    """Import every feature's models so the metadata (and Alembic) sees all tables."""
    import marketplace.outbox  # noqa: F401

    _submodules("models")
    # Outbox handlers register on import.
    _submodules("handlers")


def route_handlers() -> list[Any]:
    routes: list[Any] = []
    for module in _submodules("controllers"):
        routes.extend(getattr(module, "ROUTES", []))
    return routes
