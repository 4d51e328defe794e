"""fund disclosures: each publication of the fund's accounts for a period (the Charity Law's disclosure duties)

Revision ID: 0013
Revises: 0001
Create Date: 2026-12-02 13:40:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0013'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# It references the funds table that 0004 creates.
depends_on: str | Sequence[str] | None = '0004'


def upgrade() -> None:
    op.create_table('fund_disclosures',
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('publisher_name', sa.String(length=80), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_fund_disclosures_fund_id_funds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_disclosures')),
    sa.UniqueConstraint('fund_id', 'kind', 'period', name=op.f('uq_fund_disclosures_fund_id_kind_period'))
    )
    with op.batch_alter_table('fund_disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_disclosures_fund_id'), ['fund_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fund_disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_disclosures_fund_id'))

    op.drop_table('fund_disclosures')
