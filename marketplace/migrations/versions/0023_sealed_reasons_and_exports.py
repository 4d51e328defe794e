"""special-run reasons and report exports encrypted at rest

Revision ID: 0023
Revises: 0001
Create Date: 2026-12-03 03:00:00.000000

- ``allowance_payments.reason`` (why a special one-off payment is made: it may describe a child's circumstances)
  becomes an ``EncryptedText`` column like ``person_name``: every existing value is encrypted in batches with the
  field key ring of the settings the migration runs with (a value already encrypted is left alone); on PostgreSQL
  the column becomes ``text`` first.
- ``allowance_runs.params``: a run still preparing keeps its payees' reasons sealed
  (``allowance_runs.params.reason``); every other run's reasons are emptied (its payments hold them).
- ``export_jobs.content`` (the file, bytes in clear) is replaced by ``content_sealed``: the file in base64, sealed
  under the ring (``export_jobs.content``), so ``rotate-field-key`` moves it like any encrypted column.

The downgrade decrypts back (with the ring the migration runs with).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from marketplace.cases.crypto import FieldCipher, field_cipher, is_ciphertext
from marketplace.settings import Settings, get_settings

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# allowance_payments.reason and allowance_runs.params come from 0019, the encrypted allowance_payments from 0022,
# export_jobs from 0007.
depends_on: str | Sequence[str] | None = ("0007", "0019", "0022")

BATCH = 200
REASON = "allowance_payments.reason"
PARAMS_REASON = "allowance_runs.params.reason"
CONTENT = "export_jobs.content"


def _cipher() -> FieldCipher:
    settings = context.config.attributes.get("settings")
    return field_cipher(settings if isinstance(settings, Settings) else get_settings())


def _batches(table: sa.TableClause, *columns: str) -> Any:
    """The rows of ``table`` in id order, a batch at a time."""
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *(table.c[c] for c in columns))
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _reasons(change: Any) -> None:
    bind = op.get_bind()
    t = sa.table("allowance_payments", sa.column("id", sa.Integer), sa.column("reason", sa.Text))
    for rows in _batches(t, "reason"):
        for row in rows:
            if row.reason:
                new = change(row.reason, REASON)
                if new != row.reason:
                    bind.execute(sa.update(t).where(t.c.id == row.id).values(reason=new))


def _params(change: Any) -> None:
    bind = op.get_bind()
    t = sa.table(
        "allowance_runs", sa.column("id", sa.Integer), sa.column("status", sa.String), sa.column("params", sa.JSON)
    )
    for rows in _batches(t, "status", "params"):
        for row in rows:
            params = row.params
            payees = params.get("payees") if isinstance(params, dict) else None
            if not isinstance(payees, list) or not any(isinstance(p, dict) and p.get("reason") for p in payees):
                continue
            new = [{**p, "reason": change(str(p["reason"]), row.status)} if p.get("reason") else p for p in payees]
            bind.execute(sa.update(t).where(t.c.id == row.id).values(params={**params, "payees": new}))


def upgrade() -> None:
    cipher = _cipher()
    if op.get_context().dialect.name == "postgresql":
        op.alter_column("allowance_payments", "reason", type_=sa.Text(), existing_type=sa.String(length=300))
    _reasons(lambda value, aad: value if is_ciphertext(value) else cipher.encrypt(value, aad))

    def seal_or_drop(value: str, status: str) -> str:
        if status != "preparing":
            return ""
        return value if is_ciphertext(value) else cipher.encrypt(value, PARAMS_REASON)

    _params(seal_or_drop)

    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_sealed", sa.Text(), nullable=True))
    bind = op.get_bind()
    t = sa.table(
        "export_jobs",
        sa.column("id", sa.Integer),
        sa.column("content", sa.LargeBinary),
        sa.column("content_sealed", sa.Text),
    )
    for rows in _batches(t, "content"):
        for row in rows:
            if row.content is not None:
                sealed = cipher.encrypt(base64.b64encode(bytes(row.content)).decode(), CONTENT)
                bind.execute(sa.update(t).where(t.c.id == row.id).values(content_sealed=sealed))
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("content")


def downgrade() -> None:
    cipher = _cipher()
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    t = sa.table(
        "export_jobs",
        sa.column("id", sa.Integer),
        sa.column("content", sa.LargeBinary),
        sa.column("content_sealed", sa.Text),
    )
    for rows in _batches(t, "content_sealed"):
        for row in rows:
            if row.content_sealed:
                plain = base64.b64decode(cipher.decrypt(row.content_sealed, CONTENT))
                bind.execute(sa.update(t).where(t.c.id == row.id).values(content=plain))
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("content_sealed")

    _params(lambda value, _status: cipher.decrypt(value, PARAMS_REASON) if is_ciphertext(value) else value)
    _reasons(lambda value, aad: cipher.decrypt(value, aad) if is_ciphertext(value) else value)
    if op.get_context().dialect.name == "postgresql":
        op.alter_column("allowance_payments", "reason", type_=sa.String(length=300), existing_type=sa.Text())
