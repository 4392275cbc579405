"""Local accounts: a name, a role and a random token shown once; only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from safeguide.access.roles import ROLES, NotSignedIn, Principal
from safeguide.database import Database
from safeguide.database.tables import users
from safeguide.errors import InvalidQuery

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, name: str, role: str) -> str:
        """A new user; returns their token (the only time it is ever seen)."""
        if not _NAME.match(name or ""):
            raise InvalidQuery(f"user name {name!r}: use 1-64 letters, digits, spaces or . _ @ -")
        if role not in ROLES:
            raise InvalidQuery(f"role {role!r}: choose one of {', '.join(ROLES)}")
        token = "sg_" + secrets.token_urlsafe(32)
        with self._db.write() as conn:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first():
                raise InvalidQuery(f"user {name!r} already exists: remove them first to issue a new token")
            conn.execute(
                insert(users).values(
                    name=name,
                    role=role,
                    token_sha256=_digest(token),
                    created=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
        return token

    def remove(self, name: str) -> None:
        with self._db.write() as conn:
            if conn.execute(delete(users).where(users.c.name == name)).rowcount == 0:
                raise InvalidQuery(f"no user {name!r}")

    def users(self) -> list[dict[str, str]]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(users.c.name, users.c.role, users.c.created).order_by(users.c.name)
            ).all()
        return [{"name": n, "role": r, "created": c} for n, r, c in rows]

    def verify(self, token: str) -> Principal:
        digest = _digest(token)
        with self._db.read() as conn:
            rows = conn.execute(select(users.c.name, users.c.role, users.c.token_sha256)).all()
        for name, role, stored in rows:
            if hmac.compare_digest(stored, digest):
                return Principal(name, role, "local")
        raise NotSignedIn("that token is not known here (or its user was removed)")
