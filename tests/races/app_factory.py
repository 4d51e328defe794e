"""The app the race tests serve: the test's database comes through the environment, every response carries the
server's own start and end instants of the request (``x-race-window``), and the factory writes down which
``marketplace`` package it imported (a mutant's copy or the checkout)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import marketplace
from marketplace import clock
from marketplace.app import create_app
from tests.support.databases import test_settings
from tests.support.racing import WINDOW_HEADER


def make() -> Any:
    app = create_app(test_settings(os.environ["RACE_DATABASE_URL"], Path(os.environ["RACE_TMP"])))
    Path(os.environ["RACE_MARKER"]).write_text(str(Path(marketplace.__file__).resolve().parents[1]))

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = clock.timestamp()

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                stamp = f"{started:.6f} {clock.timestamp():.6f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (WINDOW_HEADER.encode(), stamp)]}
            await send(message)

        await app(scope, receive, stamped)

    return timed
