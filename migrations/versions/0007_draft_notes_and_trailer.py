"""Drafts keep the text around their articles: draft_section.notes and draft.trailer.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:15:00

Written by hand. The splitter finds text between a heading and its first article (a chapter's
opening sentence) and text after the last article (an attached 说明 or 附件); the stored draft
dropped both, so residents never read them. Both are JSON lists of paragraphs like
draft.preamble; drafts and headings stored before are given empty lists.

Unlike draft.preamble (0004, made with its table), the columns keep their server default '[]':
removing it would make SQLite rebuild draft and draft_section, and with foreign keys on, SQLite's
DROP TABLE of the old copy cascades to the articles and opinions under them. For the same reason
the downgrade drops the columns with ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), not
with a batch that rebuilds the tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # A plain string default: SQLite adds the column in place (a SQL expression would rebuild the table).
    with op.batch_alter_table("draft_section", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trailer", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    op.drop_column("draft", "trailer")
    op.drop_column("draft_section", "notes")
