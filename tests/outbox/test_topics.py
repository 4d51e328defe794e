"""Every outbox topic is known: handled, or declared record-only with its reason. Checked three ways: every
``emit(`` in the code, the demo's events (processed on first start without a warning), and ``emit`` itself (under
``outbox.STRICT``, which tests/conftest.py sets, an undeclared topic is refused at once)."""

from __future__ import annotations

import ast
import importlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from marketplace import outbox
from marketplace.db import Database
from marketplace.features import load_models
from marketplace.outbox import OutboxEvent
from marketplace.referrals.service import REFERRAL_LIFECYCLE

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "admin", "workers", "search")
# Topics built at run time, by their source text: every topic the expression can give.
COMPUTED: dict[str, Callable[[], set[str]]] = {
    "f'referrals.{name}'": lambda: {f"referrals.{name}" for name in REFERRAL_LIFECYCLE.transitions},
}


def emitted_topics() -> dict[str, set[str]]:
    """Every topic the code can emit -> where (file:line), from each ``emit(session, topic, ...)`` call."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module_name = ".".join(rel.with_suffix("").parts)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                fn = node.func
                is_emit = (
                    isinstance(fn, ast.Attribute) and fn.attr == "emit" and ast.unparse(fn.value) == "outbox"
                ) or (isinstance(fn, ast.Name) and fn.id == "emit" and module_name == "marketplace.outbox")
                if not is_emit:
                    continue
                arg = node.args[1] if len(node.args) > 1 else next(k.value for k in node.keywords if k.arg == "topic")
                for topic in resolve(arg, module_name):
                    found.setdefault(topic, set()).add(f"{rel}:{node.lineno}")
    return found


def resolve(arg: ast.expr, module_name: str) -> set[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    source = ast.unparse(arg)
    if source in COMPUTED:
        return COMPUTED[source]()
    if isinstance(arg, ast.Name | ast.Attribute):  # a constant of the module, or of a module it imports
        value = eval(source, vars(importlib.import_module(module_name)))
        assert isinstance(value, str), f"{module_name}: {source} is not a topic"
        return {value}
    raise AssertionError(f"{module_name}: emit's topic {source} cannot be resolved: add it to COMPUTED")


def test_every_topic_the_code_emits_is_handled_or_declared_record_only() -> None:
    load_models()
    topics = emitted_topics()
    assert len(topics) >= 25, sorted(topics)  # the walk found the features' emits
    assert "referrals.accept" in topics and "cases.mandatory_report" in topics  # computed and imported names
    unknown = {t: sorted(where) for t, where in topics.items() if t not in outbox.known_topics()}
    assert unknown == {}, "give each a handler or outbox.record_only(topic, reason)"
    both = set(outbox.handlers()) & set(outbox.record_only_topics())
    assert both == set()
    assert all(reason.strip() for reason in outbox.record_only_topics().values())
    # Nothing is declared for a topic nobody emits (a stale declaration hides nothing, but misleads).
    stale = set(outbox.record_only_topics()) - set(topics)
    assert stale == set()


def test_emit_refuses_an_undeclared_topic_under_strict() -> None:
    assert outbox.STRICT, "tests/conftest.py sets outbox.STRICT"
    with pytest.raises(outbox.UnknownTopic, match=r"no\.such\.topic"):
        outbox.emit(None, "no.such.topic", {})  # type: ignore[arg-type]  # refused before the session is touched


def test_a_topic_is_declared_with_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        outbox.record_only("test.unreasoned", " ")
    assert "test.unreasoned" not in outbox.known_topics()


async def test_record_only_events_are_done_quietly_and_undeclared_ones_are_flagged(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(outbox._RECORD_ONLY, "test.record", "a test's record")
    async with db.session() as s:
        recorded = outbox.emit(s, "test.record", {})
        monkeypatch.setattr(outbox, "STRICT", False)  # as in production: an undeclared topic gets through emit
        stray = outbox.emit(s, "test.undeclared", {})
        await s.flush()
        ids = outbox.take_pending(s)
    with caplog.at_level(logging.WARNING, logger="marketplace.outbox"):
        await outbox.relay(db, ids, None)
    async with db.session(write=False) as s:
        rows = {e.id: e for e in (await s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids)))).all()}
    assert rows[recorded.id].processed_at is not None and rows[recorded.id].last_error is None
    assert rows[stray.id].processed_at is not None and "no handler" in (rows[stray.id].last_error or "")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "test.undeclared" in warned[0], warned


async def test_the_demo_events_are_all_known_and_processed_without_a_warning(
    demo_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    db = demo_db
    async with db.session(write=False) as s:
        waiting = (await s.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None)))).all()
    topics = {e.topic for e in waiting}
    assert len(waiting) >= 100 and {"funds.donation_succeeded", "funds.disbursed"} <= topics
    assert topics <= outbox.known_topics(), topics - outbox.known_topics()
    with caplog.at_level(logging.WARNING):
        swept = 0
        while batch := await outbox.sweep(db, None, older_than_seconds=0):  # the first start's sweep, in process
            swept += batch
    async with db.session(write=False) as s:
        events = (await s.scalars(select(OutboxEvent))).all()
    assert swept >= len(waiting)
    assert [e.id for e in events if e.processed_at is None or e.last_error is not None] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
