"""Discovery of the feature packages, so a new feature plugs in without editing a central list.

This is the one place that loads project modules by name: a feature's ``models``, ``handlers``,
``controllers``, ``jobs`` and ``demo`` modules are found by convention here, and everything else imports what
it needs by its name in the source (tests/test_layers.py checks both).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from types import ModuleType
from typing import Any

import marketplace
from marketplace import outbox

_NOT_FEATURES = {"migrations", "demo"}

# Core tables that live outside the features (the outbox's events), kept registered with the metadata.
CORE_MODELS = (outbox.OutboxEvent,)


def feature_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(marketplace.__path__) if m.ispkg and m.name not in _NOT_FEATURES)


def feature_modules(name: str) -> list[ModuleType]:
    """Every feature's module called ``name`` (``marketplace.<feature>.<name>``) that exists, imported."""
    found = []
    for feature in feature_names():
        spec = importlib.util.find_spec(f"marketplace.{feature}.{name}")
        if spec is not None:
            found.append(importlib.import_module(f"marketplace.{feature}.{name}"))
    return found


@cache
def load_models() -> None:
    """Import every feature's models so the metadata (and Alembic) sees all tables."""
    feature_modules("models")
    # Outbox handlers register on import.
    feature_modules("handlers")


@cache
def load_jobs() -> None:
    """Import every feature's ``jobs`` module: their periodic jobs register in ``marketplace.tasks.JOBS``."""
    feature_modules("jobs")


def demo_modules() -> list[ModuleType]:
    """Each feature's ``demo`` module (with ``ORDER`` and ``load(session, ctx)``), in their order."""
    return sorted(feature_modules("demo"), key=lambda m: getattr(m, "ORDER", 100))


def route_handlers() -> list[Any]:
    routes: list[Any] = []
    for module in feature_modules("controllers"):
        routes.extend(getattr(module, "ROUTES", []))
    return routes
