"""the words that describe a child or a household encrypted at rest (names, notes, findings, descriptions), and the
blind index of a child's name for duplicate detection

Revision ID: 0022
Revises: 0001
Create Date: 2026-12-03 00:00:00.000000

Every existing value is encrypted in batches (one statement per row, in id order) with the field key ring of the
settings the migration runs with (``marketplace.migrate`` passes them; ``marketplace.cases.crypto``): the
ciphertexts are those ``EncryptedText`` writes. A value already encrypted (a second run) is left alone. On
PostgreSQL the bounded columns become ``text`` first (a ciphertext is about 1.4 times the UTF-8 text, plus its
prefix); SQLite does not bound them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from marketplace.cases.crypto import FieldCipher, field_cipher, is_ciphertext
from marketplace.settings import Settings, get_settings

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The tables come from 0003 (cases, referrals), 0010 (transfers, report steps), 0015 (allowance decisions and
# payees) and 0017 (escalation actions); 0015 and 0017 depend on 0003 and 0010 themselves (naming those again
# confuses alembic's head bookkeeping).
depends_on: str | Sequence[str] | None = ("0015", "0017")

BATCH = 500

# table -> its encrypted columns (the associated data of each is "<table>.<column>")
COLUMNS: dict[str, tuple[str, ...]] = {
    "children": ("name", "school", "household_notes", "guardian_name", "guardian_relation", "share_note"),
    "needs": ("note",),
    "visits": ("findings",),
    "mandatory_reports": ("description", "subject_name", "subject_description", "place"),
    "mandatory_report_steps": ("note",),
    "child_transfers": ("reason", "decision_note"),
    "escalation_actions": ("note",),
    "referrals": (
        "share_note",
        "consent_override_reason",
        "decline_reason",
        "outcome_note",
        "verdict_note",
        "revoke_reason",
    ),
    "referral_logs": ("note",),
    "allowance_decisions": ("note", "review_note", "decision_note"),
    "allowance_payees": ("name",),
    "notifications": ("title", "body"),
    "allowance_payments": ("person_name", "payee_name"),
}
# The bounded columns (VARCHAR on PostgreSQL) among them, with their old widths.
BOUNDED: dict[tuple[str, str], int] = {
    ("children", "name"): 80,
    ("children", "school"): 200,
    ("children", "guardian_name"): 120,
    ("children", "guardian_relation"): 40,
    ("mandatory_reports", "subject_name"): 80,
    ("mandatory_reports", "place"): 300,
    ("allowance_payees", "name"): 120,
    ("notifications", "title"): 200,
    ("allowance_payments", "person_name"): 80,
    ("allowance_payments", "payee_name"): 120,
}


def _cipher() -> FieldCipher:
    settings = context.config.attributes.get("settings")
    return field_cipher(settings if isinstance(settings, Settings) else get_settings())


def _rewrite(table: str, columns: Sequence[str], change: Any, name_hash: Any = None) -> None:
    """Every row of ``table``, in id order and batches, its ``columns`` passed through ``change(value, aad)``
    (``name_hash``: also set ``children.name_hmac`` from the clear name)."""
    bind = op.get_bind()
    extra = ("name_hmac",) if name_hash is not None else ()
    t = sa.table(table, sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in (*columns, *extra)))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(t.c.id, *(t.c[c] for c in columns)).where(t.c.id > last).order_by(t.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            values: dict[str, Any] = {}
            for c in columns:
                value = getattr(row, c)
                new = change(value, f"{table}.{c}") if value else value
                if new != value:
                    values[c] = new
                if name_hash is not None and c == "name":
                    values["name_hmac"] = name_hash(value or "")
            if values:
                bind.execute(sa.update(t).where(t.c.id == row.id).values(**values))
        last = rows[-1].id


def upgrade() -> None:
    cipher = _cipher()
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        for (table, column), width in BOUNDED.items():
            op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length=width))
    op.add_column("children", sa.Column("name_hmac", sa.String(length=64), nullable=False, server_default=""))
    op.drop_index("ix_children_dup", table_name="children")

    def encrypt(value: str, aad: str) -> str:
        return value if is_ciphertext(value) else cipher.encrypt(value, aad)

    def name_hash(value: str) -> str:
        return cipher.name_hash(cipher.decrypt(value, "children.name") if is_ciphertext(value) else value)

    for table, columns in COLUMNS.items():
        _rewrite(table, columns, encrypt, name_hash if table == "children" else None)
    op.create_index("ix_children_dup", "children", ["community_id", "name_hmac", "birth_date"], unique=False)


def downgrade() -> None:
    cipher = _cipher()

    def decrypt(value: str, aad: str) -> str:
        return cipher.decrypt(value, aad) if is_ciphertext(value) else value

    for table, columns in COLUMNS.items():
        _rewrite(table, columns, decrypt)
    op.drop_index("ix_children_dup", table_name="children")
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_column("name_hmac")
    op.create_index("ix_children_dup", "children", ["community_id", "name", "birth_date"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        for (table, column), width in BOUNDED.items():
            op.alter_column(table, column, type_=sa.String(length=width), existing_type=sa.Text())
