"""Conversations and feedback in SQLite. Only redacted text is ever written here."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.files import open_database
from safeguide.safety import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    idx INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    PRIMARY KEY (conversation_id, idx)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    message_index INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UnknownConversation(SafeguideError):
    """GET of a conversation that does not exist, or no longer does: 404."""


class ConversationStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, SCHEMA, "foreign_keys=ON")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def ensure(self, conversation_id: str | None) -> str:
        with self._lock:
            if conversation_id:
                if self._db.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone():
                    return conversation_id
                raise InvalidQuery(f"no conversation '{conversation_id}': leave it out to start a new one")
            new = uuid.uuid4().hex
            self._db.execute("INSERT INTO conversations (id, created) VALUES (?, ?)", (new, _now()))
            return new

    def add_exchange(self, conversation_id: str, question: str, answer: str, meta: dict[str, Any]) -> int:
        """Store a question (already redacted) and its answer; returns the answer's message index."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()
                now = _now()
                self._db.execute(
                    "INSERT INTO messages VALUES (?, ?, 'user', ?, '{}', ?)",
                    (conversation_id, count, question, now),
                )
                self._db.execute(
                    "INSERT INTO messages VALUES (?, ?, 'assistant', ?, ?, ?)",
                    (conversation_id, count + 1, answer, json.dumps(meta), now),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return int(count) + 1

    def history(self, conversation_id: str, limit: int = 6) -> list[str]:
        rows = self._db.execute(
            "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user' "
            "ORDER BY idx DESC LIMIT ?",
            (conversation_id, limit),
        ).fetchall()
        return [r[0] for r in reversed(rows)]

    def get(self, conversation_id: str) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT idx, role, content, meta, created FROM messages WHERE conversation_id = ? ORDER BY idx",
            (conversation_id,),
        ).fetchall()
        if (
            not rows
            and not self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        ):
            raise UnknownConversation(
                f"no conversation '{conversation_id}' (or it was deleted after the retention period)"
            )
        return {
            "id": conversation_id,
            "messages": [
                {"index": i, "role": role, "content": content, "created": created, **json.loads(meta)}
                for i, role, content, meta, created in rows
            ],
        }

    def add_feedback(self, conversation_id: str, message_index: int, rating: str, comment: str = "") -> None:
        if rating not in ("up", "down"):
            raise InvalidQuery("rating must be 'up' or 'down'")
        if len(comment) > 2000:
            raise InvalidQuery("the comment is over 2000 characters")
        row = self._db.execute(
            "SELECT role FROM messages WHERE conversation_id = ? AND idx = ?",
            (conversation_id, message_index),
        ).fetchone()
        if row is None or row[0] != "assistant":
            raise InvalidQuery(f"no answer {message_index} in conversation '{conversation_id}'")
        clean, _ = redact(comment)
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (conversation_id, message_index, rating, comment, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (conversation_id, message_index, rating, clean, _now()),
            )

    def purge_before(self, cutoff: datetime) -> int:
        """Delete every conversation last used before `cutoff`, with its messages and feedback, in one
        transaction; returns how many went. (Retention: `conversation_retention_days`.)"""
        stamp = cutoff.astimezone(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = [
                    row[0]
                    for row in self._db.execute(
                        "SELECT c.id FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
                        "GROUP BY c.id HAVING max(coalesce(m.created, c.created)) < ?",
                        (stamp,),
                    ).fetchall()
                ]
                for table, column in (("feedback", "conversation_id"), ("messages", "conversation_id")):
                    self._db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(c,) for c in old])
                self._db.executemany("DELETE FROM conversations WHERE id = ?", [(c,) for c in old])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(old)

    def feedback_export(self) -> list[dict[str, Any]]:
        """Every feedback entry with the (redacted) question and answer it rates, oldest first."""
        rows = self._db.execute(
            "SELECT f.created, f.conversation_id, f.message_index, f.rating, f.comment, q.content, a.content "
            "FROM feedback f "
            "JOIN messages a ON a.conversation_id = f.conversation_id AND a.idx = f.message_index "
            "LEFT JOIN messages q ON q.conversation_id = f.conversation_id AND q.idx = f.message_index - 1 "
            "ORDER BY f.id"
        ).fetchall()
        keys = ("created", "conversation_id", "message_index", "rating", "comment", "question", "answer")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def feedback(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT message_index, rating, comment FROM feedback WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        return [{"message_index": i, "rating": r, "comment": c} for i, r, c in rows]
