"""`make bench`: run the benchmark scripts here in turn and write what they print into BENCHMARKS.md.

``python -m tests.benchmarks [name ...]`` runs every ``bench_*.py`` (or those whose name contains one of the names:
``make bench BENCH=bench_api``). Each script prints its tables on stdout (shown as it runs and captured) and its
progress on stderr (shown only). BENCHMARKS.md at the repository's root gets one section per script run, with the
date, the machine and the command; the sections of scripts not run are kept. When bench_api ran, the README's quote
of its table is replaced too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks import report  # noqa: E402


def run_script(script: Path) -> tuple[str, int]:
    """Run one script, echoing its stdout while capturing it: (stdout, exit code)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    return "".join(lines), proc.wait()


def main() -> int:
    here = Path(__file__).parent
    only = sys.argv[1:]
    failed = []
    runs: dict[str, report.Run] = {}
    for script in sorted(here.glob("bench_*.py")):
        if only and not any(name in script.stem for name in only):
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        date = report.now_utc()
        machine = f"{report.machine_facts()}, load average {report.load_average()} at the start"
        started = time.monotonic()
        output, code = run_script(script)
        seconds = time.monotonic() - started
        print(f"--- {script.stem}: exit {code} in {seconds:.0f} s", flush=True)
        if code:
            failed.append(script.stem)
        command = f"`make bench BENCH={script.stem}` (`python -m tests.benchmarks {script.stem}`)"
        runs[script.stem] = report.Run(script.stem, output, command, code, seconds, date, machine)
    if runs:
        sections = {name: report.section(run) for name, run in runs.items()}
        path = ROOT / "BENCHMARKS.md"
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        document = report.merge(previous, sections)
        path.write_text(document, encoding="utf-8")
        print(f"\nwrote {path.relative_to(ROOT)} ({', '.join(sorted(sections))})")
        table = report.api_table(document)
        if "bench_api" in runs and table:
            readme = ROOT / "README.md"
            text = readme.read_text(encoding="utf-8")
            quoted = report.quote_in_readme(text, table, runs["bench_api"].date)
            if quoted != text:
                readme.write_text(quoted, encoding="utf-8")
                print("updated the README's quote of the API table")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
