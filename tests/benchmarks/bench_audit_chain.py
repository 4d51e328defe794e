"""Benchmark: the audit writer's group commit with the hash chain, and `marketplace verify`'s walk.

50 concurrent readers each append 40 times the rows of a 20-child list page (40,000 rows) through the app's
:class:`~marketplace.audit.writer.AuditWriter` on a SQLite file and (when PostgreSQL is installed) on PostgreSQL;
then the chains are verified. Prints medians of ``--runs`` runs. The cost of chaining alone (hashing a row,
``chain.digest``) is measured in process.

    .venv/bin/python tests/benchmarks/bench_audit_chain.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, text

from marketplace import migrate
from marketplace.audit import chain, verification
from marketplace.audit.models import AUDIT_CHAIN
from marketplace.audit.service import rows_for
from marketplace.audit.writer import AuditWriter
from marketplace.db import Database
from marketplace.features import load_models
from tests.support.databases import test_settings
from tests.support.servers import postgres_server

READERS, APPENDS, PAGE = 50, 40, 20


async def one_run(url: str, tmp: Path) -> tuple[float, float, int]:
    """(rows/s appended, rows/s verified, commits)."""
    settings = test_settings(url, tmp)
    migrate.upgrade(settings)
    db = Database(settings)
    writer = AuditWriter(db.engine, db.sync_write_engine)

    async def reader(i: int) -> None:
        for _ in range(APPENDS):
            await writer.append(rows_for(None, "list", "child", range(i, i + PAGE), ["name", "age"]))

    started = time.perf_counter()
    await asyncio.gather(*(reader(i) for i in range(READERS)))
    appended = READERS * APPENDS * PAGE / (time.perf_counter() - started)
    await writer.close()
    started = time.perf_counter()
    outcome = await verification.run(db, trigger="cli")
    assert outcome.ok, outcome.lines()
    verified = outcome.record.rows_checked / (time.perf_counter() - started)
    await db.dispose()
    return appended, verified, writer.commits


def digest_cost(n: int = 40_000) -> float:
    rows = rows_for(None, "list", "child", range(n), ["name", "age"])
    started = time.perf_counter()
    prev = chain.GENESIS
    for row in rows:
        prev = chain.digest(AUDIT_CHAIN, row, prev)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_models()
    print(f"Hashing one audit row (`chain.digest`): {digest_cost():.1f} µs\n")
    print("| database | rows appended/s (group commit, chained) | rows verified/s | commits for 2,000 appends |")
    print("|---|---|---|---|")
    with ExitStack() as stack:
        targets = []
        tmp_root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        targets.append(("SQLite file", lambda i: f"sqlite:///{tmp_root}/bench{i}.db"))
        if glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
            server = stack.enter_context(postgres_server())
            engine = create_engine(
                server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
            )

            def pg(i: int) -> str:
                with engine.connect() as conn:
                    conn.execute(text(f"CREATE DATABASE bench{i}"))
                return server.rsplit("/", 1)[0] + f"/bench{i}"

            targets.append(("PostgreSQL", pg))
        for name, make_url in targets:
            results = []
            for i in range(args.runs):
                tmp = tmp_root / f"{name[:2]}{i}"
                tmp.mkdir()
                results.append(asyncio.run(one_run(make_url(i), tmp)))
                print(f"{name} run {i + 1}: {results[-1][0]:,.0f} rows/s", file=sys.stderr)
            appended = statistics.median(r[0] for r in results)
            verified = statistics.median(r[1] for r in results)
            print(f"| {name} | {appended:,.0f} | {verified:,.0f} | {results[0][2]} |")


if __name__ == "__main__":
    main()
