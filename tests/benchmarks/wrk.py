"""Driving `wrk` (Debian's package, installed by scripts/system-deps.sh) and reading its `--latency` report."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

THREADS = 2
CONNECTIONS = 64
SECONDS = 8

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s*(\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s*(\d+)\s*$", re.MULTILINE)
_SOCKET = re.compile(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE)


class WrkOutputError(ValueError):
    """wrk printed something that is not a `--latency` report."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    # wrk's "Non-2xx or 3xx responses" counts the responses with a status of 400 or more (a 3xx is not counted).
    non_2xx: int
    # connect + read + write errors and timeouts (a request unanswered within wrk's 2 s is not in the latencies).
    socket_errors: int

    @property
    def failed(self) -> bool:
        return self.non_2xx > 0 or self.socket_errors > 0


def parse(output: str) -> WrkResult:
    """The figures of one `wrk --latency` report."""
    percentiles = {float(p): float(value) * _UNIT_MS[unit] for p, value, unit in _PERCENTILE.findall(output)}
    rate = _RATE.search(output)
    requests = _REQUESTS.search(output)
    if rate is None or requests is None or 50.0 not in percentiles or 99.0 not in percentiles:
        raise WrkOutputError(f"not a wrk --latency report:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=percentiles[50.0],
        p99_ms=percentiles[99.0],
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def command(url: str, headers: Sequence[str] = (), seconds: int = SECONDS) -> list[str]:
    """The issue's method: `wrk -t2 -c64 -d8s --latency`, with any request headers."""
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    return [*cmd, url]


def run(url: str, headers: Sequence[str] = (), seconds: int = SECONDS) -> WrkResult:
    done = subprocess.run(command(url, headers, seconds), capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def median(rounds: Sequence[WrkResult]) -> WrkResult:
    """The median of each figure over the rounds; error counts are the total (one error in any round counts)."""
    return WrkResult(
        requests_per_second=statistics.median(r.requests_per_second for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        requests=sum(r.requests for r in rounds),
        non_2xx=sum(r.non_2xx for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
    )
