"""contract termination: when, why and by whom a contract was ended early

Existing terminated contracts kept their reason in the evaluation comments ("解除理由：…"); it moves to its own
column and the comments are cleared.

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-02 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0020"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
# It changes the contracts table that 0005 creates.
depends_on: str | Sequence[str] | None = "0005"

PREFIX = "解除理由："


def upgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terminated_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("termination_reason", sa.String(length=500), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("terminated_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_contracts_terminated_by_users"), "users", ["terminated_by"], ["id"])
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.alter_column("termination_reason", existing_type=sa.String(length=500), server_default=None)
    contracts = sa.table(
        "contracts",
        sa.column("status", sa.String()),
        sa.column("evaluation_comments", sa.Text()),
        sa.column("termination_reason", sa.String()),
    )
    op.execute(
        contracts.update()
        .where(contracts.c.status == "terminated", contracts.c.evaluation_comments.like(PREFIX + "%"))
        .values(
            termination_reason=sa.func.substr(contracts.c.evaluation_comments, len(PREFIX) + 1, 500),
            evaluation_comments="",
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contracts_terminated_by_users"), type_="foreignkey")
        batch_op.drop_column("terminated_by")
        batch_op.drop_column("termination_reason")
        batch_op.drop_column("terminated_on")
