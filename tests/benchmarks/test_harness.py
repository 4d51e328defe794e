"""The bench harness reads wrk's report, judges rows against their targets and writes BENCHMARKS.md (no timing here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks import bench_api, report, wrk

ROOT = Path(__file__).resolve().parents[2]

# Captured from wrk 4.1.0 (Debian) against the served API; the second has failed requests and timeouts.
WRK_OK = """Running 8s test @ http://127.0.0.1:18765/api/v1/services/1
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   318.56ms  148.11ms 923.10ms   70.74%
    Req/Sec   102.37     55.28   330.00     77.19%
  Latency Distribution
     50%  305.32ms
     75%  400.04ms
     90%  500.04ms
     99%  790.01ms
  1595 requests in 8.02s, 2.54MB read
Requests/sec:    198.88
Transfer/sec:    324.35KB
"""
WRK_ERRORS = """Running 8s test @ http://127.0.0.1:18765/api/v1/children?limit=20
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   802.38us    1.79ms   1.99s    88.83%
    Req/Sec    20.69k     3.99k   25.53k    58.97%
  Latency Distribution
     50%  637.00us
     75%  776.05us
     90%    1.26ms
     99%    1.52s
  331728 requests in 8.10s, 100.88MB read
  Socket errors: connect 0, read 2, write 0, timeout 12
  Non-2xx or 3xx responses: 2728
Requests/sec:  40954.07
Transfer/sec:     12.45MB
"""


def test_a_wrk_report_gives_rate_percentiles_and_no_errors() -> None:
    r = wrk.parse(WRK_OK)
    assert r == wrk.WrkResult(198.88, 305.32, 790.01, 1595, non_2xx=0, socket_errors=0)
    assert not r.failed


def test_non_2xx_socket_errors_and_every_latency_unit_are_read() -> None:
    r = wrk.parse(WRK_ERRORS)
    assert r.requests_per_second == 40954.07
    assert r.p50_ms == pytest.approx(0.637)
    assert r.p99_ms == pytest.approx(1520.0)
    assert (r.requests, r.non_2xx, r.socket_errors) == (331728, 2728, 14)
    assert r.failed


def test_output_that_is_not_a_latency_report_is_refused() -> None:
    without_distribution = "\n".join(line for line in WRK_OK.splitlines() if "%  " not in line)
    for output in ("", "unable to connect to 127.0.0.1:1 Connection refused", without_distribution):
        with pytest.raises(wrk.WrkOutputError):
            wrk.parse(output)


def test_the_command_is_the_issues_method() -> None:
    assert wrk.command("http://127.0.0.1:1/health", ["Authorization: Bearer t"]) == [
        *("wrk", "-t2", "-c64", "-d8s", "--latency", "-H", "Authorization: Bearer t", "http://127.0.0.1:1/health"),
    ]


def test_the_median_of_rounds_takes_middle_figures_and_totals_the_errors() -> None:
    rounds = [
        wrk.WrkResult(100, 10, 90, 800, 0, 0),
        wrk.WrkResult(300, 30, 50, 2400, 1, 0),
        wrk.WrkResult(200, 20, 70, 1600, 0, 2),
    ]
    assert wrk.median(rounds) == wrk.WrkResult(200, 20, 70, 4800, non_2xx=1, socket_errors=2)


def test_a_row_is_met_missed_or_failed() -> None:
    target = bench_api.Target(min_rps=1000, max_p99_ms=100)
    fast = wrk.WrkResult(1200, 20, 80, 9600, 0, 0)
    assert target.verdict(bench_api.Measurement(fast, 200)) == "yes"
    assert target.verdict(bench_api.Measurement(wrk.WrkResult(1200, 20, 150, 9600, 0, 0), 200)) == "no (p99)"
    assert target.verdict(bench_api.Measurement(wrk.WrkResult(900, 20, 150, 9600, 0, 0), 200)) == "no (req/s, p99)"
    assert target.verdict(bench_api.Measurement(wrk.WrkResult(1200, 20, 80, 9600, 1, 0), 200)) == "**failed**"
    assert target.verdict(bench_api.Measurement(fast, 302)) == "**failed**"  # wrk does not count a 3xx
    assert target.describe() == "≥ 1,000 req/s, p99 ≤ 100 ms, no non-2xx"


def test_the_workers_and_their_resident_set_are_found_in_proc() -> None:
    # The child says when its interpreter is up: read right after fork, its resident set is still the parent's stub.
    code = "import sys, time; print('up', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        assert child.pid in bench_api.children(os.getpid())
        kb = bench_api.rss_kb(child.pid)
        assert kb is not None and kb > 1000
    finally:
        child.kill()
        child.wait()
    assert bench_api.rss_kb(child.pid) is None


def run(script: str, output: str) -> str:
    return report.section(report.Run(script, output, f"python -m tests.benchmarks {script}", 0, 12, "DATE", "MACHINE"))


def test_tables_stay_markdown_and_other_lines_go_in_text_blocks() -> None:
    output = "method line\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nnotes\nmore\n"
    assert report.output_markdown(output) == (
        "```text\nmethod line\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\nnotes\nmore\n```"
    )


def test_a_script_run_again_replaces_its_section_and_keeps_the_others() -> None:
    first = report.merge(
        None, {"bench_api": run("bench_api", "| api | 1 |\n"), "bench_search": run("bench_search", "s1\n")}
    )
    # a line like a heading inside a script's text block is output, not a section
    matching = run("bench_matching", "## bench_search\nm1\n")
    second = report.merge(first, {"bench_api": run("bench_api", "| api | 2 |\n"), "bench_matching": matching})
    assert second.startswith(report.PREAMBLE)
    sections = report.split_sections(second)[1]
    assert list(sections) == ["bench_api", "bench_matching", "bench_search"]
    assert "| api | 2 |" in sections["bench_api"] and "| api | 1 |" not in second
    assert sections["bench_search"] == report.split_sections(first)[1]["bench_search"]
    assert "## bench_search\nm1" in sections["bench_matching"]
    assert report.merge(second, {}) == second


def test_the_readme_quote_is_replaced_between_its_markers() -> None:
    document = report.merge(None, {"bench_api": run("bench_api", "intro\n\n| new | 1 |\n|---|---|\n\n| mem |\n")})
    table = report.api_table(document)
    assert table == "| new | 1 |\n|---|---|"
    readme = f"# R\n\n{report.README_START}\n| old |\n{report.README_END}\n\n## Next\n"
    quoted = report.quote_in_readme(readme, table, "DATE")
    assert report.quoted_table(quoted) == table
    assert quoted.startswith("# R\n\n") and quoted.endswith(f"{report.README_END}\n\n## Next\n")
    assert report.quote_in_readme("# no markers\n", table, "DATE") == "# no markers\n"


def test_the_readme_quotes_the_api_table_of_benchmarks_md() -> None:
    """`make bench BENCH=bench_api` writes both; a hand edit of one of them fails here."""
    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    table = report.api_table(benchmarks)
    assert table is not None
    assert report.quoted_table((ROOT / "README.md").read_text(encoding="utf-8")) == table
