"""Throughput of the service search endpoint under load, served by granian, on the Futian demo.

Baseline in the same run: GET /health (no database work beyond SELECT 1) and the listing without q.
Load comes from one client process with a bounded number of concurrent connections on loopback, for a
bounded time; medians of three rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.servers import free_port, wait_port  # noqa: E402

QUERIES = [
    "心理辅导",
    "留守 儿童 周末",
    "法律",
    "送教上门 残疾",
    "助学",
    "临时照料",
    "康复",
    "家庭教育",
    "安全教育 防溺水",
    "物资",
]
CONCURRENCY = 32
SECONDS = 5.0
ROUNDS = 3


async def load(base: str, paths: list[str], token: str) -> tuple[float, float, float]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    deadline = time.monotonic() + SECONDS
    errors = 0

    async def worker(n: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            i = n
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                r = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200
                i += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"{errors} non-200 responses")
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "MARKETPLACE_SEARCH_PATH": str(tmp / "search.db"),
        "MARKETPLACE_LOGIN_RATE_LIMIT": "1000",
    }
    env.pop("REDIS_URL", None)
    py = sys.executable
    subprocess.run([py, "-m", "marketplace.cli", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([py, "-m", "marketplace.cli", "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [py, "-m", "marketplace.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, 60)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": "director", "password": "demo-password"}
        ).json()["access_token"]
        scenarios = {
            "GET /health (baseline)": ["/health"],
            "GET /api/v1/services (listing, no q)": ["/api/v1/services", "/api/v1/services?category=legal_aid"],
            "GET /api/v1/services?q= (search)": [f"/api/v1/services?q={q}" for q in QUERIES],
            "GET /api/v1/services?q=&street_id=&age= (search + filters)": [
                f"/api/v1/services?q={q}&street_id=3&age=9" for q in QUERIES
            ],
        }
        print(f"\nsearch endpoint under load: {CONCURRENCY} connections, {SECONDS:.0f} s per round, median of {ROUNDS}")
        print(f"{'scenario':62} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for name, paths in scenarios.items():
            runs = [asyncio.run(load(base, paths, token)) for _ in range(ROUNDS)]
            rps = statistics.median(r[0] for r in runs)
            p50 = statistics.median(r[1] for r in runs)
            p99 = statistics.median(r[2] for r in runs)
            print(f"{name:62} {rps:8.0f} {p50:8.1f} {p99:8.1f}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
