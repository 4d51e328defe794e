"""console sessions: the server-side store of the staff console's sessions

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-01 21:40:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import marketplace.db


revision: str = '0008'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_console_sessions'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_console_sessions_expires_at', ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_console_sessions_expires_at')
    op.drop_table('console_sessions')
