"""guardianship: assessments under the instrument, entrusted, temporary and long-term state guardianship

Revision ID: 0030
Revises: 0001
Create Date: 2026-12-03 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The children and users tables come from 0003 (cases) and 0001.
depends_on: str | Sequence[str] | None = "0003"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "guardianship_assessments",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("instrument_code", sa.String(length=20), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("domain_scores", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("recommended", sa.String(length=20), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_guardianship_assessments_score_range")),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_guardianship_assessments_child_id_children"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["users.id"], name=op.f("fk_guardianship_assessments_assessor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardianship_assessments")),
    )
    op.create_index(
        op.f("ix_guardianship_assessments_child_id"), "guardianship_assessments", ["child_id"], unique=False
    )
    op.create_index(
        op.f("ix_guardianship_assessments_created_at"), "guardianship_assessments", ["created_at"], unique=False
    )
    op.create_table(
        "entrusted_guardianships",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("person_name", sa.Text(), nullable=False),
        sa.Column("relationship", sa.Text(), nullable=False),
        sa.Column("contact_phone", sa.Text(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("renewed_from_id", sa.Integer(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("lapsed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint(
            "status IN ('active','renewed','ended','lapsed')", name=op.f("ck_entrusted_guardianships_status")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_entrusted_guardianships_child_id_children"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entrusted_guardianships")),
    )
    op.create_index(op.f("ix_entrusted_guardianships_child_id"), "entrusted_guardianships", ["child_id"], unique=False)
    op.create_index("ix_entrusted_guardianships_due", "entrusted_guardianships", ["status", "review_on"], unique=False)
    op.create_table(
        "temporary_guardianships",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("end_note", sa.Text(), nullable=False),
        sa.Column("ended_by", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.CheckConstraint("status IN ('open','ended')", name=op.f("ck_temporary_guardianships_status")),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_temporary_guardianships_child_id_children"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["guardianship_assessments.id"],
            name=op.f("fk_temporary_guardianships_assessment_id_guardianship_assessments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temporary_guardianships")),
    )
    op.create_index(op.f("ix_temporary_guardianships_child_id"), "temporary_guardianships", ["child_id"], unique=False)
    op.create_index(op.f("ix_temporary_guardianships_status"), "temporary_guardianships", ["status"], unique=False)
    op.create_table(
        "long_term_guardianships",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("document_no", sa.String(length=80), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("institution", sa.String(length=120), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        _id(),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_long_term_guardianships_child_id_children"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_long_term_guardianships")),
    )
    op.create_index(op.f("ix_long_term_guardianships_child_id"), "long_term_guardianships", ["child_id"], unique=False)


def downgrade() -> None:
    op.drop_table("long_term_guardianships")
    op.drop_table("temporary_guardianships")
    op.drop_table("entrusted_guardianships")
    op.drop_table("guardianship_assessments")
