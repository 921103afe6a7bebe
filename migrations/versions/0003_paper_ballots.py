"""Paper ballots: papers from the ballot box by number, and each person's entry of a paper.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00

Written by hand. Neither table has a deputy on a secret ballot, a timestamp, or anything
shared with ballot_participation but the ballot id (see voting/ballots/paper_models.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "paper_ballot",
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("receipt", sa.String(length=16), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('entered', 'mismatch', 'counted')", name=op.f("ck_paper_ballot_state_known")),
        sa.CheckConstraint("number > 0 AND number <= 99999", name=op.f("ck_paper_ballot_number_range")),
        sa.CheckConstraint(
            "(state = 'counted') = (receipt IS NOT NULL AND valid IS NOT NULL)",
            name=op.f("ck_paper_ballot_counted_receipt"),
        ),
        sa.ForeignKeyConstraint(
            ["ballot_id"], ["ballot.id"], name=op.f("fk_paper_ballot_ballot_id_ballot"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user_account.id"],
            name=op.f("fk_paper_ballot_resolved_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["deputy.id"], name=op.f("fk_paper_ballot_deputy_id_deputy"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("ballot_id", "number", name=op.f("pk_paper_ballot")),
        sa.UniqueConstraint("ballot_id", "deputy_id", name="uq_paper_ballot_deputy"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "paper_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ballot_id", "number"],
            ["paper_ballot.ballot_id", "paper_ballot.number"],
            name="fk_paper_entry_paper_ballot",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_paper_entry_user_id_user_account")),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["deputy.id"], name=op.f("fk_paper_entry_deputy_id_deputy"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_entry")),
        sa.UniqueConstraint("ballot_id", "number", "user_id", name="uq_paper_entry_once_per_person"),
    )


def downgrade():
    op.drop_table("paper_entry")
    op.drop_table("paper_ballot")
