"""hash chains over the audit log and the ledger (prev_hash, hash), and the record of chain verifications

Revision ID: 0021
Revises: 0001
Create Date: 2026-12-03 00:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0021'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# It adds columns to audit_log (created by 0003) and to the ledger tables (created by 0004).
depends_on: str | Sequence[str] | None = ('0003', '0004')

CHAINED = ("audit_log", "journal_entries", "ledger_postings")


def _triggers(enable: bool) -> None:
    """The append-only triggers (0003, 0004) refuse the one-time UPDATE that chains the existing rows."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in CHAINED:
            op.execute(f"ALTER TABLE {table} {'ENABLE' if enable else 'DISABLE'} TRIGGER USER")
        return
    triggers = {
        "audit_log_no_update": ("audit_log", "UPDATE", "audit_log is append-only"),
        "journal_entries_no_update": (
            "journal_entries", "UPDATE", "ledger rows are immutable: UPDATE on journal_entries refused"),
        "ledger_postings_no_update": (
            "ledger_postings", "UPDATE", "ledger rows are immutable: UPDATE on ledger_postings refused"),
    }
    for name, (table, action, message) in triggers.items():
        if enable:
            op.execute(f"CREATE TRIGGER {name} BEFORE {action} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    for table in CHAINED:
        # Plain ADD COLUMN (no table copy on SQLite: the triggers stay).
        op.add_column(table, sa.Column('prev_hash', sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column('hash', sa.String(length=64), nullable=True))

    op.create_table('chain_verifications',
    sa.Column('started_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('rows_checked', sa.Integer(), nullable=False),
    sa.Column('chains', sa.JSON(), nullable=False),
    sa.Column('broken', sa.JSON(), nullable=True),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_verifications'))
    )
    with op.batch_alter_table('chain_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_verifications_started_at'), ['started_at'], unique=False)

    # Chain the rows already written, in id order, with the same hashing the application uses.
    from marketplace.audit import chain  # deferred import: the chain definitions load with the models
    from marketplace.features import load_models  # deferred import: as above

    load_models()
    _triggers(enable=False)
    for table in CHAINED:
        chain.relink_all(op.get_bind(), chain.CHAINS[table])
    _triggers(enable=True)


def downgrade() -> None:
    with op.batch_alter_table('chain_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_verifications_started_at'))
    op.drop_table('chain_verifications')
    for table in CHAINED:
        op.drop_column(table, 'hash')
        op.drop_column(table, 'prev_hash')
