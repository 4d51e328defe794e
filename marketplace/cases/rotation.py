"""``marketplace rotate-field-key``: every encrypted field of the children's files moved to the current key.

Without downtime: the rows are read and rewritten in batches, each batch its own short transaction, while the app
keeps serving (it reads old and new ciphertexts alike, and finds an identity number under every key of the ring).
A row is rewritten only if it still holds what the batch read (compare and set), so an edit the app commits
meanwhile is never overwritten; a row the app changed is looked at again in another pass. A row already under the
current key is left alone, so a second run changes nothing and a run that stopped half way is resumed by running
the command again. Each rewritten file leaves an audit row (``reencrypt``, by ``system``).

The allowance payees' bank accounts (``allowance_payees.account_enc``) are moved the same way after the files;
a payee row is never edited by the app, so its compare and set only guards against a second rotation running.

Then the free-text columns encrypted by their type (``crypto.EncryptedText``: names, notes, findings, descriptions;
the list is in ``marketplace.cases.crypto``), table by table, the same way: read raw, re-encrypted under the current
key, compare and set on every encrypted column of the row, one audit row per rewritten record. A value still in
clear (written before migration 0022) is encrypted on the way; a child's name also gets its blind index
(``name_hmac``) under the current key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from cryptography.exceptions import InvalidTag
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Integer,
    TableClause,
    Text,
    and_,
    column,
    func,
    or_,
    select,
    table,
    true,
    update,
)

from marketplace.audit import service as audit
from marketplace.cases.crypto import FieldCipher, UnknownFieldKey, encrypted_columns, is_ciphertext, key_id_of
from marketplace.cases.models import AllowancePayee, Child
from marketplace.db import Base, Database

# (column, the associated data the value is sealed with, the name the audit row gives it)
FIELDS = (
    ("id_number_enc", "children.id_number", "id_number"),
    ("guardian_phone_enc", "children.guardian_phone", "guardian_phone"),
    ("address_enc", "children.address", "address"),
)
PAYEE_FIELD = ("account_enc", "allowance_payees.account", "allowance_account")
MAX_PASSES = 5


@dataclass
class RotationReport:
    key_id: str
    total: int = 0  # children's files in the database
    rotated: int = 0  # files rewritten under the current key
    fields: Counter[str] = field(default_factory=Counter)  # values re-encrypted, per field
    changed_meanwhile: int = 0  # files the app changed between read and write (looked at again)
    unreadable: list[int] = field(default_factory=list)  # files no key of the ring opens
    payees_rotated: int = 0  # allowance payee rows whose bank account was re-encrypted
    payees_unreadable: list[int] = field(default_factory=list)  # payee rows no key of the ring opens
    text_batches: int = 0  # batches of the free-text passes (``batches`` counts the files' and payees')
    texts_rotated: int = 0  # rows whose encrypted free text was rewritten under the current key
    texts_unreadable: list[tuple[str, int]] = field(default_factory=list)  # (table, id) no key of the ring opens
    batches: int = 0
    passes: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # files still under another key, by key id

    @property
    def done(self) -> bool:
        return not self.remaining and not self.unreadable and not self.payees_unreadable and not self.texts_unreadable


def _not_under(column: Any, prefix: str, *, nullable: bool) -> ColumnElement[bool]:
    stale = ~column.startswith(prefix, autoescape=True)
    return and_(column.is_not(None), stale) if nullable else stale


def _stale(prefix: str) -> ColumnElement[bool]:
    """Files with at least one value not encrypted under the key whose ciphertexts start with ``prefix``."""
    return or_(
        _not_under(Child.id_number_enc, prefix, nullable=False),
        _not_under(Child.guardian_phone_enc, prefix, nullable=True),
        _not_under(Child.address_enc, prefix, nullable=True),
    )


def _same(column: Any, value: str | None) -> ColumnElement[bool]:
    same: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return same


async def _pass(
    db: Database,
    cipher: FieldCipher,
    report: RotationReport,
    batch_size: int,
    progress: Callable[[RotationReport], None] | None,
) -> int:
    """One walk over the files in id order; how many files the app changed under it."""
    prefix = f"v2:{report.key_id}:"
    after, changed = 0, 0
    skip = set(report.unreadable)
    while True:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Child.id, Child.id_number_enc, Child.guardian_phone_enc, Child.address_enc)
                    .where(Child.id > after, _stale(prefix), Child.id.not_in(skip) if skip else true())
                    .order_by(Child.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return changed
            rewritten: list[int] = []
            touched: set[str] = set()
            for row in rows:
                values: dict[str, Any] = {}
                names: list[str] = []
                try:
                    for column, aad, name in FIELDS:
                        token = getattr(row, column)
                        if token is None or token.startswith(prefix):
                            continue
                        plain = cipher.decrypt(token, aad)
                        values[column] = cipher.encrypt(plain, aad)
                        names.append(name)
                        if column == "id_number_enc":
                            values["id_number_hmac"] = cipher.lookup_hash(plain)
                except UnknownFieldKey:
                    report.unreadable.append(row.id)
                    skip.add(row.id)
                    continue
                result = await session.execute(
                    update(Child)
                    .where(
                        Child.id == row.id,
                        Child.id_number_enc == row.id_number_enc,
                        _same(Child.guardian_phone_enc, row.guardian_phone_enc),
                        _same(Child.address_enc, row.address_enc),
                    )
                    # Re-encrypting is not an edit of the file: its updated_at stays.
                    .values(**values, updated_at=Child.updated_at)
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], result).rowcount == 1:
                    rewritten.append(row.id)
                    touched.update(names)
                    report.fields.update(names)
                else:
                    changed += 1
            await audit.record_many(
                session,
                None,
                "reencrypt",
                "child",
                rewritten,
                [name for _, _, name in FIELDS if name in touched],
                {"key_id": report.key_id},
            )
        report.rotated += len(rewritten)
        report.batches += 1
        after = rows[-1].id
        if progress is not None:
            progress(report)


async def _payee_pass(
    db: Database,
    cipher: FieldCipher,
    report: RotationReport,
    batch_size: int,
    progress: Callable[[RotationReport], None] | None,
) -> None:
    """The payees' bank accounts under another key, rewritten under the current one, in id order."""
    prefix = f"v2:{report.key_id}:"
    column, aad, name = PAYEE_FIELD
    after = 0
    while True:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(AllowancePayee.id, AllowancePayee.child_id, AllowancePayee.account_enc)
                    .where(
                        AllowancePayee.id > after,
                        _not_under(AllowancePayee.account_enc, prefix, nullable=False),
                    )
                    .order_by(AllowancePayee.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return
            children: list[int] = []
            for row in rows:
                try:
                    plain = cipher.decrypt(row.account_enc, aad)
                except UnknownFieldKey:
                    if row.id not in report.payees_unreadable:
                        report.payees_unreadable.append(row.id)
                    continue
                result = await session.execute(
                    update(AllowancePayee)
                    .where(AllowancePayee.id == row.id, AllowancePayee.account_enc == row.account_enc)
                    .values({column: cipher.encrypt(plain, aad)})
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], result).rowcount == 1:
                    report.payees_rotated += 1
                    report.fields[name] += 1
                    children.append(row.child_id)
            await audit.record_many(
                session, None, "reencrypt", "child", sorted(set(children)), [name], {"key_id": report.key_id}
            )
        report.batches += 1
        after = rows[-1].id
        if progress is not None:
            progress(report)


# The audit log's name of a record of each table with encrypted free text.
ENTITIES = {
    "children": "child",
    "needs": "need",
    "visits": "visit",
    "mandatory_reports": "mandatory_report",
    "mandatory_report_steps": "mandatory_report_step",
    "child_transfers": "child_transfer",
    "escalation_actions": "escalation_action",
    "referrals": "referral",
    "referral_logs": "referral_log",
    "allowance_decisions": "allowance_decision",
    "allowance_payees": "allowance_payee",
    "notifications": "notification",
    "allowance_payments": "allowance_payment",
    "export_jobs": "export_job",
}


def text_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    """The tables with ``EncryptedText`` columns, each with its columns and their associated data."""
    return encrypted_columns(Base.metadata)


# Encrypted columns searched through a hash kept beside them: (table, column) -> (hash column, the cipher's method).
# A rewritten value gets its hash under the current key too, so a search still finds it once the old key is gone.
HASHED: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("children", "name"): ("name_hmac", "name_hash"),
    ("volunteers", "id_number"): ("id_number_hash", "lookup_hash"),
}


def _raw(name: str, columns: tuple[tuple[str, str], ...]) -> TableClause:
    """``name`` with its encrypted columns as plain text: the ciphertexts as stored, not decrypted by their type."""
    extra = [column(h, Text) for (t, _), (h, _) in HASHED.items() if t == name]
    return table(name, column("id", Integer), *(column(c, Text) for c, _ in columns), *extra)


def _text_stale(t: TableClause, columns: tuple[tuple[str, str], ...], prefix: str) -> ColumnElement[bool]:
    return or_(
        *(and_(t.c[c].is_not(None), t.c[c] != "", ~t.c[c].startswith(prefix, autoescape=True)) for c, _ in columns)
    )


async def _text_pass(
    db: Database,
    cipher: FieldCipher,
    report: RotationReport,
    name: str,
    columns: tuple[tuple[str, str], ...],
    batch_size: int,
    progress: Callable[[RotationReport], None] | None,
) -> int:
    """One walk over ``name``'s rows with a value under another key (or in clear); how many the app changed."""
    prefix = f"v2:{report.key_id}:"
    t = _raw(name, columns)
    after, changed = 0, 0
    skip = {i for table_name, i in report.texts_unreadable if table_name == name}
    while True:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(t.c.id, *(t.c[c] for c, _ in columns))
                    .where(t.c.id > after, _text_stale(t, columns, prefix), t.c.id.not_in(skip) if skip else true())
                    .order_by(t.c.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return changed
            rewritten: list[int] = []
            touched: set[str] = set()
            for row in rows:
                values: dict[str, Any] = {}
                try:
                    for c, aad in columns:
                        token = getattr(row, c)
                        if not token or token.startswith(prefix):
                            continue
                        plain = cipher.decrypt(token, aad) if is_ciphertext(token) else token
                        values[c] = cipher.encrypt(plain, aad)
                        hashed = HASHED.get((name, c))
                        if hashed is not None:
                            values[hashed[0]] = getattr(cipher, hashed[1])(plain)
                except (UnknownFieldKey, InvalidTag, ValueError):
                    report.texts_unreadable.append((name, row.id))
                    skip.add(row.id)
                    continue
                result = await session.execute(
                    update(t)
                    .where(t.c.id == row.id, *(_same(t.c[c], getattr(row, c)) for c, _ in columns))
                    .values(**values)
                )
                if cast(CursorResult[Any], result).rowcount == 1:
                    rewritten.append(row.id)
                    hashes = {h for (t, _), (h, _) in HASHED.items() if t == name}
                    names = [f"{name}.{c}" for c in values if c not in hashes]
                    touched.update(c for c in values if c not in hashes)
                    report.fields.update(names)
                else:
                    changed += 1
            await audit.record_many(
                session,
                None,
                "reencrypt",
                ENTITIES.get(name, name),
                rewritten,
                [c for c, _ in columns if c in touched],
                {"key_id": report.key_id},
            )
        report.texts_rotated += len(rewritten)
        report.text_batches += 1
        after = rows[-1].id
        if progress is not None:
            progress(report)


async def remaining_by_key(db: Database, key_id: str) -> dict[str, int]:
    """Files (and payee rows) with a value under another key than ``key_id``, counted by that key's id (``v1``:
    legacy)."""
    async with db.session(write=False) as session:
        rows = (
            await session.execute(
                select(Child.id_number_enc, Child.guardian_phone_enc, Child.address_enc).where(_stale(f"v2:{key_id}:"))
            )
        ).all()
        payees = (
            await session.scalars(
                select(AllowancePayee.account_enc).where(
                    _not_under(AllowancePayee.account_enc, f"v2:{key_id}:", nullable=False)
                )
            )
        ).all()
    counts: Counter[str] = Counter()
    for row in rows:
        ids = {key_id_of(token) or "v1" for token in row if token is not None}
        counts.update(ids - {key_id})
    counts.update((key_id_of(token) or "v1") for token in payees)
    prefix = f"v2:{key_id}:"
    async with db.session(write=False) as session:
        for name, columns in text_tables().items():
            t = _raw(name, columns)
            for row in (
                await session.execute(select(*(t.c[c] for c, _ in columns)).where(_text_stale(t, columns, prefix)))
            ).all():
                ids = {(key_id_of(token) or "v1") if is_ciphertext(token) else "clear" for token in row if token}
                counts.update(ids - {key_id})
    return dict(sorted(counts.items()))


async def rotate(
    db: Database,
    cipher: FieldCipher,
    *,
    batch_size: int = 200,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt every file not wholly under ``cipher``'s current key; passes until none is left (or
    ``MAX_PASSES``, when the app keeps changing the same files)."""
    report = RotationReport(key_id=cipher.current_id)
    async with db.session(write=False) as session:
        report.total = int(await session.scalar(select(func.count()).select_from(Child)) or 0)
    while report.passes < MAX_PASSES:
        report.passes += 1
        changed = await _pass(db, cipher, report, batch_size, progress)
        report.changed_meanwhile += changed
        if not changed:
            break
    await _payee_pass(db, cipher, report, batch_size, progress)
    for name, columns in text_tables().items():
        for _ in range(MAX_PASSES):
            if not await _text_pass(db, cipher, report, name, columns, batch_size, progress):
                break
    report.remaining = await remaining_by_key(db, report.key_id)
    return report
