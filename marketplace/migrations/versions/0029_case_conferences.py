"""case conferences (个案会商): conferences, participants, decisions and their revisions

Revision ID: 0029
Revises: 0001
Create Date: 2026-12-03 12:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0029'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
# The children table comes from 0003 (cases); users, streets and communities from 0001.
depends_on: str | Sequence[str] | None = '0003'


def upgrade() -> None:
    op.create_table('conferences',
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('scheduled_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('held_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('cancelled_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('closed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('convened_by', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], name=op.f('fk_conferences_child_id_children')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_conferences_community_id_communities')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_conferences_street_id_streets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conferences'))
    )
    with op.batch_alter_table('conferences', schema=None) as batch_op:
        for column in ('child_id', 'community_id', 'street_id', 'scheduled_at', 'status', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_conferences_{column}'), [column], unique=False)
    op.create_table('conference_participants',
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('organisation', sa.String(length=120), nullable=False),
    sa.Column('contact', sa.String(length=60), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['conference_id'], ['conferences.id'], name=op.f('fk_conference_participants_conference_id_conferences')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conference_participants_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference_participants'))
    )
    with op.batch_alter_table('conference_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conference_participants_conference_id'), ['conference_id'], unique=False)
        batch_op.create_index('ix_conference_participants_user', ['user_id', 'conference_id'], unique=False)
    op.create_table('conference_decisions',
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('owner_party_id', sa.Integer(), nullable=True),
    sa.Column('responsible_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('done_note', sa.Text(), nullable=False),
    sa.Column('done_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('cancelled_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['conference_id'], ['conferences.id'], name=op.f('fk_conference_decisions_conference_id_conferences')),
    sa.ForeignKeyConstraint(['child_id'], ['children.id'], name=op.f('fk_conference_decisions_child_id_children')),
    sa.ForeignKeyConstraint(['owner_party_id'], ['conference_participants.id'], name=op.f('fk_conference_decisions_owner_party_id_conference_participants')),
    sa.ForeignKeyConstraint(['responsible_id'], ['users.id'], name=op.f('fk_conference_decisions_responsible_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference_decisions'))
    )
    with op.batch_alter_table('conference_decisions', schema=None) as batch_op:
        for column in ('conference_id', 'child_id', 'responsible_id', 'due_on', 'status'):
            batch_op.create_index(batch_op.f(f'ix_conference_decisions_{column}'), [column], unique=False)
    op.create_table('conference_decision_revisions',
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('old_responsible_id', sa.Integer(), nullable=False),
    sa.Column('new_responsible_id', sa.Integer(), nullable=False),
    sa.Column('old_owner_party_id', sa.Integer(), nullable=True),
    sa.Column('new_owner_party_id', sa.Integer(), nullable=True),
    sa.Column('old_due_on', sa.Date(), nullable=False),
    sa.Column('new_due_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('revised_by', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['conference_decisions.id'], name=op.f('fk_conference_decision_revisions_decision_id_conference_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference_decision_revisions'))
    )
    with op.batch_alter_table('conference_decision_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conference_decision_revisions_decision_id'), ['decision_id'], unique=False)


def downgrade() -> None:
    op.drop_table('conference_decision_revisions')
    op.drop_table('conference_decisions')
    op.drop_table('conference_participants')
    op.drop_table('conferences')
