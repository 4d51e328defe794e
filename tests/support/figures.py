"""The reliability suite's figures: what was tried and what came of it, recorded by the tests and printed by `make test`.

A test records a figure with :func:`record` (``record("Fuzzing (schemathesis)", "server errors", 0)``); the figure
goes, as one JSON line, to a file of this process under the run's directory (``RELIABILITY_DIR``, default
``test-artifacts/reliability`` in the checkout), tagged with the database the suite runs on. Numbers recorded more
than once under the same suite, figure and database add up (several tests, several xdist workers); text keeps the
last value.

Each pytest run prints the figures it recorded at its end (``pytest_terminal_summary`` in tests/conftest.py);
``python -m tests.support.figures`` prints the table of every run since the directory was cleared (`make test`
clears it first and prints it last), and ``--readme`` writes that table into README.md between its reliability
markers.

Runs of the clock suites (``TEST_CLOCK`` set) record nothing: they repeat date-sensitive tests, not these.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "test-artifacts" / "reliability"
SESSION_ENV = "RELIABILITY_SESSION"
README_START = "<!-- reliability:start -->"
README_END = "<!-- reliability:end -->"
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def directory() -> Path:
    return Path(os.environ.get("RELIABILITY_DIR") or DEFAULT_DIR)


def begin_session() -> str:
    """Called once by the controlling pytest process: xdist workers inherit the id through the environment."""
    session = os.environ.get(SESSION_ENV) or uuid.uuid4().hex
    os.environ[SESSION_ENV] = session
    return session


def record(suite: str, figure: str, value: int | float | str, *, database: str | None = None) -> None:
    """Add a figure of this run. ``database`` defaults to the one the suite runs on (TEST_DATABASE)."""
    if os.environ.get("TEST_CLOCK"):
        return
    if isinstance(value, bool):
        value = int(value)
    line = {
        "session": os.environ.get(SESSION_ENV, ""),
        "suite": suite,
        "figure": figure,
        "database": database or os.environ.get("TEST_DATABASE", "sqlite"),
        "value": value,
    }
    where = directory()
    where.mkdir(parents=True, exist_ok=True)
    # One file per process: appends of a single short line never interleave with another process's.
    with (where / f"figures-{os.getpid()}.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


@dataclass
class Row:
    suite: str
    figure: str
    values: dict[str, int | float | str]


def load(session: str | None = None) -> list[Row]:
    """The figures on record (of one session, or all), summed per suite, figure and database, in first-seen order."""
    rows: dict[tuple[str, str], Row] = {}
    where = directory()
    files = sorted(where.glob("figures-*.jsonl")) if where.is_dir() else []
    for path in files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            if session is not None and item.get("session") != session:
                continue
            key = (item["suite"], item["figure"])
            row = rows.setdefault(key, Row(item["suite"], item["figure"], {}))
            db, value = item["database"], item["value"]
            old = row.values.get(db)
            if isinstance(value, (int, float)) and isinstance(old, (int, float)):
                row.values[db] = old + value
            else:
                row.values[db] = value
    return sorted(rows.values(), key=lambda r: r.suite)


def _cell(value: int | float | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Iterable[Row]) -> str:
    rows = list(rows)
    dbs = [db for db in DATABASES if any(db in r.values for r in rows)]
    dbs += sorted({db for r in rows for db in r.values} - set(dbs))
    head = ["suite", "figure", *(DATABASES.get(db, db) for db in dbs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last = None
    for r in rows:
        suite = r.suite if r.suite != last else ""
        last = r.suite
        lines.append("| " + " | ".join([suite, r.figure, *(_cell(r.values.get(db)) for db in dbs)]) + " |")
    return "\n".join(lines)


def write_readme(text: str, readme: Path = ROOT / "README.md") -> None:
    body = readme.read_text(encoding="utf-8")
    start, end = body.index(README_START) + len(README_START), body.index(README_END)
    readme.write_text(body[:start] + "\n" + text + "\n" + body[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="also write the table into README.md")
    args = parser.parse_args(argv)
    rows = load()
    if not rows:
        print("No reliability figures on record (run `make test`).")
        return 0
    text = table(rows)
    print("\nReliability figures (every suite of this `make test`):\n")
    print(text)
    if args.readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
