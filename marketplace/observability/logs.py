"""One log configuration for every process: serve, worker, beat and the commands.

``MARKETPLACE_LOG_FORMAT``: ``json`` writes one JSON object a line to stderr -- ``ts`` (ISO-8601 UTC), ``level``,
``logger``, ``message``, ``role`` (serve, worker, beat, cli), ``request_id`` when the work has one, every extra the
record carries (``log.info(..., extra={...})``) and ``exc``, the traceback as one string; ``text`` writes the same
for a person; ``auto`` is text when stderr is a terminal, else JSON. ``MARKETPLACE_LOG_LEVEL`` is the lowest level
logged. Celery's own lines (the worker, beat) and granian's go through the same handler.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from typing import IO, Any, Final

import msgspec

from marketplace.observability import context
from marketplace.settings import Settings

# What every LogRecord has: anything else on a record came from ``extra={...}``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)
# Loggers that would otherwise write their own lines their own way.
# granian's access log is replaced by marketplace.access; alembic announces each of its plugins at INFO.
_NOISY: Final = {"granian.access": logging.CRITICAL + 1, "alembic.runtime.plugins": logging.WARNING}
MARK: Final = "_marketplace_handler"
_installed: dict[str, logging.StreamHandler[IO[str]] | None] = {"json": None}
# Non-ASCII written as is (the messages are Chinese); anything msgspec cannot encode, as its str().
_ENCODER: Final = msgspec.json.Encoder(enc_hook=str)


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _exception(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts) or None


class JsonFormatter(logging.Formatter):
    """One JSON object a line (non-ASCII kept as is: the messages are Chinese)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "role": context.role(),
        }
        request_id = getattr(record, "request_id", None) or context.current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in _extras(record).items():
            line.setdefault(key, value)
        exc = _exception(self, record)
        if exc is not None:
            line["exc"] = exc
        try:
            return _ENCODER.encode(line).decode()
        except (TypeError, ValueError, OverflowError):  # a key that is not a string, an int past 64 bits, a cycle
            return _ENCODER.encode({k: str(v) for k, v in line.items()}).decode()


class TextFormatter(logging.Formatter):
    """``2026-12-03T07:30:00.123Z INFO marketplace.access [serve abc123] message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or context.current_request_id()
        where = context.role() + (f" {request_id}" if request_id else "")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items() if k != "request_id")
        line = f"{_timestamp(record)} {record.levelname} {record.name} [{where}] {record.getMessage()}"
        if extras:
            line += "  " + extras
        exc = _exception(self, record)
        if exc is not None:
            line += "\n" + exc
        return line


def resolve_format(name: str, stream: IO[str] | None = None) -> str:
    """``json`` or ``text``: ``auto`` is text for a terminal, JSON for anything else (a file, journald, a pipe)."""
    if name != "auto":
        return name
    stream = stream or sys.stderr
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def formatter(settings: Settings, stream: IO[str] | None = None) -> logging.Formatter:
    return JsonFormatter() if resolve_format(settings.log_format, stream) == "json" else TextFormatter()


def configure_logging(
    settings: Settings, *, role: str, stream: IO[str] | None = None, force: bool = False
) -> logging.Handler | None:
    """Route every log record of this process (root logger) through one handler on stderr in the settings'
    format and level, replacing an earlier call's. Like ``logging.basicConfig``, it leaves a root logger that
    someone else has given handlers (a test runner capturing the logs) as it is unless ``force``; the role is
    set either way. Returns the handler installed, or None."""
    context.set_role(role)
    root = logging.getLogger()
    if not force and any(not getattr(h, MARK, False) for h in root.handlers):
        return None
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(settings, stream))
    setattr(handler, MARK, True)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    _installed["json"] = handler if isinstance(handler.formatter, JsonFormatter) else None
    # Neither format shows the thread or the process names: not looking them up makes every record cheaper (the
    # access line is one per request). The role says which process it is.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(settings.log_level)
    # Libraries' own handlers give way to the root's; granian's access log is off (ours is marketplace.access).
    for name in ("_granian", "celery", "celery.task", "celery.redirected"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name, level in _NOISY.items():
        logging.getLogger(name).setLevel(level)
    return handler


def granian_log_config() -> dict[str, Any]:
    """Granian's ``log_dictconfig``: its own lines go to the root logger (our format), its access log nowhere."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "_granian": {"handlers": [], "propagate": True},
            "granian.access": {"handlers": [], "propagate": False, "level": logging.CRITICAL + 1},
        },
    }


def write_json_line(logger: logging.Logger, message: str, fields: dict[str, Any]) -> bool:
    """Write one INFO line of ``logger`` straight to the JSON handler this module installed, the same line its
    formatter would make, without a LogRecord: the hot path of the access log (one line per request), about a third
    of the cost. False -- nothing written, log it the usual way -- unless that handler is the root's only one and
    ``logger`` has no handlers, filters or level of its own that could route or drop the line differently."""
    handler = _installed["json"]
    root = logging.getLogger()
    if handler is None or root.handlers != [handler] or logger.handlers or logger.filters or handler.filters:
        return False
    line: dict[str, Any] = {
        "ts": _now(),
        "level": "INFO",
        "logger": logger.name,
        "message": message,
        "role": context.role(),
    }
    for key, value in fields.items():
        if value is not None or key != "request_id":
            line.setdefault(key, value)
    data = _ENCODER.encode(line).decode() + "\n"
    with handler.lock:  # type: ignore[union-attr]
        handler.stream.write(data)
        handler.flush()
    return True


def _now() -> str:
    moment = time.time()  # noqa: TID251 -- a log line is stamped with the wall clock, as LogRecord.created is
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"
