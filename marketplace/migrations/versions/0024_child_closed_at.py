"""retention: when a child's file was closed

The retention rule (marketplace/cases/retention.py) deletes a closed file a set number of years after its closing,
so the file records the instant it was closed (indexed: the nightly job and the console ask for the files due).
Files already closed take their last change as their closing, the best record there is of it.

Revision ID: 0024
Revises: 0001
Create Date: 2026-12-03 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# It changes the children table that 0003 creates and 0022 last rebuilt (0022 comes after 0003).
depends_on: str | Sequence[str] | None = "0022"


def upgrade() -> None:
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_children_closed_at"), ["closed_at"], unique=False)
    children = sa.table(
        "children",
        sa.column("status", sa.String()),
        sa.column("updated_at", UTCDateTime(timezone=True)),
        sa.column("closed_at", UTCDateTime(timezone=True)),
    )
    op.execute(children.update().where(children.c.status == "closed").values(closed_at=children.c.updated_at))


def downgrade() -> None:
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_children_closed_at"))
        batch_op.drop_column("closed_at")
