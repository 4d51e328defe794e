"""Acceptance evidence files for contract milestones.

A file is stored once in the data directory under its SHA-256 (``evidence/<first two hex>/<sha256>``), so the same
file uploaded twice is one file; the milestone's ``evidence`` list names it with its checksum, size and type. A
download re-reads the file and checks its SHA-256 against the one recorded: a file changed or lost on disk is
refused, never served. Only the types a district keeps as acceptance records are taken (PDF, JPEG, PNG, DOCX,
XLSX), recognised by their first bytes as well as their name, and at most ``MAX_BYTES`` each.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.procurement.contracts import CONTRACT_LIFECYCLE, get_contract
from marketplace.procurement.models import Contract, Milestone
from marketplace.procurement.service import require_read, require_write

MAX_BYTES = 8 * 1024 * 1024
MAX_FILES = 20
# Extension -> (content type, the file's first bytes).
TYPES: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
}
ALLOWED_TEXT = "PDF、JPG、PNG、DOCX、XLSX"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _root(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / "evidence"


def path_of(data_dir: str | os.PathLike[str], sha256: str) -> Path:
    if not SHA256_RE.match(sha256):
        raise NotFound("证明材料不存在 (evidence not found)")
    return _root(data_dir) / sha256[:2] / sha256


def clean_name(filename: str) -> str:
    """The file's own name without any directory part, trimmed to 200 characters (keeping its extension)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 199 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def check_file(filename: str, raw: bytes) -> tuple[str, str]:
    """The file's clean name and content type, or a 422 naming what is wrong."""
    name = clean_name(filename)
    if not name:
        raise Invalid.field("file", "请选择要上传的证明材料文件 (choose a file)")
    if not raw:
        raise Invalid.field("file", "文件为空 (the file is empty)")
    if len(raw) > MAX_BYTES:
        raise Invalid.field("file", f"证明材料单个文件不超过 {MAX_BYTES // (1024 * 1024)}MB (file too large)")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in TYPES:
        raise Invalid.field("file", f"证明材料只接受 {ALLOWED_TEXT} 文件 (file type not allowed)")
    content_type, magic = TYPES[ext]
    if not raw.startswith(magic):
        raise Invalid.field("file", f"文件内容与扩展名 .{ext} 不符 (file content does not match its type)")
    return name, content_type


def _write(data_dir: str | os.PathLike[str], sha256: str, raw: bytes) -> None:
    target = path_of(data_dir, sha256)
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _milestone(contract: Contract, milestone_id: int) -> Milestone:
    for m in contract.milestones:
        if m.id == milestone_id:
            return m
    raise NotFound(f"合同 {contract.id} 没有节点 {milestone_id} (milestone not found)")


def files_of(milestone: Milestone) -> list[dict[str, Any]]:
    """The uploaded files among a milestone's evidence (entries named by document only have no checksum)."""
    return [e for e in milestone.evidence or [] if isinstance(e, dict) and e.get("sha256")]


def download_url(contract_id: int, milestone_id: int, sha256: str) -> str:
    return f"/api/v1/contracts/{contract_id}/milestones/{milestone_id}/evidence/{sha256}"


async def add_file(
    session: AsyncSession,
    principal: Principal,
    data_dir: str | os.PathLike[str],
    contract_id: int,
    milestone_id: int,
    filename: str,
    raw: bytes,
) -> dict[str, Any]:
    """Store an evidence file for a milestone still to be accepted and list it on the milestone."""
    require_write(principal)
    name, content_type = check_file(filename, raw)
    contract = await get_contract(session, contract_id, lock=True)
    milestone = _milestone(contract, milestone_id)
    CONTRACT_LIFECYCLE.target(contract.status, "accept_milestone")
    if milestone.status == "accepted":
        raise Conflict("该节点已验收，不能再补充证明材料 (milestone already accepted)")
    current = list(milestone.evidence or [])
    sha256 = hashlib.sha256(raw).hexdigest()
    if any(e.get("sha256") == sha256 for e in current):
        raise Conflict(f"该文件已上传（{name}）(this file is already attached)", sha256=sha256)
    if len(current) >= MAX_FILES:
        raise Conflict(f"每个节点最多 {MAX_FILES} 份证明材料 (too many files)")
    _write(data_dir, sha256, raw)
    entry: dict[str, Any] = {
        "name": name,
        "url": download_url(contract.id, milestone.id, sha256),
        "sha256": sha256,
        "size": len(raw),
        "content_type": content_type,
        "uploaded_at": clock.now().isoformat(),
        "uploaded_by": principal.user_id,
    }
    milestone.evidence = [*current, entry]
    await session.flush()
    return entry


@dataclass(frozen=True)
class EvidenceFile:
    name: str
    content_type: str
    sha256: str
    content: bytes


async def read_file(
    session: AsyncSession,
    principal: Principal,
    data_dir: str | os.PathLike[str],
    contract_id: int,
    milestone_id: int,
    sha256: str,
) -> EvidenceFile:
    """An evidence file of a milestone, its checksum verified against the one recorded (409 when they differ)."""
    require_read(principal)
    contract = await get_contract(session, contract_id)
    milestone = _milestone(contract, milestone_id)
    entry = next((e for e in files_of(milestone) if e["sha256"] == sha256), None)
    if entry is None:
        raise NotFound("证明材料不存在 (evidence not found)")
    try:
        raw = path_of(data_dir, sha256).read_bytes()
    except FileNotFoundError:
        raise Conflict("证明材料文件缺失，请重新上传 (the stored file is missing)") from None
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise Conflict("证明材料校验失败：文件已被改动，拒绝下载 (checksum mismatch)", sha256=sha256)
    return EvidenceFile(
        name=str(entry.get("name") or sha256),
        content_type=str(entry.get("content_type") or "application/octet-stream"),
        sha256=sha256,
        content=raw,
    )
