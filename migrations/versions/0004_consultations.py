"""Legislative consultation: drafts and their structure, contact points, opinions and contact details.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00

Written by hand (see voting/consultations/models.py). The three covering indexes on opinion
serve the statistics page's GROUP BYs over 300,000 opinions of one draft.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HANDLED = "'adopted', 'not_adopted', 'partly_adopted'"


def upgrade():
    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("style", sa.String(length=10), nullable=False),
        sa.Column("preamble", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('draft', 'published', 'closed')", name=op.f("ck_draft_state_known")),
        sa.CheckConstraint("style IN ('article', 'point')", name=op.f("ck_draft_style_known")),
        sa.CheckConstraint("length(title) > 0", name=op.f("ck_draft_title_present")),
        sa.CheckConstraint(
            "(state = 'draft') OR (published_at IS NOT NULL)", name=op.f("ck_draft_published_at_when_published")
        ),
        sa.CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL)", name=op.f("ck_draft_closed_at_when_closed")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_draft_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
    )
    op.create_table(
        "draft_section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_draft_section_level_known")),
        sa.CheckConstraint("number IS NULL OR number > 0", name=op.f("ck_draft_section_number_positive")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_draft_section_position_not_negative")),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["draft.id"], name=op.f("fk_draft_section_draft_id_draft"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["draft_section.id"],
            name=op.f("fk_draft_section_parent_id_draft_section"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_section")),
        sa.UniqueConstraint("draft_id", "position", name="uq_draft_section_position"),
    )
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("suffix", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("paragraphs", sa.JSON(), nullable=False),
        sa.CheckConstraint("number > 0", name=op.f("ck_article_number_positive")),
        sa.CheckConstraint("suffix >= 0", name=op.f("ck_article_suffix_not_negative")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_article_position_not_negative")),
        sa.ForeignKeyConstraint(["draft_id"], ["draft.id"], name=op.f("fk_article_draft_id_draft"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["draft_section.id"],
            name=op.f("fk_article_section_id_draft_section"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article")),
        sa.UniqueConstraint("draft_id", "position", name="uq_article_position"),
    )
    op.create_table(
        "contact_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('district', 'point', 'collection')", name=op.f("ck_contact_point_kind_known")),
        sa.CheckConstraint("(kind = 'district') = (parent_id IS NULL)", name=op.f("ck_contact_point_root_is_district")),
        sa.CheckConstraint("length(name) > 0", name=op.f("ck_contact_point_name_present")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["contact_point.id"], name=op.f("fk_contact_point_parent_id_contact_point")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_point")),
        sa.UniqueConstraint("code", name=op.f("uq_contact_point_code")),
        sa.UniqueConstraint("parent_id", "name", name="uq_contact_point_sibling_name"),
    )
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_point_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "opinion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("submitter_type", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.Column("tracking_code", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("legal_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "submitter_type IN ('resident', 'deputy', 'staff')", name=op.f("ck_opinion_submitter_type_known")
        ),
        sa.CheckConstraint("channel IN ('poster', 'link', 'deputy', 'import')", name=op.f("ck_opinion_channel_known")),
        sa.CheckConstraint(
            "status IN ('received', 'merged', 'adopted', 'partly_adopted', 'not_adopted')",
            name=op.f("ck_opinion_status_known"),
        ),
        sa.CheckConstraint("length(text) > 0 AND length(text) <= 5000", name=op.f("ck_opinion_text_length")),
        sa.CheckConstraint("people_count >= 1", name=op.f("ck_opinion_people_count_positive")),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name=op.f("ck_opinion_merged_into_when_merged")
        ),
        sa.CheckConstraint(
            "merged_into_id IS NULL OR merged_into_id <> id", name=op.f("ck_opinion_not_merged_into_itself")
        ),
        sa.CheckConstraint(
            f"(status IN ({HANDLED})) = (handled_at IS NOT NULL)", name=op.f("ck_opinion_handled_at_when_handled")
        ),
        sa.CheckConstraint(
            "deputy_id IS NULL OR submitter_type = 'deputy'", name=op.f("ck_opinion_deputy_only_for_deputies")
        ),
        sa.ForeignKeyConstraint(["draft_id"], ["draft.id"], name=op.f("fk_opinion_draft_id_draft"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name=op.f("fk_opinion_article_id_article")),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_point.id"],
            name=op.f("fk_opinion_contact_point_id_contact_point"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["deputy.id"], name=op.f("fk_opinion_deputy_id_deputy"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["merged_into_id"], ["opinion.id"], name=op.f("fk_opinion_merged_into_id_opinion")),
        sa.ForeignKeyConstraint(
            ["handled_by_id"],
            ["user_account.id"],
            name=op.f("fk_opinion_handled_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion")),
        sa.UniqueConstraint("tracking_code", name=op.f("uq_opinion_tracking_code")),
        sa.UniqueConstraint("draft_id", "idempotency_key", name="uq_opinion_idempotency_key"),
    )
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinion_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_index(
            "ix_opinion_draft_article", ["draft_id", "article_id", "status", "people_count"], unique=False
        )
        batch_op.create_index(
            "ix_opinion_draft_point", ["draft_id", "contact_point_id", "status", "people_count"], unique=False
        )
        batch_op.create_index(
            "ix_opinion_draft_channel",
            ["draft_id", "channel", "submitter_type", "status", "people_count"],
            unique=False,
        )

    op.create_table(
        "opinion_contact",
        sa.Column("opinion_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("name IS NOT NULL OR phone IS NOT NULL", name=op.f("ck_opinion_contact_something_to_keep")),
        sa.ForeignKeyConstraint(
            ["opinion_id"], ["opinion.id"], name=op.f("fk_opinion_contact_opinion_id_opinion"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("opinion_id", name=op.f("pk_opinion_contact")),
    )
    with op.batch_alter_table("opinion_contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinion_contact_created_at"), ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("opinion_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opinion_contact_created_at"))
    op.drop_table("opinion_contact")
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.drop_index("ix_opinion_draft_channel")
        batch_op.drop_index("ix_opinion_draft_point")
        batch_op.drop_index("ix_opinion_draft_article")
        batch_op.drop_index(batch_op.f("ix_opinion_merged_into_id"))
    op.drop_table("opinion")
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_point_parent_id"))
    op.drop_table("contact_point")
    op.drop_table("article")
    op.drop_table("draft_section")
    op.drop_table("draft")
