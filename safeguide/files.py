"""Files the product writes: a user's output file (whole or not at all) and its SQLite stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside `path`, then rename over it: an interrupted write never leaves half a file."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# How long a write waits for another process's write (several server workers share each database).
BUSY_TIMEOUT_SECONDS = 30.0


def open_database(path: Path, schema: str, *pragmas: str) -> sqlite3.Connection:
    """A store's SQLite database: folder made, autocommit (each store runs its own transactions), WAL so
    readers never wait on a writer, shared across threads (each store serialises its use with a lock).
    Stores that read then write in one transaction start it with BEGIN IMMEDIATE: a deferred one that
    finds another process's newer write cannot wait for it and fails at once with "database is locked"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    for pragma in ("journal_mode=WAL", *pragmas):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(schema)
    return db
