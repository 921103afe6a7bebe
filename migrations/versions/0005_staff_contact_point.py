"""Contact-point staff belong to their point: user_account.contact_point_id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:00:00

Written by hand. Staff import the opinions gathered at their point's meetings (征询会) into
that point only; the column says which point an account works for.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_point_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_user_account_contact_point_id"), ["contact_point_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_user_account_contact_point_id_contact_point"),
            "contact_point",
            ["contact_point_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_user_account_contact_point_id_contact_point"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_user_account_contact_point_id"))
        batch_op.drop_column("contact_point_id")
