"""The documents point only inside the repository, and the committed OpenAPI schema is the one the app serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from marketplace.cli import openapi_document
from tests.support.databases import test_settings as settings_for

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HREF = re.compile(r"""<(?:a|img)\s[^>]*(?:href|src)=["']([^"']+)["']""", re.IGNORECASE)


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def links(markdown: str) -> list[str]:
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)  # fenced code is not a link
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return INLINE.findall(prose) + REFERENCE.findall(prose) + HREF.findall(prose)


def broken_links(document: Path, root: Path) -> list[str]:
    """Relative links in ``document`` that leave ``root`` or name a file that does not exist."""
    broken = []
    for target in links(document.read_text(encoding="utf-8")):
        if SCHEMES.match(target) or target.startswith("#"):
            continue  # a web address, mail, or an anchor in the same page
        path = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (root if path.startswith("/") else document.parent).joinpath(path.lstrip("/")).resolve()
        if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
            broken.append(target)
    return broken


def test_the_documents_exist() -> None:
    for document in documents():
        assert document.is_file(), document
    assert (ROOT / "docs" / "api.md") in documents()


def test_every_relative_link_points_at_a_file_in_the_repository() -> None:
    broken = {str(d.relative_to(ROOT)): b for d in documents() if (b := broken_links(d, ROOT))}
    assert broken == {}


def test_no_document_points_outside_the_repository() -> None:
    for document in documents():
        assert "../shared" not in document.read_text(encoding="utf-8"), document


def test_broken_links_finds_missing_and_outside_files(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("x")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/there.md) [ok too](docs/there.md#part) [web](https://example.com) [anchor](#top)\n"
        "[gone](docs/missing.md) [outside](../shared/API.md) <a href='nowhere.html'>x</a>\n"
        "`[in code](not/a/link.md)`\n```\n[fenced](also/not.md)\n```\n[ref]: docs/absent.md\n"
    )
    assert broken_links(page, tmp_path) == ["docs/missing.md", "../shared/API.md", "docs/absent.md", "nowhere.html"]


def test_committed_openapi_schema_is_what_the_app_generates(tmp_path: Path) -> None:
    """Regenerate with `marketplace openapi > docs/openapi.json` after changing a route or a schema."""
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    generated = openapi_document(settings_for(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    if committed != generated:
        old, new = json.loads(committed)["paths"], json.loads(generated)["paths"]
        added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        raise AssertionError(
            "docs/openapi.json is out of date: run `marketplace openapi > docs/openapi.json` "
            f"(paths added: {added}, removed: {removed}; when both are empty, a schema or a parameter changed)"
        )
