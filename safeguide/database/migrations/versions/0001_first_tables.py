"""The first tables: conversations, messages, feedback, audit, users, quizzes, reviews, review history,
jobs (the same columns the separate SQLite files of earlier versions had, so their rows copy across).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_REVIEW = (
    ("doc_id", sa.Text()),
    ("place", sa.Text()),
    ("decision", sa.String(16)),
    ("correction", sa.Text()),
    ("reviewer", sa.String(80)),
    ("reason", sa.Text()),
    ("reviewed_at", sa.String(40)),
)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(16), sa.CheckConstraint("role IN ('user', 'assistant')"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("message_index", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(8), sa.CheckConstraint("rating IN ('up', 'down')"), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("created", sa.String(40), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
        sqlite_autoincrement=True,
    )
    op.create_index("audit_at", "audit", ["at"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "quizzes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        *(sa.Column(name, kind, nullable=False) for name, kind in _REVIEW),
    )
    op.create_table(
        "review_history",
        sa.Column("n", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        *(sa.Column(name, kind, nullable=False) for name, kind in _REVIEW),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("started", sa.Float(), nullable=False, server_default="0"),
        sa.Column("finished", sa.Float(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for name in ("jobs", "review_history", "reviews", "quizzes", "users", "audit", "feedback", "messages"):
        op.drop_table(name)
    op.drop_table("conversations")
