"""Looking for a deleted child everywhere: every table and column (as stored and as the app reads it), JSON links,
files under the data directory (the embedded search index among them) and captured log text."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import Base

# The tables that keep ids on purpose: the audit log (append-only, hash-chained, ids only) keeps the deletion's row.
KEEPS_IDS = frozenset({"audit_log", "chain_verifications"})


@dataclass
class Found:
    places: int = 0
    copies: list[str] = field(default_factory=list)


def _texts(value: Any) -> Iterable[str]:
    """Every string a stored value holds, XLSX/ZIP and binary contents decoded."""
    if value is None:
        return
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        yield raw.decode("utf-8", "ignore")
        yield raw.decode("utf-16-le", "ignore")
        if raw[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                for name in z.namelist():
                    yield z.read(name).decode("utf-8", "ignore")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v)
        return
    if isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v)
        return
    yield str(value)


def contains(haystack: Iterable[str], needles: Iterable[str]) -> list[str]:
    found = []
    texts = list(haystack)
    for needle in needles:
        if any(needle in t for t in texts):
            found.append(needle)
    return found


# The kind of record a JSON key ``<kind>_id(s)`` names (as tests name them; independent of the code under test).
KEY_KINDS = {
    "child_id": "child",
    "child_ids": "child",
    "need_id": "need",
    "need_ids": "need",
    "referral_id": "referral",
    "referral_ids": "referral",
    "report_id": "report",
    "report_ids": "report",
    "visit_id": "visit",
    "follow_up_visit_id": "visit",
    "transfer_id": "transfer",
    "decision_id": "decision",
    "payee_id": "payee",
    "escalation_id": "escalation",
}
# Columns linking a row to one of the child's records.
COLUMN_KINDS = {
    "child_id": "child",
    "need_id": "need",
    "referral_id": "referral",
    "follow_up_visit_id": "visit",
    "decision_id": "decision",
    "payee_id": "payee",
    "escalation_id": "escalation",
}
# The tables holding each kind of record, whose rows must be gone.
OWN_TABLES = {
    "child": "children",
    "need": "needs",
    "visit": "visits",
    "referral": "referrals",
    "transfer": "child_transfers",
    "decision": "allowance_decisions",
    "payee": "allowance_payees",
    "escalation": "escalations",
}
ENTITY_KINDS = {
    "child": "child",
    "need": "need",
    "referral": "referral",
    "child_transfer": "transfer",
    "allowance_decision": "decision",
    "escalation": "escalation",
}


def _json_links(value: Any, ids: Mapping[str, set[int]]) -> list[str]:
    hits: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            kind = KEY_KINDS.get(str(key))
            if kind is not None:
                values = item if isinstance(item, list) else [item]
                hits += [f"{key}={v}" for v in values if isinstance(v, int) and v in ids.get(kind, set())]
            hits += _json_links(item, ids)
    elif isinstance(value, list):
        for item in value:
            hits += _json_links(item, ids)
    return hits


async def scan_database(session: AsyncSession, needles: list[str], ids: Mapping[str, set[int]]) -> Found:
    """Every table: the values in clear (stored and as read), and every link to the child's records."""
    out = Found()
    for table in Base.metadata.sorted_tables:
        out.places += 1
        raw = (await session.execute(text(f"SELECT * FROM {table.name}"))).mappings().all()
        read = (await session.execute(select(table))).mappings().all()
        for kind, rows in (("stored", raw), ("read", read)):
            for row in rows:
                for column, value in row.items():
                    for hit in contains(_texts(value), needles):
                        out.copies.append(f"{table.name}.{column} ({kind}) holds {hit!r}")
        if table.name in KEEPS_IDS:
            continue
        for row in read:
            for column, value in row.items():
                kind = COLUMN_KINDS.get(column)
                if kind is not None and value in ids.get(kind, set()):
                    out.copies.append(f"{table.name}.{column} = {value} (row {row.get('id')})")
                if isinstance(value, dict | list):
                    out.copies += [f"{table.name}.{column}: {h} (row {row.get('id')})" for h in _json_links(value, ids)]
            if table.name == "allowance_payments":
                child = next(iter(ids["child"]))
                if row["person_key"] == f"child:{child}":
                    out.copies.append(f"allowance_payments.person_key names child {child}")
            if "entity" in row and "entity_id" in row:
                kind = ENTITY_KINDS.get(row["entity"])
                if kind is not None and row["entity_id"] in ids.get(kind, set()):
                    out.copies.append(f"{table.name} row {row['id']} is about {row['entity']} {row['entity_id']}")
        for kind, own in OWN_TABLES.items():
            if table.name == own:
                left = [r["id"] for r in read if r["id"] in ids.get(kind, set())]
                if left:
                    out.copies.append(f"{own} still holds rows {left}")
    return out


def scan_files(roots: Iterable[Path], needles: list[str]) -> Found:
    out = Found()
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            out.places += 1
            for hit in contains(_texts(path.read_bytes()), needles):
                out.copies.append(f"{path} holds {hit!r}")
    return out
