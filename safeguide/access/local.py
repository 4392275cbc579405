"""Local accounts: a name, a role and a random token shown once; only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from safeguide.access.roles import ROLES, NotSignedIn, Principal
from safeguide.errors import InvalidQuery
from safeguide.files import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
"""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def add(self, name: str, role: str) -> str:
        """A new user; returns their token (the only time it is ever seen)."""
        if not _NAME.match(name or ""):
            raise InvalidQuery(f"user name {name!r}: use 1-64 letters, digits, spaces or . _ @ -")
        if role not in ROLES:
            raise InvalidQuery(f"role {role!r}: choose one of {', '.join(ROLES)}")
        token = "sg_" + secrets.token_urlsafe(32)
        with self._lock:
            if self._db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InvalidQuery(f"user {name!r} already exists: remove them first to issue a new token")
            self._db.execute(
                "INSERT INTO users (name, role, token_sha256, created) VALUES (?, ?, ?, ?)",
                (name, role, _digest(token), datetime.now(UTC).isoformat(timespec="seconds")),
            )
        return token

    def remove(self, name: str) -> None:
        with self._lock:
            if self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise InvalidQuery(f"no user {name!r}")

    def users(self) -> list[dict[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
        return [{"name": n, "role": r, "created": c} for n, r, c in rows]

    def verify(self, token: str) -> Principal:
        digest = _digest(token)
        with self._lock:
            rows = self._db.execute("SELECT name, role, token_sha256 FROM users").fetchall()
        for name, role, stored in rows:
            if hmac.compare_digest(stored, digest):
                return Principal(name, role, "local")
        raise NotSignedIn("that token is not known here (or its user was removed)")
