"""donation receipt prints (original, then copies) and the bank statement imports kept for the fund manager

Revision ID: 0018
Revises: 0001
Create Date: 2026-12-02 18:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0018'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# It references the funds and donation_receipts tables that 0004 creates.
depends_on: str | Sequence[str] | None = '0004'


def upgrade() -> None:
    op.create_table('donation_receipt_prints',
    sa.Column('receipt_id', sa.Integer(), nullable=False),
    sa.Column('donation_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('printed_by', sa.Integer(), nullable=True),
    sa.Column('printed_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['donation_receipts.id'], name=op.f('fk_donation_receipt_prints_receipt_id_donation_receipts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donation_receipt_prints')),
    sa.UniqueConstraint('receipt_id', 'n', name=op.f('uq_donation_receipt_prints_receipt_id_n'))
    )
    with op.batch_alter_table('donation_receipt_prints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donation_receipt_prints_donation_id'), ['donation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donation_receipt_prints_receipt_id'), ['receipt_id'], unique=False)

    op.create_table('bank_statement_imports',
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('created_fen', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.Column('mapping_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_bank_statement_imports_fund_id_funds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statement_imports'))
    )
    with op.batch_alter_table('bank_statement_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_statement_imports_fund_id'), ['fund_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bank_statement_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_statement_imports_fund_id'))
    op.drop_table('bank_statement_imports')
    with op.batch_alter_table('donation_receipt_prints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donation_receipt_prints_receipt_id'))
        batch_op.drop_index(batch_op.f('ix_donation_receipt_prints_donation_id'))
    op.drop_table('donation_receipt_prints')
