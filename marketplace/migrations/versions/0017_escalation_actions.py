"""escalation actions (acknowledge, remind, reassign) and the unread notifications index

Revision ID: 0017
Revises: 0001
Create Date: 2026-12-02 18:05:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0017'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# The escalations table comes from 0010 (the closed loop), the notifications table from 0003 (cases).
depends_on: str | Sequence[str] | None = ('0003', '0010')


def upgrade() -> None:
    op.create_table('escalation_actions',
    sa.Column('escalation_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], name=op.f('fk_escalation_actions_escalation_id_escalations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_actions'))
    )
    with op.batch_alter_table('escalation_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_actions_escalation_id'), ['escalation_id'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_unread', ['recipient_id', 'read_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_unread')
    with op.batch_alter_table('escalation_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_actions_escalation_id'))
    op.drop_table('escalation_actions')
