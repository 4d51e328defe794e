"""One log format for every process: JSON lines with the request id and the record's extras, or text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from marketplace.observability import context, logs
from marketplace.settings import Settings, load_settings
from tests.support import databases


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return databases.test_settings("sqlite:///unused.db", tmp_path)


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, role = list(root.handlers), root.level, context.role()
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    context.set_role(role)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_json_line_carries_time_level_logger_role_request_id_extras_and_the_traceback(
    plain_settings: Settings, restore_root: None
) -> None:
    out = io.StringIO()
    logs.configure_logging(replace(plain_settings, log_format="json"), role="worker", stream=out, force=True)
    log = logging.getLogger("marketplace.test")
    with context.bound("abc123"):
        log.info("事件 %s 已处理", 7, extra={"event_id": 7, "topic": "service.changed"})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed")
    log.warning("outside a request")
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["ts"].endswith("Z") and first["ts"][10] == "T"
    assert first | {"ts": ""} == {
        "ts": "",
        "level": "INFO",
        "logger": "marketplace.test",
        "message": "事件 7 已处理",
        "role": "worker",
        "request_id": "abc123",
        "event_id": 7,
        "topic": "service.changed",
    }
    assert second["level"] == "ERROR" and second["request_id"] == "abc123"
    assert second["exc"].startswith("Traceback") and "RuntimeError: boom" in second["exc"]
    assert "request_id" not in third and third["message"] == "outside a request"
    assert len(out.getvalue().splitlines()) == 3  # the traceback is inside its line, not lines of its own


def test_text_for_a_terminal_json_for_anything_else(plain_settings: Settings, restore_root: None) -> None:
    assert logs.resolve_format("auto", Tty()) == "text"
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    assert logs.resolve_format("text", io.StringIO()) == "text"
    out = Tty()
    logs.configure_logging(plain_settings, role="serve", stream=out, force=True)  # auto
    with context.bound("req-1"):
        logging.getLogger("marketplace.test").info("hello", extra={"status": 200})
    line = out.getvalue().strip()
    assert " INFO marketplace.test [serve req-1] hello" in line and line.endswith("status=200"), line


def test_the_level_setting_filters_and_a_second_configuration_replaces_the_first(
    plain_settings: Settings, restore_root: None
) -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.configure_logging(replace(plain_settings, log_format="json"), role="cli", stream=first, force=True)
    settings = replace(plain_settings, log_format="json", log_level="WARNING")
    assert logs.configure_logging(settings, role="cli", stream=second) is not None  # ours: replaced without force
    log = logging.getLogger("marketplace.test")
    log.info("not shown")
    log.warning("shown")
    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["shown"]
    assert len(logging.getLogger().handlers) == 1


def test_a_root_logger_someone_else_configured_is_left_alone_unless_forced(
    plain_settings: Settings, restore_root: None
) -> None:
    root = logging.getLogger()
    foreign = logging.StreamHandler(io.StringIO())
    root.addHandler(foreign)
    assert logs.configure_logging(plain_settings, role="beat") is None
    assert foreign in root.handlers and context.role() == "beat"
    assert logs.configure_logging(plain_settings, role="beat", stream=io.StringIO(), force=True) is not None
    assert foreign not in root.handlers


def test_granian_lines_go_through_the_root_and_its_access_log_nowhere() -> None:
    config = logs.granian_log_config()
    assert config["loggers"]["_granian"] == {"handlers": [], "propagate": True}
    assert config["loggers"]["granian.access"]["level"] > logging.CRITICAL


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("MARKETPLACE_LOG_FORMAT", "JSON", "log_format", "json"),
        ("MARKETPLACE_LOG_FORMAT", "text", "log_format", "text"),
        ("MARKETPLACE_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("MARKETPLACE_METRICS_TOKEN", "t" * 24, "metrics_token", "t" * 24),
    ],
)
def test_log_and_metrics_settings_are_read(name: str, value: str, field: str, expected: str) -> None:
    assert getattr(load_settings({name: value}), field) == expected


def test_the_defaults() -> None:
    settings = load_settings({})
    assert (settings.log_format, settings.log_level, settings.metrics_token) == ("auto", "INFO", "")
    assert "metrics_token" not in repr(load_settings({"MARKETPLACE_METRICS_TOKEN": "s" * 30}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARKETPLACE_LOG_FORMAT", "xml"),
        ("MARKETPLACE_LOG_LEVEL", "LOUD"),
        ("MARKETPLACE_METRICS_TOKEN", "short"),
        ("MARKETPLACE_METRICS_TOKEN", "令牌" * 20),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        ("abc123", "abc123"),
        ("a.b-c_D9", "a.b-c_D9"),
        ("x" * 128, "x" * 128),
        ("x" * 129, None),
        ("", None),
        ("has space", None),
        ("中文", None),
        ("a\nb", None),
        (b"\xff", None),
    ],
)
def test_a_request_id_is_taken_only_when_sane(given: str | bytes, taken: str | None) -> None:
    assert context.sane(given) == taken


def test_an_extra_json_cannot_hold_still_gives_one_line(plain_settings: Settings, restore_root: None) -> None:
    out = io.StringIO()
    logs.configure_logging(replace(plain_settings, log_format="json"), role="cli", stream=out, force=True)
    log = logging.getLogger("marketplace.test")
    log.info("odd", extra={"data": {1: object()}, "big": 2**70, "path": Path("/tmp/x")})
    (line,) = (json.loads(x) for x in out.getvalue().splitlines())
    assert line["message"] == "odd" and line["path"] == "/tmp/x" and str(2**70) in str(line["big"])


def test_the_access_lines_short_way_writes_what_the_formatter_would(
    plain_settings: Settings, restore_root: None
) -> None:
    out = io.StringIO()
    logs.configure_logging(replace(plain_settings, log_format="json"), role="serve", stream=out, force=True)
    access = logging.getLogger("marketplace.access")
    fields = {"method": "GET", "route": "/health", "status": 200, "request_id": "rid-1"}
    assert logs.write_json_line(access, "GET /health 200", fields)
    access.info("GET /health 200", extra=fields)
    short, usual = (json.loads(line) for line in out.getvalue().splitlines())
    assert short.pop("ts")[-1] == usual.pop("ts")[-1] == "Z"
    assert short == usual
    # Another handler on the root (a test's capture, a second destination): the usual way, so it sees the line.
    logging.getLogger().addHandler(logging.NullHandler())
    assert not logs.write_json_line(access, "GET /health 200", fields)
    logs.configure_logging(replace(plain_settings, log_format="text"), role="serve", stream=out, force=True)
    assert not logs.write_json_line(access, "GET /health 200", fields)
