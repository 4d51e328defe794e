"""BENCHMARKS.md: one section per benchmark script, replaced when `make bench` runs that script again.

A section holds the run's date, the machine (cores, CPU model, Python) and the command, then the script's printed
output: its Markdown tables (lines starting with ``|``) as they are, everything else in text blocks. The README
quotes the API table (bench_api's first table) between two markers, kept equal to BENCHMARKS.md by `make bench`.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from marketplace import clock

PREAMBLE = """# Benchmarks

Written by `make bench` (`python -m tests.benchmarks [names]`, see tests/benchmarks/): one section per benchmark
script, replaced when that script runs again; the sections of scripts not run that time are kept from earlier runs.
Each script measures its baseline in the same run. The machine is small and may be shared, so figures are noisy.
"""
HEADING = re.compile(r"^## (bench_\w+)\s*$")
README_START = "<!-- bench_api table: copied from BENCHMARKS.md by `make bench` -->"
README_END = "<!-- end of bench_api table -->"


@dataclass(frozen=True)
class Run:
    script: str
    output: str  # what the script printed on stdout
    command: str
    exit_code: int
    seconds: float
    date: str  # e.g. "2026-12-02 02:40 UTC"
    machine: str


def machine_facts() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def load_average() -> str:
    """The 1-minute load average: other processes on the machine compete with the benchmark for its cores."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "unknown"


def now_utc() -> str:
    return clock.now().strftime("%Y-%m-%d %H:%M UTC")


def output_markdown(output: str) -> str:
    """Tables as Markdown, the other lines in ```text blocks (blank lines around a table separate the two)."""
    blocks: list[tuple[bool, list[str]]] = []  # (is_table, lines)
    for line in output.rstrip("\n").splitlines():
        is_table = line.startswith("|")
        if not blocks or blocks[-1][0] != is_table:
            blocks.append((is_table, []))
        blocks[-1][1].append(line)
    parts = []
    for is_table, lines in blocks:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            parts.append("\n".join(lines) if is_table else "```text\n" + "\n".join(lines) + "\n```")
    return "\n\n".join(parts)


def section(run: Run) -> str:
    status = "" if run.exit_code == 0 else f" — **exited {run.exit_code}**, the output may be incomplete"
    return (
        f"## {run.script}\n\n"
        f"Run {run.date} in {run.seconds:.0f} s{status}; {run.machine}; command {run.command}.\n\n"
        f"{output_markdown(run.output)}\n"
    )


def split_sections(document: str) -> tuple[str, dict[str, str]]:
    """(preamble, {script: section text}) of a BENCHMARKS.md; a heading inside a fenced block is not one."""
    preamble: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = preamble
    fenced = False
    for line in document.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            current = sections[heading.group(1)] = []
        current.append(line)
    return "\n".join(preamble), {name: "\n".join(lines).rstrip("\n") + "\n" for name, lines in sections.items()}


def merge(previous: str | None, runs: Mapping[str, str]) -> str:
    """The new document: the sections of ``runs`` (script -> section text) replace or join those of ``previous``."""
    sections = split_sections(previous)[1] if previous else {}
    sections.update(runs)
    return PREAMBLE + "".join("\n" + sections[name] for name in sorted(sections))


def api_table(document: str) -> str | None:
    """The first Markdown table of the bench_api section, or None."""
    text = split_sections(document)[1].get("bench_api")
    if text is None:
        return None
    table: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return "\n".join(table) or None


def quote_in_readme(readme: str, table: str, date: str) -> str:
    """The README with the text between its two markers replaced by ``table``; unchanged without the markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        return readme
    body = f"{README_START}\n{table}\n\nMeasured {date}; the memory of the workers and the rest: [BENCHMARKS.md](BENCHMARKS.md).\n"
    return readme[:start] + body + readme[end:]


def quoted_table(readme: str) -> str | None:
    """The table the README quotes between its markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        return None
    return "\n".join(line for line in readme[start:end].splitlines() if line.startswith("|")) or None
