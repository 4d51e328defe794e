"""The app the browser tests serve over a real port: the per-test database comes through the environment."""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar

from marketplace.app import create_app
from tests.support.databases import test_settings


def make() -> Litestar:
    return create_app(test_settings(os.environ["BROWSER_TEST_DATABASE_URL"], Path(os.environ["BROWSER_TEST_TMP"])))
