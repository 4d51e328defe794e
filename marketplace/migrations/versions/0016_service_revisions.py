"""service revisions: changes to a published service wait for the district's review

Revision ID: 0016
Revises: 0001
Create Date: 2026-12-02 17:50:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0016'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('draft', 'pending_review', 'returned')")


def upgrade() -> None:
    op.create_table('service_revisions',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_revisions_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_revisions'))
    )
    with op.batch_alter_table('service_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_revisions_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_revisions_status'), ['status'], unique=False)
        # One open revision per service.
        batch_op.create_index(
            'ux_service_revisions_open', ['service_id'], unique=True, sqlite_where=OPEN, postgresql_where=OPEN
        )


def downgrade() -> None:
    with op.batch_alter_table('service_revisions', schema=None) as batch_op:
        batch_op.drop_index('ux_service_revisions_open')
        batch_op.drop_index(batch_op.f('ix_service_revisions_status'))
        batch_op.drop_index(batch_op.f('ix_service_revisions_service_id'))
    op.drop_table('service_revisions')
