"""festival condolence plans: a plan per year and festival (versions kept), the runs made from it, and the payments'
festival key that keeps anybody from being paid twice for one festival of a year

Revision ID: 0036
Revises: 0001
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision: str = "0036"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# allowance_runs and allowance_payments as 0019 made them and 0023 last changed them.
depends_on: str | Sequence[str] | None = ("0019", "0023")


def upgrade() -> None:
    op.create_table(
        "festival_plans",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("festival", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("pay_date", sa.Date(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("amounts", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["budget_lines.id"], name=op.f("fk_festival_plans_line_id_budget_lines")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["festival_plans.id"], name=op.f("fk_festival_plans_supersedes_id_festival_plans")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_festival_plans_created_by_users")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_festival_plans_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_festival_plans")),
        sa.UniqueConstraint("year", "festival", "version", name=op.f("uq_festival_plans_year_festival_version")),
        sa.UniqueConstraint("year", "festival", "current", name=op.f("uq_festival_plans_year_festival_current")),
    )
    with op.batch_alter_table("festival_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_festival_plans_year"), ["year"], unique=False)
        batch_op.create_index(batch_op.f("ix_festival_plans_line_id"), ["line_id"], unique=False)

    op.create_table(
        "festival_plan_runs",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("supplementary", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["festival_plans.id"], name=op.f("fk_festival_plan_runs_plan_id_festival_plans")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["allowance_runs.id"], name=op.f("fk_festival_plan_runs_run_id_allowance_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_festival_plan_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_festival_plan_runs_run_id")),
    )
    with op.batch_alter_table("festival_plan_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_festival_plan_runs_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("allowance_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("festival_key", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("festival_live", sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f("ix_allowance_payments_festival_key"), ["festival_key"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_allowance_payments_festival_key_person_key_festival_live"),
            ["festival_key", "person_key", "festival_live"],
        )


def downgrade() -> None:
    with op.batch_alter_table("allowance_payments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_allowance_payments_festival_key_person_key_festival_live"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_allowance_payments_festival_key"))
        batch_op.drop_column("festival_live")
        batch_op.drop_column("festival_key")
    with op.batch_alter_table("festival_plan_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_festival_plan_runs_plan_id"))
    op.drop_table("festival_plan_runs")
    with op.batch_alter_table("festival_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_festival_plans_line_id"))
        batch_op.drop_index(batch_op.f("ix_festival_plans_year"))
    op.drop_table("festival_plans")
