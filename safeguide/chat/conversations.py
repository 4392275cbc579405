"""Conversations and feedback, in the product database (`safeguide.database`). Only redacted text is ever
written here."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from safeguide.database import Database
from safeguide.database.tables import conversations, feedback, messages
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.safety import redact


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UnknownConversation(SafeguideError):
    """GET of a conversation that does not exist, or no longer does: 404."""


def _row(conversation_id: str) -> Any:
    """The query for a conversation's own row (is it there; lock it)."""
    return select(conversations.c.id).where(conversations.c.id == conversation_id)


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure(self, conversation_id: str | None) -> str:
        if conversation_id:
            with self._db.read() as conn:
                if conn.execute(_row(conversation_id)).first():
                    return conversation_id
            raise InvalidQuery(f"no conversation '{conversation_id}': leave it out to start a new one")
        new = uuid.uuid4().hex
        with self._db.write() as conn:
            conn.execute(insert(conversations).values(id=new, created=_now()))
        return new

    def add_exchange(self, conversation_id: str, question: str, answer: str, meta: dict[str, Any]) -> int:
        """Store a question (already redacted) and its answer; returns the answer's message index."""
        with self._db.write() as conn:
            # The conversation's row locked first (PostgreSQL; SQLite's write lock covers it): two answers
            # to one conversation at once get the next indexes in turn, never the same one.
            found = conn.execute(_row(conversation_id).with_for_update()).first()
            if found is None:
                raise UnknownConversation(f"no conversation '{conversation_id}' (deleted meanwhile?)")
            count = conn.execute(
                select(func.count())
                .select_from(messages)
                .where(messages.c.conversation_id == conversation_id)
            ).scalar_one()
            now = _now()
            conn.execute(
                insert(messages),
                [
                    {
                        "conversation_id": conversation_id,
                        "idx": count,
                        "role": "user",
                        "content": question,
                        "meta": "{}",
                        "created": now,
                    },
                    {
                        "conversation_id": conversation_id,
                        "idx": count + 1,
                        "role": "assistant",
                        "content": answer,
                        "meta": json.dumps(meta),
                        "created": now,
                    },
                ],
            )
        return int(count) + 1

    def history(self, conversation_id: str, limit: int = 6) -> list[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(messages.c.content)
                .where(messages.c.conversation_id == conversation_id, messages.c.role == "user")
                .order_by(messages.c.idx.desc())
                .limit(limit)
            ).all()
        return [r[0] for r in reversed(rows)]

    def get(self, conversation_id: str) -> dict[str, Any]:
        m = messages.c
        with self._db.read() as conn:
            rows = conn.execute(
                select(m.idx, m.role, m.content, m.meta, m.created)
                .where(m.conversation_id == conversation_id)
                .order_by(m.idx)
            ).all()
            known = rows or conn.execute(_row(conversation_id)).first()
        if not known:
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
        clean, _ = redact(comment)
        with self._db.write() as conn:
            role = conn.execute(
                select(messages.c.role).where(
                    messages.c.conversation_id == conversation_id, messages.c.idx == message_index
                )
            ).scalar()
            if role != "assistant":
                raise InvalidQuery(f"no answer {message_index} in conversation '{conversation_id}'")
            conn.execute(
                insert(feedback).values(
                    conversation_id=conversation_id,
                    message_index=message_index,
                    rating=rating,
                    comment=clean,
                    created=_now(),
                )
            )

    def purge_before(self, cutoff: datetime) -> int:
        """Delete every conversation last used before `cutoff`, with its messages and feedback, in one
        transaction; returns how many went. (Retention: `conversation_retention_days`.)"""
        stamp = cutoff.astimezone(UTC).isoformat(timespec="seconds")
        c, m = conversations.c, messages.c
        last_used = func.max(func.coalesce(m.created, c.created))
        with self._db.write() as conn:
            old = list(
                conn.execute(
                    select(c.id)
                    .select_from(conversations.outerjoin(messages, m.conversation_id == c.id))
                    .group_by(c.id)
                    .having(last_used < stamp)
                ).scalars()
            )
            for start in range(0, len(old), 500):  # a bounded IN list per statement
                part = old[start : start + 500]
                conn.execute(delete(feedback).where(feedback.c.conversation_id.in_(part)))
                conn.execute(delete(messages).where(m.conversation_id.in_(part)))
                conn.execute(delete(conversations).where(c.id.in_(part)))
        return len(old)

    def feedback_export(self) -> list[dict[str, Any]]:
        """Every feedback entry with the (redacted) question and answer it rates, oldest first."""
        f = feedback.c
        a, q = messages.alias("a"), messages.alias("q")
        query = (
            select(
                f.created, f.conversation_id, f.message_index, f.rating, f.comment, q.c.content, a.c.content
            )
            .select_from(
                feedback.join(
                    a, (a.c.conversation_id == f.conversation_id) & (a.c.idx == f.message_index)
                ).outerjoin(q, (q.c.conversation_id == f.conversation_id) & (q.c.idx == f.message_index - 1))
            )
            .order_by(f.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        keys = ("created", "conversation_id", "message_index", "rating", "comment", "question", "answer")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def feedback(self, conversation_id: str) -> list[dict[str, Any]]:
        f = feedback.c
        with self._db.read() as conn:
            rows = conn.execute(
                select(f.message_index, f.rating, f.comment)
                .where(f.conversation_id == conversation_id)
                .order_by(f.id)
            ).all()
        return [{"message_index": i, "rating": r, "comment": c} for i, r, c in rows]
