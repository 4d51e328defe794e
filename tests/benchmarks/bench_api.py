"""The API's hot paths under load, by issue 12's method: ``python tests/benchmarks/bench_api.py``.

`wrk -t2 -c64 -d8s --latency` on loopback against `marketplace serve --workers 2` (granian) on the Futian demo
(`marketplace migrate` + `marketplace demo` into a fresh temporary data directory), median of 3 rounds per row after
a 1 s warm-up that is not counted (and 3 s of load on /health after the server starts), every request as the demo
director (`director` / `demo-password`; the API answers nothing without a token). The same rows on the embedded
SQLite default and on a throwaway PostgreSQL server (started as the tests start theirs), side by side. The baseline
in the same run: a bare Litestar JSON endpoint (tests/benchmarks/bare_app.py) served by the same granian with the
same workers and the same wrk settings.

Memory: the resident set (VmRSS in /proc/<pid>/status) of each serving worker (the granian process's children),
sampled every 0.2 s while the load runs; the peak per worker is reported against the target.

Options: ``--databases sqlite postgresql`` (default both), ``--rounds 3``, ``--seconds 8``. The tables go to stdout
(`make bench` copies them into BENCHMARKS.md), progress to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks import wrk  # noqa: E402
from tests.support.servers import free_port, postgres_server, stop, wait_port  # noqa: E402

DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
WORKERS = 2
WARM_UP_SECONDS = 1
STARTUP_SECONDS = 3  # load on a freshly started server before the first row (every worker up), uncounted
SAMPLE_EVERY = 0.2
MEMORY_TARGET_MB = 300
DIRECTOR = ("director", "demo-password")


@dataclass(frozen=True)
class Target:
    min_rps: float | None = None
    max_p99_ms: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min_rps is not None:
            parts.append(f"≥ {self.min_rps:,.0f} req/s")
        if self.max_p99_ms is not None:
            parts.append(f"p99 ≤ {self.max_p99_ms:,.0f} ms")
        return ", ".join([*parts, "no non-2xx"])

    def verdict(self, measured: Measurement) -> str:
        if measured.failed:
            return "**failed**"
        misses = []
        if self.min_rps is not None and measured.result.requests_per_second < self.min_rps:
            misses.append("req/s")
        if self.max_p99_ms is not None and measured.result.p99_ms > self.max_p99_ms:
            misses.append("p99")
        return f"no ({', '.join(misses)})" if misses else "yes"


@dataclass(frozen=True)
class Row:
    request: str
    path: str  # {id} is a published service's id
    target: Target


ROWS = [
    Row("`GET /health`", "/health", Target()),
    Row("`GET /api/v1/services/{id}`", "/api/v1/services/{id}", Target(min_rps=3000)),
    Row("`GET /api/v1/services?limit=20`", "/api/v1/services?limit=20", Target(min_rps=1500, max_p99_ms=50)),
    Row(
        "`GET /api/v1/services?limit=20&q=心理辅导`",
        f"/api/v1/services?limit=20&q={quote('心理辅导')}",
        Target(min_rps=1500, max_p99_ms=50),
    ),
    Row(
        "`GET /api/v1/children?limit=20` (director; audit rows written)",
        "/api/v1/children?limit=20",
        Target(min_rps=1000, max_p99_ms=100),
    ),
]


@dataclass(frozen=True)
class Measurement:
    result: wrk.WrkResult
    status: int  # of one request made before the load (wrk does not count a 3xx)

    @property
    def failed(self) -> bool:
        return self.result.failed or not 200 <= self.status < 300


@dataclass
class Served:
    base: str
    pid: int
    peaks_kb: dict[int, int] = field(default_factory=dict)  # worker pid -> peak VmRSS


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (granian's workers), from /proc/<pid>/stat."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return sorted(found)


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@contextmanager
def sampling(served: Served) -> Iterator[None]:
    """Sample the workers' VmRSS every 0.2 s in a thread while the block runs; peaks go to ``served.peaks_kb``."""
    stop = threading.Event()

    def sample() -> None:
        while True:
            for pid in children(served.pid):
                kb = rss_kb(pid)
                if kb is not None:
                    served.peaks_kb[pid] = max(kb, served.peaks_kb.get(pid, 0))
            if stop.wait(SAMPLE_EVERY):
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def request(
    base: str, method: str, path: str, body: object = None, token: str | None = None
) -> tuple[int, object | None]:
    """One request without following redirects: (status, JSON body or None)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(data) if data else None
    except ValueError:
        return response.status, None


@contextmanager
def serving(cmd: Sequence[str], env: dict[str, str], ready_path: str, log: Path) -> Iterator[Served]:
    """Run ``cmd --port N`` until the block ends; ready once ``ready_path`` answers 200."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc.pid)
    try:
        wait_port(port, 90)
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(served.base, "GET", ready_path)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{' '.join(cmd)} did not get ready:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        workers = children(proc.pid)
        if len(workers) != WORKERS:
            raise RuntimeError(f"expected {WORKERS} granian workers under pid {proc.pid}, found {workers}")
        yield served
    finally:
        stop(proc, 30)


def measure(served: Served, path: str, headers: Sequence[str], rounds: int, seconds: int) -> Measurement:
    token = next((h.split(" ", 2)[2] for h in headers if h.startswith("Authorization: Bearer ")), None)
    status, _ = request(served.base, "GET", path, token=token)
    url = served.base + path
    with sampling(served):
        wrk.run(url, headers, seconds=WARM_UP_SECONDS)
        results = []
        for n in range(rounds):
            r = wrk.run(url, headers, seconds=seconds)
            progress(
                f"  {path} round {n + 1}: {r.requests_per_second:,.0f} req/s, p50 {ms(r.p50_ms)}, p99 {ms(r.p99_ms)}"
                f", non-2xx {r.non_2xx}, socket errors {r.socket_errors}"
            )
            results.append(r)
    return Measurement(wrk.median(results), status)


def server_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "MEILI_"))}
    env.pop("REDIS_URL", None)  # the embedded default: tasks in process, no broker
    env["MARKETPLACE_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    if database_url:
        env["MARKETPLACE_DATABASE_URL"] = database_url
    return env


def load_demo(env: dict[str, str]) -> None:
    started = time.monotonic()
    for command in ("migrate", "demo"):
        done = subprocess.run(
            [sys.executable, "-m", "marketplace.cli", command], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"marketplace {command} failed:\n{done.stdout}\n{done.stderr}")
    progress(f"  migrated and demo loaded in {time.monotonic() - started:.0f} s")


def bench_database(database: str, rounds: int, seconds: int, tmp: Path) -> tuple[dict[str, Measurement], Served]:
    progress(f"{DATABASES[database]}:")
    data_dir = tmp / database
    data_dir.mkdir()
    with ExitStack() as stack:
        url = stack.enter_context(postgres_server()) if database == "postgresql" else None
        env = server_env(data_dir, url)
        load_demo(env)
        cmd = [sys.executable, "-m", "marketplace.cli", "serve", "--workers", str(WORKERS)]
        served = stack.enter_context(serving(cmd, env, "/health", data_dir / "serve.log"))
        # A freshly started server's first seconds are not its steady state (workers finishing their start-up,
        # connection pools filling): load it first, uncounted. Without this the first round of the first row had
        # 3-12 requests past wrk's 2 s in two runs (PostgreSQL, /health) and none in the rounds after.
        wrk.run(served.base + "/health", seconds=STARTUP_SECONDS)
        status, body = request(
            served.base, "POST", "/api/v1/auth/login", {"username": DIRECTOR[0], "password": DIRECTOR[1]}
        )
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"the director's login answered {status}: {body}")
        token = str(body["access_token"])
        status, page = request(served.base, "GET", "/api/v1/services?limit=1", token=token)
        if status != 200 or not isinstance(page, dict) or not page["items"]:
            raise RuntimeError(f"no published service to read: {status} {page}")
        service_id = page["items"][0]["id"]
        headers = [f"Authorization: Bearer {token}"]
        results = {
            row.request: measure(served, row.path.format(id=service_id), headers, rounds, seconds) for row in ROWS
        }
    return results, served


def bench_bare(rounds: int, seconds: int, tmp: Path) -> tuple[Measurement, Served]:
    progress("bare Litestar endpoint:")
    cmd = [sys.executable, str(Path(__file__).with_name("bare_app.py")), "--workers", str(WORKERS)]
    env = server_env(tmp, None)
    with serving(cmd, env, "/", tmp / "bare.log") as served:
        return measure(served, "/", [], rounds, seconds), served


def ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def errors(measured: Measurement) -> str:
    r = measured.result
    text = f"{r.non_2xx:,}"
    if r.socket_errors:
        text += f" (+{r.socket_errors:,} socket errors)"
    if not 200 <= measured.status < 300:
        text += f" (status {measured.status})"
    return text


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def api_table(results: dict[str, dict[str, Measurement]], bare: Measurement) -> str:
    header = ["request", "target"]
    for database in results:
        name = DATABASES[database]
        header += [f"{name} req/s", "p50", "p99", "non-2xx", "met"]
    header += ["bare endpoint req/s", *(f"{DATABASES[d]} ÷ bare" for d in results)]
    bare_rps = bare.result.requests_per_second
    rows = []
    for row in ROWS:
        cells = [row.request, row.target.describe()]
        for measured in results.values():
            m = measured[row.request]
            r = m.result
            cells += [f"{r.requests_per_second:,.0f}", ms(r.p50_ms), ms(r.p99_ms), errors(m), row.target.verdict(m)]
        cells.append(f"{bare_rps:,.0f}")
        cells += [f"{measured[row.request].result.requests_per_second / bare_rps:.1%}" for measured in results.values()]
        rows.append(cells)
    return markdown(header, rows)


def memory_table(peaks: dict[str, dict[int, int]]) -> str:
    rows = []
    for label, by_pid in peaks.items():
        mb = [kb / 1024 for _, kb in sorted(by_pid.items())]
        target = "—" if label.startswith("bare") else f"< {MEMORY_TARGET_MB} MB"
        met = "—" if label.startswith("bare") else ("yes" if mb and max(mb) < MEMORY_TARGET_MB else "no")
        rows.append([label, ", ".join(f"{m:.0f} MB" for m in mb), target, met])
    return markdown(["served by granian, 2 workers", "peak VmRSS of each worker", "target", "met"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", choices=list(DATABASES), default=list(DATABASES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=wrk.SECONDS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make system-deps` installs it (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-api-"))
    try:
        bare, bare_served = bench_bare(args.rounds, args.seconds, tmp)
        results: dict[str, dict[str, Measurement]] = {}
        peaks = {"bare Litestar endpoint": bare_served.peaks_kb}
        for database in args.databases:
            results[database], served = bench_database(database, args.rounds, args.seconds, tmp)
            peaks[f"{DATABASES[database]} demo, all rows above"] = served.peaks_kb
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    method = (
        f"`wrk -t{wrk.THREADS} -c{wrk.CONNECTIONS} -d{args.seconds}s --latency` on loopback against "
        f"`marketplace serve --workers {WORKERS}` (granian), Futian demo, as the demo director; median of "
        f"{args.rounds} rounds (non-2xx and socket errors, i.e. wrk's 2 s timeouts: the total of the rounds; a row "
        "with any is failed). Bare endpoint: a Litestar JSON endpoint (tests/benchmarks/bare_app.py) on the same "
        "granian, same workers and wrk settings, in the same run."
    )
    print(textwrap.fill(method, 116))
    print()
    print(api_table(results, bare))
    print()
    print(f"Memory: peak resident set (VmRSS) of each serving worker, sampled every {SAMPLE_EVERY} s during the load.")
    print()
    print(memory_table(peaks))


if __name__ == "__main__":
    main()
