"""volunteers: the register of volunteers (identity number encrypted, one registration per person), their team
memberships, the hours they serve at places' activities or on referrals, and the certificates of hours

Revision ID: 0035
Revises: 0001
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0035"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# Hours refer to the places' activities (0033); teams (volunteer_teams) and streets are 0001's. A referral is named
# by its id only (no foreign key: a purged file's referral goes, the hours stay).
depends_on: str | Sequence[str] | None = "0033"


def upgrade() -> None:
    op.create_table(
        "volunteers",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("guardian_consent", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("availability", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_volunteers_street_id_streets")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_volunteers_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_volunteers_id_number_hash")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        for column in ("name", "street_id", "community_id", "status"):
            batch_op.create_index(batch_op.f(f"ix_volunteers_{column}"), [column], unique=False)

    op.create_table(
        "volunteers_memberships",
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_volunteers_memberships_volunteer_id_volunteers")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["volunteer_teams.id"], name=op.f("fk_volunteers_memberships_team_id_volunteer_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers_memberships")),
    )
    with op.batch_alter_table("volunteers_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteers_memberships_volunteer_id"), ["volunteer_id"], unique=False)
        batch_op.create_index("ix_volunteers_memberships_team", ["team_id", "left_on"], unique=False)

    op.create_table(
        "volunteers_hours",
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("logged_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_volunteers_hours_volunteer_id_volunteers")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["place_activities.id"], name=op.f("fk_volunteers_hours_activity_id_place_activities")
        ),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_volunteers_hours_street_id_streets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers_hours")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_volunteers_hours_reverses_id")),
    )
    with op.batch_alter_table("volunteers_hours", schema=None) as batch_op:
        for column in ("activity_id", "referral_id", "street_id"):
            batch_op.create_index(batch_op.f(f"ix_volunteers_hours_{column}"), [column], unique=False)
        batch_op.create_index("ix_volunteers_hours_day", ["volunteer_id", "served_on"], unique=False)

    op.create_table(
        "volunteers_certificates",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("total_minutes", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_volunteers_certificates_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_volunteers_certificates_number")),
        sa.UniqueConstraint("code", name=op.f("uq_volunteers_certificates_code")),
    )
    with op.batch_alter_table("volunteers_certificates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_volunteers_certificates_period", ["volunteer_id", "period_from", "period_to"], unique=False
        )


def downgrade() -> None:
    for table in ("volunteers_certificates", "volunteers_hours", "volunteers_memberships", "volunteers"):
        op.drop_table(table)
