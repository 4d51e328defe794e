"""docs/operations.md, the operating guide, keeps up with the code: every MARKETPLACE_* variable the settings read
has its row in the guide's table, and every command the guide tells an operator to run exists."""

from __future__ import annotations

import re
from pathlib import Path

from marketplace.cli import main
from marketplace.settings import ENVIRONMENT_VARIABLES

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def test_every_marketplace_variable_has_its_row_in_the_guide() -> None:
    rows = set(re.findall(r"^\| `(MARKETPLACE_[A-Z_]+)` \|", GUIDE.read_text(encoding="utf-8"), re.MULTILINE))
    missing = [name for name in ENVIRONMENT_VARIABLES if name.startswith("MARKETPLACE_") and name not in rows]
    assert missing == [], f"add a row for each to docs/operations.md's table of MARKETPLACE_* variables: {missing}"


def test_every_command_the_guide_names_exists() -> None:
    named = set(re.findall(r"`marketplace ([a-z][a-z-]+)", GUIDE.read_text(encoding="utf-8")))
    assert {"serve", "worker", "beat", "migrate", "verify", "reindex", "rotate-field-key"} <= named
    assert sorted(named - set(main.commands)) == []
