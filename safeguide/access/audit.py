"""The audit trail: who changed what (quizzes, timescale rules, users), when, and from which address.

Entries are only ever added; an admin reads them (`GET /api/audit`, `safeguide audit`). What is recorded
is the action and its target (a quiz id, a statement fingerprint, a user name) with a few fields of
detail, never the text of a conversation.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safeguide.files import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""


class AuditLog:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def record(
        self, who: str, role: str, source: str, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, who, role, source, action, target, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    who,
                    role,
                    source,
                    action,
                    target,
                    json.dumps(detail or {}, sort_keys=True),
                ),
            )

    def entries(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT at, who, role, source, action, target, detail FROM audit"
        args: list[Any] = []
        if action:
            query += " WHERE action = ?"
            args.append(action)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(max(1, min(limit, 10_000)))
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        keys = ("at", "who", "role", "source", "action", "target")
        return [{**dict(zip(keys, r[:6], strict=True)), "detail": json.loads(r[6])} for r in rows]
