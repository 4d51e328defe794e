"""safety: 十防 seasonal checks and graded warnings (marketplace/safety)

Revision ID: 0027
Revises: 0001
Create Date: 2026-12-03 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# Its rows point at the children (0003, last rebuilt by 0022, which comes after 0003), communities and streets
# (0001). Not on 0024 (a column of the children): that one stays a head of its own.
depends_on: str | Sequence[str] | None = "0022"


def upgrade() -> None:
    op.create_table(
        "safety_checks",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("prevention", sa.String(length=30), nullable=False),
        sa.Column("season", sa.String(length=20), nullable=False),
        sa.Column("current_key", sa.String(length=80), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("household_note", sa.Text(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("checked_by", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_safety_checks_child_id_children")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_safety_checks_community_id_communities")
        ),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_safety_checks_street_id_streets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_checks")),
        sa.UniqueConstraint("current_key", name=op.f("uq_safety_checks_current_key")),
    )
    with op.batch_alter_table("safety_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_checks_child_id"), ["child_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_checks_community_id"), ["community_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_checks_street_id"), ["street_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_safety_checks_season"), ["season"], unique=False)

    op.create_table(
        "safety_warnings",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("open_child_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ack_due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("graded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_safety_warnings_child_id_children")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_safety_warnings_community_id_communities")
        ),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_safety_warnings_street_id_streets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_warnings")),
        sa.UniqueConstraint("open_child_id", name=op.f("uq_safety_warnings_open_child_id")),
    )
    with op.batch_alter_table("safety_warnings", schema=None) as batch_op:
        for column in ("child_id", "community_id", "street_id", "grade", "status", "ack_due_at", "created_at"):
            batch_op.create_index(batch_op.f(f"ix_safety_warnings_{column}"), [column], unique=False)

    op.create_table(
        "safety_warning_events",
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("from_grade", sa.String(length=10), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["safety_warnings.id"], name=op.f("fk_safety_warning_events_warning_id_safety_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_warning_events")),
    )
    with op.batch_alter_table("safety_warning_events", schema=None) as batch_op:
        for column in ("warning_id", "child_id", "created_at"):
            batch_op.create_index(batch_op.f(f"ix_safety_warning_events_{column}"), [column], unique=False)


def downgrade() -> None:
    op.drop_table("safety_warning_events")
    op.drop_table("safety_warnings")
    op.drop_table("safety_checks")
