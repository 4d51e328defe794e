"""ocds releases: each procurement change's OCDS release, frozen as published

Revision ID: 0012
Revises: 0001
Create Date: 2026-12-02 08:30:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0012'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# It refers to the procurements table that 0005 creates.
depends_on: str | Sequence[str] | None = '0005'


def upgrade() -> None:
    op.create_table('ocds_releases',
    sa.Column('ocid', sa.String(length=80), nullable=False),
    sa.Column('release_id', sa.String(length=200), nullable=False),
    sa.Column('procurement_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('tag', sa.JSON(), nullable=False),
    sa.Column('date', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['procurement_id'], ['procurements.id'], name=op.f('fk_ocds_releases_procurement_id_procurements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ocds_releases')),
    sa.UniqueConstraint('release_id', name=op.f('uq_ocds_releases_release_id'))
    )
    with op.batch_alter_table('ocds_releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ocds_releases_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ocds_releases_ocid'), ['ocid'], unique=False)
        batch_op.create_index(batch_op.f('ix_ocds_releases_procurement_id'), ['procurement_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ocds_releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ocds_releases_procurement_id'))
        batch_op.drop_index(batch_op.f('ix_ocds_releases_ocid'))
        batch_op.drop_index(batch_op.f('ix_ocds_releases_contract_id'))
    op.drop_table('ocds_releases')
