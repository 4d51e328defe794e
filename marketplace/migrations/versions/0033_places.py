"""places: the streets' work stations and the communities' children's homes, their staff on duty, the activities
held there and the children who took part

Revision ID: 0033
Revises: 0001
Create Date: 2026-12-03 15:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0033"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The activities' children refer to children (created by 0003, last rebuilt by 0022; 0024 stays a head).
depends_on: str | Sequence[str] | None = "0022"


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("opening_hours", sa.String(length=300), nullable=False),
        sa.Column("facilities", sa.JSON(), nullable=False),
        sa.Column("area_m2", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_places_street_id_streets")),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], name=op.f("fk_places_community_id_communities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("street_id", "name", name=op.f("uq_places_street_id_name")),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        for column in ("kind", "street_id", "community_id"):
            batch_op.create_index(batch_op.f(f"ix_places_{column}"), [column], unique=False)

    op.create_table(
        "place_staff",
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("duty", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["place_id"], ["places.id"], name=op.f("fk_place_staff_place_id_places")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_place_staff_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_staff")),
    )
    with op.batch_alter_table("place_staff", schema=None) as batch_op:
        for column in ("place_id", "user_id"):
            batch_op.create_index(batch_op.f(f"ix_place_staff_{column}"), [column], unique=False)

    op.create_table(
        "place_activities",
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("children_total", sa.Integer(), nullable=False),
        sa.Column("volunteers_total", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["place_id"], ["places.id"], name=op.f("fk_place_activities_place_id_places")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_activities")),
    )
    with op.batch_alter_table("place_activities", schema=None) as batch_op:
        for column in ("place_id", "held_on"):
            batch_op.create_index(batch_op.f(f"ix_place_activities_{column}"), [column], unique=False)

    op.create_table(
        "place_activity_children",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["place_activities.id"],
            name=op.f("fk_place_activity_children_activity_id_place_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_place_activity_children_child_id_children")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_activity_children")),
        sa.UniqueConstraint("activity_id", "child_id", name=op.f("uq_place_activity_children_activity_id_child_id")),
    )
    with op.batch_alter_table("place_activity_children", schema=None) as batch_op:
        for column in ("activity_id", "child_id"):
            batch_op.create_index(batch_op.f(f"ix_place_activity_children_{column}"), [column], unique=False)


def downgrade() -> None:
    for table in ("place_activity_children", "place_activities", "place_staff", "places"):
        op.drop_table(table)
