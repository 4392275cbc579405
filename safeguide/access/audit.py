"""The audit trail: who changed what (quizzes, timescale rules, users), when, and from which address.

Entries are only ever added; an admin reads them (`GET /api/audit`, `safeguide audit`). What is recorded
is the action and its target (a quiz id, a statement fingerprint, a user name) with a few fields of
detail, never the text of a conversation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from safeguide.database import Database
from safeguide.database.tables import audit


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self, who: str, role: str, source: str, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                insert(audit).values(
                    at=datetime.now(UTC).isoformat(timespec="seconds"),
                    who=who,
                    role=role,
                    source=source,
                    action=action,
                    target=target,
                    detail=json.dumps(detail or {}, sort_keys=True),
                )
            )

    def entries(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        a = audit.c
        query = select(a.at, a.who, a.role, a.source, a.action, a.target, a.detail)
        if action:
            query = query.where(a.action == action)
        query = query.order_by(a.id.desc()).limit(max(1, min(limit, 10_000)))
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        keys = ("at", "who", "role", "source", "action", "target")
        return [{**dict(zip(keys, r[:6], strict=True)), "detail": json.loads(r[6])} for r in rows]
