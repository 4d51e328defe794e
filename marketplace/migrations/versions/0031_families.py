"""families: left-behind children's parents away from home (versioned records), their contacts and visits home,
and the alerts raised when the contact stops

Revision ID: 0031
Revises: 0001
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The tables refer to children (created by 0003, last rebuilt by 0022; 0024 only adds a column, and stays a head).
depends_on: str | Sequence[str] | None = "0022"


def upgrade() -> None:
    op.create_table(
        "families_parents",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("lineage_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("work_province", sa.String(length=40), nullable=False),
        sa.Column("work_city", sa.String(length=60), nullable=False),
        sa.Column("employer", sa.Text(), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("wechat", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("away_since", sa.Date(), nullable=True),
        sa.Column("returned_on", sa.Date(), nullable=True),
        sa.Column("tracked_from", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_families_parents_child_id_children")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families_parents")),
    )
    with op.batch_alter_table("families_parents", schema=None) as batch_op:
        for column in ("child_id", "lineage_id", "replaced_by_id"):
            batch_op.create_index(batch_op.f(f"ix_families_parents_{column}"), [column], unique=False)

    op.create_table(
        "families_contacts",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("contacted_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_families_contacts_child_id_children")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["families_parents.id"], name=op.f("fk_families_contacts_parent_id_families_parents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families_contacts")),
    )
    with op.batch_alter_table("families_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_families_contacts_child_id"), ["child_id"], unique=False)
        batch_op.create_index("ix_families_contacts_last", ["parent_id", "contacted_on"], unique=False)

    op.create_table(
        "families_visits_home",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_families_visits_home_child_id_children")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["families_parents.id"], name=op.f("fk_families_visits_home_parent_id_families_parents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families_visits_home")),
    )
    with op.batch_alter_table("families_visits_home", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_families_visits_home_child_id"), ["child_id"], unique=False)
        batch_op.create_index("ix_families_visits_home_last", ["parent_id", "to_date"], unique=False)

    op.create_table(
        "families_alerts",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("silent_since", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=20), nullable=False),
        sa.Column("resolved_entity_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_families_alerts_child_id_children")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["families_parents.id"], name=op.f("fk_families_alerts_parent_id_families_parents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families_alerts")),
    )
    with op.batch_alter_table("families_alerts", schema=None) as batch_op:
        for column in ("child_id", "status"):
            batch_op.create_index(batch_op.f(f"ix_families_alerts_{column}"), [column], unique=False)
        batch_op.create_index("ux_families_alerts_silence", ["parent_id", "silent_since"], unique=True)


def downgrade() -> None:
    op.drop_table("families_alerts")
    op.drop_table("families_visits_home")
    op.drop_table("families_contacts")
    op.drop_table("families_parents")
