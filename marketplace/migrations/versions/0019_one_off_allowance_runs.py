"""festival and special (one-off) allowance runs, and runs prepared in the background with their progress

Revision ID: 0019
Revises: 0001
Create Date: 2026-12-02 23:40:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# It changes the allowance_runs and allowance_payments tables as 0015 left them.
depends_on: str | Sequence[str] | None = '0015'


def upgrade() -> None:
    with op.batch_alter_table('allowance_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='monthly'))
        batch_op.add_column(sa.Column('title', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('pay_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('line_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('steps_total', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('steps_done', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('error', sa.String(length=2000), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_allowance_runs_kind'), ['kind'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_allowance_runs_line_id_budget_lines'), 'budget_lines', ['line_id'], ['id']
        )
    op.execute(sa.text("UPDATE allowance_runs SET params = '{}' WHERE params IS NULL"))
    with op.batch_alter_table('allowance_runs', schema=None) as batch_op:
        batch_op.alter_column('params', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('kind', existing_type=sa.String(length=20), existing_nullable=False, server_default=None)
        batch_op.alter_column('title', existing_type=sa.String(length=120), existing_nullable=False, server_default=None)
        batch_op.alter_column('steps_total', existing_type=sa.Integer(), existing_nullable=False, server_default=None)
        batch_op.alter_column('steps_done', existing_type=sa.Integer(), existing_nullable=False, server_default=None)
        batch_op.alter_column('error', existing_type=sa.String(length=2000), existing_nullable=False, server_default=None)

    with op.batch_alter_table('allowance_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=300), nullable=False, server_default=''))
        batch_op.create_unique_constraint(
            batch_op.f('uq_allowance_payments_run_id_person_key'), ['run_id', 'person_key']
        )
    with op.batch_alter_table('allowance_payments', schema=None) as batch_op:
        batch_op.alter_column('reason', existing_type=sa.String(length=300), existing_nullable=False, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('allowance_payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_allowance_payments_run_id_person_key'), type_='unique')
        batch_op.drop_column('reason')
    with op.batch_alter_table('allowance_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_allowance_runs_line_id_budget_lines'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_allowance_runs_kind'))
        batch_op.drop_column('error')
        batch_op.drop_column('steps_done')
        batch_op.drop_column('steps_total')
        batch_op.drop_column('params')
        batch_op.drop_column('line_id')
        batch_op.drop_column('pay_date')
        batch_op.drop_column('title')
        batch_op.drop_column('kind')
