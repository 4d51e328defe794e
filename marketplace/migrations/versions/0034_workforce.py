"""workforce: training courses and attendance, certificates, the yearly assessments of directors and supervisors

Revision ID: 0034
Revises: 0001
Create Date: 2026-12-03 15:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0034"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# Refers to users, streets and communities only (all created by 0001).
depends_on: str | Sequence[str] | None = None


def _indexes(table: str, columns: Sequence[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "workforce_courses",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("organizer", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["street_id"], ["streets.id"], name=op.f("fk_workforce_courses_street_id_streets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_courses")),
    )
    _indexes("workforce_courses", ("kind", "starts_on", "street_id"))
    op.create_table(
        "workforce_attendance",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["workforce_courses.id"], name=op.f("fk_workforce_attendance_course_id_workforce_courses")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_workforce_attendance_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_attendance")),
        sa.UniqueConstraint("course_id", "user_id", name=op.f("uq_workforce_attendance_course_id_user_id")),
    )
    _indexes("workforce_attendance", ("course_id", "user_id"))
    op.create_table(
        "workforce_certificates",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("expired_flagged_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_workforce_certificates_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_certificates")),
    )
    _indexes("workforce_certificates", ("user_id", "expires_on"))
    op.create_table(
        "workforce_assessments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=True),
        sa.Column("self_report", sa.Text(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("self_reported_at", UTCDateTime(), nullable=True),
        sa.Column("reviewer_score", sa.Integer(), nullable=True),
        sa.Column("reviewer_comment", sa.Text(), nullable=False),
        sa.Column("scored_by", sa.Integer(), nullable=True),
        sa.Column("scored_at", UTCDateTime(), nullable=True),
        sa.Column("result", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(length=20), nullable=True),
        sa.Column("veto_reason", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_workforce_assessments_user_id_users")),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_workforce_assessments_street_id_streets")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_workforce_assessments_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_assessments")),
        sa.UniqueConstraint(
            "user_id", "year", "revision", name=op.f("uq_workforce_assessments_user_id_year_revision")
        ),
    )
    _indexes("workforce_assessments", ("user_id", "year", "street_id", "community_id", "status", "grade"))


def downgrade() -> None:
    for table in ("workforce_assessments", "workforce_certificates", "workforce_attendance", "workforce_courses"):
        op.drop_table(table)
