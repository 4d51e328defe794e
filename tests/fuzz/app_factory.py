"""The app the fuzz tests serve over a real port: the fuzz database comes through the environment."""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar

from marketplace.app import create_app
from tests.support.databases import test_settings


def make() -> Litestar:
    return create_app(test_settings(os.environ["FUZZ_DATABASE_URL"], Path(os.environ["FUZZ_TMP"])))
