"""`make bench`: run every benchmark script here in turn (each prints its own tables)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    only = sys.argv[1:]
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        if only and not any(name in script.stem for name in only):
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=here.parent.parent)
        print(f"--- {script.stem}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
