"""intake: hotline calls and public reports (来电与群众反映) and their triage

Revision ID: 0028
Revises: 0001
Create Date: 2026-12-03 12:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0028'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# The children and mandatory_reports tables come from 0003 (cases), communities and streets from 0001.
depends_on: str | Sequence[str] | None = '0003'


def upgrade() -> None:
    op.create_table('intakes',
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('received_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.Integer(), nullable=True),
    sa.Column('recorder_role', sa.String(length=30), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('caller_name', sa.Text(), nullable=False),
    sa.Column('caller_phone', sa.Text(), nullable=False),
    sa.Column('caller_relation', sa.Text(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('urgency', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('subject_name', sa.Text(), nullable=False),
    sa.Column('subject_description', sa.Text(), nullable=False),
    sa.Column('due_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('triaged_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('triaged_by', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('need_id', sa.Integer(), nullable=True),
    sa.Column('escalated_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('urgency BETWEEN 1 AND 4', name=op.f('ck_intakes_urgency_range')),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], name=op.f('fk_intakes_child_id_children')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_intakes_community_id_communities')),
    sa.ForeignKeyConstraint(['report_id'], ['mandatory_reports.id'], name=op.f('fk_intakes_report_id_mandatory_reports')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_intakes_street_id_streets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intakes'))
    )
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intakes_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_intakes_child_id'), ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intakes_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intakes_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intakes_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_intakes_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intakes_street_id'), ['street_id'], unique=False)

    op.create_table('intake_triages',
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('need_id', sa.Integer(), nullable=True),
    sa.Column('child_id', sa.Integer(), nullable=True),
    sa.Column('triaged_by', sa.Integer(), nullable=True),
    sa.Column('triager_role', sa.String(length=30), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['intakes.id'], name=op.f('fk_intake_triages_intake_id_intakes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_triages'))
    )
    with op.batch_alter_table('intake_triages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_triages_intake_id'), ['intake_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_triages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_triages_intake_id'))
    op.drop_table('intake_triages')
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intakes_street_id'))
        batch_op.drop_index('ix_intakes_status_due')
        batch_op.drop_index(batch_op.f('ix_intakes_report_id'))
        batch_op.drop_index(batch_op.f('ix_intakes_received_at'))
        batch_op.drop_index(batch_op.f('ix_intakes_community_id'))
        batch_op.drop_index(batch_op.f('ix_intakes_child_id'))
        batch_op.drop_index(batch_op.f('ix_intakes_channel'))
    op.drop_table('intakes')
