"""Truly parallel requests to a served app, and served copies of the app with one protection mutated away.

``served_app`` starts the app of ``tests/races/app_factory.py`` under granian on a free port, over a test's
database. Its ASGI wrapper stamps every response with ``x-race-window: <start> <end>``: the server's wall-clock
instants when the request reached the app and when its response started. ``fire`` sends N requests at once over N
connections (httpx), and ``peak_overlap`` computes from those server-side windows how many requests the server was
handling at the same moment: the proof that a race test's requests really overlapped, not one after another.

``mutant_source`` copies the ``marketplace`` package to a temporary directory and applies a :class:`Mutation`: exact
text replacements, each of which must match exactly once (a refactor that moves the code makes the mutation fail
loudly instead of silently testing nothing). ``served_app(..., source=copy)`` serves that copy (the copy first on
the path, the server's working directory in it) and the factory reports which ``marketplace`` it imported, so the
test can check that the mutant, not the checkout, answered.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import granian_app

ROOT = Path(__file__).resolve().parents[2]
FACTORY = "tests.races.app_factory:make"
WINDOW_HEADER = "x-race-window"
# Top-level packages of the checkout the app imports besides ``marketplace``: a mutant's copy links to them.
SIBLINGS = ("admin", "search", "workers", "tests")


@dataclass(frozen=True)
class Served:
    url: str
    log: Path
    source: Path  # the directory the served ``marketplace`` package was imported from

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def served_app(database_url: str, tmp: Path, *, source: Path | None = None, timeout: float = 120) -> Iterator[Served]:
    """The app over ``database_url`` under granian (one worker: one event loop, many requests in flight), its
    files and log in ``tmp``; ``source`` is a directory holding the ``marketplace`` package to serve instead of the
    checkout's (a mutant's copy)."""
    root = source or ROOT
    tmp.mkdir(parents=True, exist_ok=True)
    marker = tmp / "served-from.txt"
    marker.unlink(missing_ok=True)
    env = {
        **os.environ,
        "RACE_DATABASE_URL": database_url,
        "RACE_TMP": str(tmp),
        "RACE_MARKER": str(marker),
        "PYTHONPATH": str(root),
    }
    env.pop("REDIS_URL", None)
    log = tmp / "server.log"
    # `python -m` runs from ``root``: its ``marketplace`` is the one imported.
    with granian_app(FACTORY, env, log, cwd=root, timeout=timeout, extra=("--backlog", "256")) as base:
        yield Served(base, log, Path(marker.read_text().strip()))


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    text: str
    window: tuple[float, float] | None  # the server's (start, end) of this request


@dataclass
class Volley:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def codes(self) -> list[int]:
        return sorted(o.status for o in self.outcomes)

    def count(self, *statuses: int) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status >= 500]

    def locked(self) -> list[Outcome]:
        """Answers that let SQLite's "database is locked" reach the caller."""
        return [o for o in self.outcomes if "database is locked" in o.text]

    def peak_overlap(self) -> int:
        """The most requests the server was handling at one instant (from its own start/end stamps)."""
        return peak_overlap([o.window for o in self.outcomes if o.window is not None])


def peak_overlap(windows: Sequence[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows])
    peak = current = 0
    for _, step in events:  # an end sorts before a start at the same instant: touching is not overlapping
        current += step
        peak = max(peak, current)
    return peak


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def fire(base_url: str, requests: Sequence[Request], *, seconds: float = 120) -> Volley:
    """Send every request at once, each on its own connection (opened beforehand, so they start together)."""
    n = len(requests)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=seconds) as client:
        # Warm n connections with n concurrent cheap requests, so the volley does not wait for TCP set-ups.
        await asyncio.gather(*(client.get("/health") for _ in range(n)))
        gate = asyncio.Event()

        async def one(request: Request) -> Outcome:
            await gate.wait()
            r = await request(client)
            stamp = r.headers.get(WINDOW_HEADER)
            window = None
            if stamp:
                start, end = stamp.split()
                window = (float(start), float(end))
            try:
                body = r.json()
            except ValueError:
                body = None
            return Outcome(r.status_code, body, r.text, window)

        tasks = [asyncio.create_task(one(request)) for request in requests]
        await asyncio.sleep(0)
        gate.set()
        return Volley(list(await asyncio.gather(*tasks)))


async def login(base_url: str, username: str, password: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


# ---------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutation:
    """One protection taken away: ``replacements`` are (file under marketplace/, exact old text, new text)."""

    name: str
    protection: str
    replacements: tuple[tuple[str, str, str], ...]


def mutant_source(mutation: Mutation, dest: Path) -> Path:
    """A directory with a copy of ``marketplace`` carrying ``mutation`` (and links to the checkout's other
    packages). Each old text must occur exactly once in its file."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "marketplace", dest / "marketplace", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SIBLINGS:
        (dest / name).symlink_to(ROOT / name, target_is_directory=True)
    for file, old, new in mutation.replacements:
        path = dest / "marketplace" / file
        text = path.read_text()
        found = text.count(old)
        if found != 1:
            raise AssertionError(
                f"mutation {mutation.name!r}: the text to replace occurs {found} times in marketplace/{file} "
                f"(must be exactly once; the protected code moved, update the mutation):\n{old}"
            )
        path.write_text(text.replace(old, new))
    return dest
