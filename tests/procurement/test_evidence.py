"""Milestone acceptance evidence: uploaded as a file, stored under its SHA-256, downloaded with the checksum checked."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from marketplace.procurement import evidence
from marketplace.procurement.models import Milestone
from tests.procurement.helpers import accept, line_id, make_budget, signed_contract

PDF = b"%PDF-1.4\n% evidence\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def contract(client: Any, auth: Any, world: Any) -> dict[str, Any]:
    budget = await make_budget(client, await auth("procurement"))
    return await signed_contract(client, auth, line_id(budget, "purchase_services"), world.orgs[0], 1_000_000)


async def stored(db: Any, mid: int) -> list[dict[str, Any]]:
    async with db.session() as s:
        m = await s.scalar(select(Milestone).where(Milestone.id == mid))
        assert m is not None
        return list(m.evidence)


async def test_upload_download_and_accept_keep_the_file(client, auth, world, db, settings) -> None:
    c = await contract(client, auth, world)
    mid = c["milestones"][0]["id"]
    url = f"/api/v1/contracts/{c['id']}/milestones/{mid}/evidence"
    officer = await auth("procurement")
    r = await client.post(url, files={"file": ("服务台账.pdf", PDF, "application/pdf")}, headers=officer)
    assert r.status_code == 201, r.text
    body = r.json()
    sha = hashlib.sha256(PDF).hexdigest()
    assert body["sha256"] == sha and body["size"] == len(PDF) and body["name"] == "服务台账.pdf"
    assert body["url"] == f"{url}/{sha}"
    # Content-addressed in the data directory.
    assert (Path(settings.data_dir) / "evidence" / sha[:2] / sha).read_bytes() == PDF
    # The same file twice is refused; readers download it, the checksum in a header.
    r = await client.post(url, files={"file": ("again.pdf", PDF, "application/pdf")}, headers=officer)
    assert r.status_code == 409
    for user in ("procurement", "auditor", "admin"):
        r = await client.get(body["url"], headers=await auth(user))
        assert r.status_code == 200 and r.content == PDF and r.headers["x-content-sha256"] == sha, user
    for user in ("fund", "org", "director"):
        r = await client.get(body["url"], headers=await auth(user))
        assert r.status_code in (403, 404), user
    # Accepting with a named document keeps the uploaded file beside it.
    r = await accept(client, auth, c, 0)
    assert r.status_code == 200, r.text
    items = await stored(db, mid)
    assert [e["name"] for e in items] == ["服务台账.pdf", "服务台账.pdf"]
    assert items[0]["sha256"] == sha and "sha256" not in items[1]
    # Nothing more once accepted.
    r = await client.post(url, files={"file": ("photo.png", PNG, "image/png")}, headers=officer)
    assert r.status_code == 409


async def test_bad_files_change_nothing(client, auth, world, db) -> None:
    c = await contract(client, auth, world)
    mid = c["milestones"][0]["id"]
    url = f"/api/v1/contracts/{c['id']}/milestones/{mid}/evidence"
    officer = await auth("procurement")
    cases = [
        ("notes.txt", b"hello", "text/plain"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"),
        ("empty.pdf", b"", "application/pdf"),
        ("big.pdf", b"%PDF-" + b"0" * evidence.MAX_BYTES, "application/pdf"),
    ]
    for name, raw, kind in cases:
        r = await client.post(url, files={"file": (name, raw, kind)}, headers=officer)
        assert r.status_code in (413, 422), (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), name
    r = await client.post(url, data={"note": "x"}, headers=officer)
    assert r.status_code in (400, 422)
    r = await client.post(url, files={"file": ("a.pdf", PDF, "application/pdf")}, headers=await auth("admin"))
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/milestones/999999/evidence",
        files={"file": ("a.pdf", PDF, "application/pdf")},
        headers=officer,
    )
    assert r.status_code == 404
    assert await stored(db, mid) == []
    r = await client.get(f"{url}/{'0' * 64}", headers=officer)
    assert r.status_code == 404
    r = await client.get(f"{url}/not-a-checksum", headers=officer)
    assert r.status_code in (400, 404, 422)


async def test_a_changed_file_is_refused(client, auth, world, db, settings) -> None:
    c = await contract(client, auth, world)
    mid = c["milestones"][0]["id"]
    officer = await auth("procurement")
    r = await client.post(
        f"/api/v1/contracts/{c['id']}/milestones/{mid}/evidence",
        files={"file": ("photo.png", PNG, "image/png")},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    sha = r.json()["sha256"]
    path = Path(settings.data_dir) / "evidence" / sha[:2] / sha
    path.write_bytes(PNG + b"tampered")
    r = await client.get(r.json()["url"], headers=officer)
    assert r.status_code == 409 and "校验" in r.json()["detail"]
