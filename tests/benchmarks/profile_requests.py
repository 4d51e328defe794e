"""Where a hot request's time goes: each request of the API benchmark run in process (no HTTP server) many times,
with its CPU time per request and the top of a cProfile by cumulative and by own time.

Run on a data directory that has the demo loaded (`make run` makes one in var/):
    MARKETPLACE_DATA_DIR=var .venv/bin/python tests/benchmarks/profile_requests.py [N] [name ...]
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from marketplace.app import create_app

CONCURRENT = 10
REQUESTS = {
    "service": "/api/v1/services/1",
    "services": "/api/v1/services?limit=20",
    "search": "/api/v1/services?limit=20&q=心理辅导",
    "children": "/api/v1/children?limit=20",
}


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, bytes]:
    """One request straight into the ASGI app on this thread (what a server worker does, minus the socket)."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if body else "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": quote(query, safe="=&").encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def main(n: int, names: list[str]) -> None:
    app = create_app()
    async with LifespanManager(app):
        login = json.dumps({"username": "director", "password": "demo-password"}).encode()
        status, answer = await call(app, "/api/v1/auth/login", [(b"content-type", b"application/json")], login)
        assert status == 200, answer
        headers = [(b"authorization", f"Bearer {json.loads(answer)['access_token']}".encode())]
        for name in names:
            path = REQUESTS[name]
            for _ in range(20):  # warm caches (compiled statements, the search index, the principal)
                status, answer = await call(app, path, headers)
                assert status == 200, answer

            async def burst(path: str = path) -> None:
                # CONCURRENT requests at a time, as a loaded server sees them (the audit writer batches their rows).
                for _ in range(n // CONCURRENT):
                    await asyncio.gather(*(call(app, path, headers) for _ in range(CONCURRENT)))

            cpu = time.process_time()
            await burst()
            per = (time.process_time() - cpu) / n * 1000
            profile = cProfile.Profile()
            profile.enable()
            await burst()
            profile.disable()
            print(
                f"\n=== {name}: GET {path}: {per:.3f} ms CPU per request "
                f"(in process, {n} requests, {CONCURRENT} at a time)"
            )
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(25)
                text = out.getvalue()
                print(text[text.index("ncalls") :])


class LifespanManager:
    """The app's startup and shutdown (its stores and database) around the requests."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __aenter__(self) -> None:
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = asyncio.Event()
        self._done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            return await self._queue.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                self._started.set()
            elif message["type"].startswith("lifespan.shutdown"):
                self._done.set()

        self._task = asyncio.create_task(
            self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        )
        await self._queue.put({"type": "lifespan.startup"})
        await self._started.wait()

    async def __aexit__(self, *_exc: object) -> None:
        await self._queue.put({"type": "lifespan.shutdown"})
        await self._done.wait()
        await self._task


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args.pop(0)) if args and args[0].isdigit() else 500
    asyncio.run(main(count, args or list(REQUESTS)))
