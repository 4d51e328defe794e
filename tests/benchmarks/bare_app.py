"""The baseline of bench_api: a bare Litestar JSON endpoint (no database, no middleware, no auth).

``python tests/benchmarks/bare_app.py --port N --workers 2`` serves it with granian exactly as `marketplace serve`
serves the app (ASGI, the same worker count, no access log), so the two differ only in the application.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from litestar import Litestar, get


@get("/")
async def index() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([index])


def main() -> None:
    from granian import Granian  # deferred import: only the server process needs it
    from granian.constants import Interfaces  # deferred import: as above

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    Granian(
        "tests.benchmarks.bare_app:app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
