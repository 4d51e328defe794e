"""The counters and histograms of every process, and how a scrape reads them.

Why files: ``marketplace serve --workers 2`` runs several granian worker processes and ``marketplace worker``
another (with its pool's children); a scrape reaches one serving process, which must answer for all. So each
process that counts writes its values to its own memory-mapped file (prometheus-client's multi-process format) under
``<MARKETPLACE_DATA_DIR>/metrics/<role>/``, and ``GET /metrics`` merges every file there (:func:`render`). Files of
processes no longer running are removed when a role starts (:func:`use_directory` with ``fresh=True``: the serve
command before granian starts its workers, the Celery worker before it forks its pool), so a restart resets the
counters as Prometheus expects. What the database knows (the outbox's backlog, the search index's pending documents)
is not counted at all: it is read at scrape time (``marketplace.monitoring.controllers``), so it is right
whichever process answers and whatever process died.

Without :func:`use_directory` (tests, commands) the values stay in this process's memory and :func:`render` reads
them there.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from threading import Lock
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    mmap_dict,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import Metric

from marketplace.settings import Settings

# Litestar adds "; charset=utf-8" to a text type.
CONTENT_TYPE: Final = "text/plain; version=0.0.4"
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED: Final = "<unmatched>"
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# No ``*_created`` series: the multi-process files have none, so the in-memory answer has none either.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=False)

HTTP_REQUESTS = Counter(
    "marketplace_http_requests",
    "HTTP requests answered, by route template, method and status class.",
    ("route", "method", "status"),
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by route template, method and status class.",
    ("route", "method", "status"),
    buckets=BUCKETS,
    registry=REGISTRY,
)
LOGIN_FAILURES = Counter(
    "marketplace_login_failures",
    "Failed sign-ins, password changes and activations, by action and reason (no user names).",
    ("action", "reason"),
    registry=REGISTRY,
)
TASK_FAILURES = Counter(
    "marketplace_task_failures",
    "Celery tasks that failed for good (retries exhausted or none), by task name.",
    ("task",),
    registry=REGISTRY,
)
TASK_RETRIES = Counter(
    "marketplace_task_retries",
    "Celery task attempts that failed and were scheduled again, by task name.",
    ("task",),
    registry=REGISTRY,
)

_state: dict[str, Path | None] = {"root": None}
# The children of the request metrics by (route, method, status class): a request looks them up once, in a dict,
# instead of through ``labels()`` (its lock and checks) twice.
_request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def count_request(route: str, method: str, status_class: str, seconds: float) -> None:
    key = (route, method, status_class)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key))
    children[0].inc()
    children[1].observe(seconds)


# prometheus-client's file format (untyped there): one file of values per process and kind of metric.
_MmapedDict: Any = mmap_dict.MmapedDict
_mmap_key: Any = mmap_dict.mmap_key
_merge: Any = multiprocess.MultiProcessCollector.merge


def directory(settings: Settings) -> Path:
    return Path(settings.data_dir) / "metrics"


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_of(path: Path) -> int | None:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def remove_dead_files(role_dir: Path) -> int:
    """Remove the value files of processes that no longer run; the number removed."""
    removed = 0
    for path in role_dir.glob("*.db"):
        pid = _pid_of(path)
        if pid is None or not _running(pid):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def _file_values(role_dir: Path) -> type:
    """prometheus-client's multi-process value (``values.MultiProcessValue``) writing under ``role_dir``, named
    there rather than by an environment variable. A forked child (Celery's pool) opens its own files."""
    files: dict[str, Any] = {}
    made: list[Any] = []
    lock = Lock()
    pid = [os.getpid()]

    def file_for(prefix: str) -> Any:
        if prefix not in files:
            files[prefix] = _MmapedDict(str(role_dir / f"{prefix}_{pid[0]}.db"))
        return files[prefix]

    def after_fork() -> None:
        if pid[0] != os.getpid():
            pid[0] = os.getpid()
            for f in files.values():
                f.close()
            files.clear()
            for value in made:
                value.reopen()

    class FileValue:
        _multiprocess = True

        def __init__(
            self,
            typ: str,
            metric_name: str,
            name: str,
            labelnames: Iterable[str],
            labelvalues: Iterable[str],
            help_text: str,
            multiprocess_mode: str = "",
            **_: Any,
        ) -> None:
            self._prefix = f"gauge_{multiprocess_mode}" if typ == "gauge" else typ
            self._key = _mmap_key(metric_name, name, list(labelnames), list(labelvalues), help_text)
            with lock:
                after_fork()
                self.reopen()
                made.append(self)

        def reopen(self) -> None:
            self._file = file_for(self._prefix)
            self._value, _ = self._file.read_value(self._key)

        def inc(self, amount: float) -> None:
            with lock:
                after_fork()
                self._value += amount
                self._file.write_value(self._key, self._value, 0.0)

        def set(self, value: float, timestamp: float | None = None) -> None:
            with lock:
                after_fork()
                self._value = value
                self._file.write_value(self._key, value, timestamp or 0.0)

        def set_exemplar(self, exemplar: Any) -> None:
            return None

        def get(self) -> float:
            with lock:
                return float(self._value)

        def get_exemplar(self) -> None:
            return None

    return FileValue


def use_directory(settings: Settings, role: str, *, fresh: bool = False) -> Path:
    """From now on this process counts into ``<data dir>/metrics/<role>/`` (before its first request or task).
    ``fresh``: first remove the files of that role's processes that no longer run (a role's start)."""
    root = directory(settings)
    role_dir = root / role
    role_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        remove_dead_files(role_dir)
    values.ValueClass = _file_values(role_dir)
    for metric in (HTTP_REQUESTS, HTTP_DURATION, LOGIN_FAILURES, TASK_FAILURES, TASK_RETRIES):
        metric.clear()  # children made before now hold in-memory values
    _request_children.clear()
    _state["root"] = root
    return role_dir


def files_root() -> Path | None:
    """The metrics directory this process counts into, or None (in memory)."""
    return _state["root"]


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def render(extra: Iterable[Metric] = (), root: Path | None = None) -> bytes:
    """The Prometheus text of every process's counters (merged from the files under ``root``, or this process's
    memory) followed by ``extra`` (figures read at scrape time)."""
    root = root or files_root()
    registry = CollectorRegistry(auto_describe=False)
    if root is not None:
        files = sorted(glob.glob(str(root / "*" / "*.db")))
        registry.register(_Families(_merge(files, accumulate=True)))
    else:
        registry.register(_Families(REGISTRY.collect()))
    registry.register(_Families(extra))
    return generate_latest(registry)
