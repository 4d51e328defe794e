"""fund sources: a fund's street and year (street foundations 街道基金会 and micro-project funds 民生微实事), and the
micro-project funds' projects (民生微实事项目)

Revision ID: 0037
Revises: 0001
Create Date: 2026-12-03 15:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0037"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# It changes the funds table that 0004 creates.
depends_on: str | Sequence[str] | None = "0004"


def upgrade() -> None:
    with op.batch_alter_table("funds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("street_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_funds_street_id_streets"), "streets", ["street_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_funds_street_id"), ["street_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_funds_kind"), ["kind"], unique=False)
    op.create_table(
        "fund_projects",
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("disbursement_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("requested_fen > 0", name=op.f("ck_fund_projects_requested_positive")),
        sa.CheckConstraint("approved_fen IS NULL OR approved_fen > 0", name=op.f("ck_fund_projects_approved_positive")),
        sa.CheckConstraint(
            "paid_fen IS NULL OR (paid_fen >= 0 AND paid_fen <= approved_fen)",
            name=op.f("ck_fund_projects_paid_bounds"),
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"], name=op.f("fk_fund_projects_fund_id_funds")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_fund_projects_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["disbursement_id"],
            ["fund_disbursements.id"],
            name=op.f("fk_fund_projects_disbursement_id_fund_disbursements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_projects")),
    )
    with op.batch_alter_table("fund_projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fund_projects_fund_id"), ["fund_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fund_projects_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_fund_projects_community_id"), ["community_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fund_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fund_projects_community_id"))
        batch_op.drop_index(batch_op.f("ix_fund_projects_status"))
        batch_op.drop_index(batch_op.f("ix_fund_projects_fund_id"))
    op.drop_table("fund_projects")
    with op.batch_alter_table("funds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funds_kind"))
        batch_op.drop_index(batch_op.f("ix_funds_street_id"))
        batch_op.drop_constraint(batch_op.f("fk_funds_street_id_streets"), type_="foreignkey")
        batch_op.drop_column("year")
        batch_op.drop_column("street_id")
