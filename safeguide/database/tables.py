"""Every table the product keeps outside the index builds, in one SQLAlchemy metadata.

The same definitions serve SQLite (the default, one file in the data folder) and PostgreSQL (when
`SAFEGUIDE_DATABASE_URL` is set). Times are ISO-8601 text in UTC (they sort as text on both engines),
except the ingest jobs', which are seconds since the epoch. The Alembic migrations in
`safeguide/database/migrations/` create and change these tables; this file is what the code reads.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Conversations and feedback: only redacted text is ever written here.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created", String(40), nullable=False),
)
messages = Table(
    "messages",
    metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("role", String(16), CheckConstraint("role IN ('user', 'assistant')"), nullable=False),
    Column("content", Text, nullable=False),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("created", String(40), nullable=False),
)
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("message_index", Integer, nullable=False),
    Column("rating", String(8), CheckConstraint("rating IN ('up', 'down')"), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("created", String(40), nullable=False),
    sqlite_autoincrement=True,
)

# The audit trail: only ever added to.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("who", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("audit_at", "at"),
    sqlite_autoincrement=True,
)

# Local accounts: the token itself is never stored, only its SHA-256.
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created", String(40), nullable=False),
)

quizzes = Table(
    "quizzes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
    Column("request", Text, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("questions", Text, nullable=False),
)

# Reviews of the timescales read from documents: the latest decision per statement, and every decision.
_REVIEW_COLUMNS = (
    ("doc_id", Text),
    ("place", Text),
    ("decision", String(16)),
    ("correction", Text),
    ("reviewer", String(80)),
    ("reason", Text),
    ("reviewed_at", String(40)),
)
reviews = Table(
    "reviews",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    *(Column(name, kind, nullable=False) for name, kind in _REVIEW_COLUMNS),
)
review_history = Table(
    "review_history",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    *(Column(name, kind, nullable=False) for name, kind in _REVIEW_COLUMNS),
    sqlite_autoincrement=True,
)

# Background ingests, so that any server worker can say how one is going.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("what", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("message", Text, nullable=False, server_default=""),
    Column("created", Float, nullable=False),
    Column("started", Float, nullable=False, server_default="0"),
    Column("finished", Float, nullable=False, server_default="0"),
)

# Requests to /api/ per client address and minute, shared by every worker when the records are on
# PostgreSQL (the rate limit; rows of past minutes are deleted as new minutes begin).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("minute", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
)
