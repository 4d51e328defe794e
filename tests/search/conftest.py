"""Backends under contract: the embedded one (and its FTS5 variant) always, Meilisearch when MEILI_URL is set.

Each is given the labels the app gives it (``marketplace.indexing.documents.LABELS``, the taxonomy's)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.indexing.documents import LABELS
from search.embedded import EmbeddedBackend
from search.fts5 import Fts5Backend
from search.meili import MeiliBackend
from search.port import SearchBackend

MEILI_SKIP = "MEILI_URL not set: Meilisearch server not available on this machine"


def _meili_param() -> object:
    marks = [pytest.mark.meilisearch]
    if not os.environ.get("MEILI_URL"):
        marks.append(pytest.mark.skip(reason=MEILI_SKIP))
    return pytest.param("meilisearch", marks=marks)


@pytest.fixture(params=["embedded", "fts5", _meili_param()])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    kind = request.param
    if kind == "embedded":
        embedded = EmbeddedBackend(str(tmp_path / "search.sqlite3"), LABELS)
        embedded.ensure_indexes()
        yield embedded
        embedded.close()
    elif kind == "fts5":
        fts = Fts5Backend(str(tmp_path / "fts.sqlite3"), LABELS)
        fts.ensure_indexes()
        yield fts
    else:
        meili = MeiliBackend(
            os.environ["MEILI_URL"],
            os.environ.get("MEILI_KEY"),
            labels=LABELS,
            prefix=f"test_{uuid.uuid4().hex[:8]}_",
        )
        meili.ensure_indexes()
        yield meili
        meili.drop()
