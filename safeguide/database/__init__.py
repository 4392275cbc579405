"""The product's records (conversations, feedback, quizzes, rule reviews, users, the audit trail, ingest
jobs) in one database, through SQLAlchemy: a SQLite file in the data folder by default, PostgreSQL when
`SAFEGUIDE_DATABASE_URL` is set (`postgresql://user:password@host:5432/safeguide`).

Opening a database brings its tables up to date with the Alembic migrations, under a lock (SQLite's
write lock, or a PostgreSQL advisory lock), so several server workers starting at once migrate it once.
Each store runs each change in one transaction (`write()`); on SQLite that transaction takes the write
lock at its start, so a read-then-write never meets another process's newer write half-way. A database
that does not answer (PostgreSQL down, SQLite locked past the busy timeout) is `StoreUnavailable`: the
API answers 503 with the reason, and the next request tries again on a fresh connection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from safeguide.database import tables
from safeguide.errors import InvalidQuery, StoreUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# How long a write waits for another process's write on SQLite (several workers share the file).
BUSY_TIMEOUT_SECONDS = 30.0
# Any fixed number: the PostgreSQL advisory lock that lets one process at a time migrate.
_MIGRATION_LOCK = 7_424_551
# The separate SQLite files of earlier versions, each holding some of these tables; copied in once.
LEGACY_FILES = (
    "conversations.sqlite3",
    "users.sqlite3",
    "audit.sqlite3",
    "quizzes.sqlite3",
    "timescale_reviews.sqlite3",
    "jobs.sqlite3",
)


def database_url(value: str) -> URL:
    """A database URL as SQLAlchemy takes it; PostgreSQL always through psycopg 3 (the one installed)."""
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise InvalidQuery(f"SAFEGUIDE_DATABASE_URL is not a database URL: {exc}") from None
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        return url
    raise InvalidQuery(
        f"database '{url.get_backend_name()}' is not supported: use postgresql:// or sqlite://"
    )


class Database:
    """One engine (a pool of connections) shared by every store in a process."""

    def __init__(self, url: str | URL, legacy_dir: Path | None = None) -> None:
        self.url = database_url(str(url)) if isinstance(url, str) else url
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _engine(self.url)
        self.migrate()
        if legacy_dir is not None:
            self.copy_legacy(legacy_dir)

    @classmethod
    def sqlite(cls, path: Path, legacy_dir: Path | None = None) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(URL.create("sqlite", database=str(path)), legacy_dir)

    @property
    def insert(self) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both engines."""
        return sqlite_insert if self.is_sqlite else pg_insert

    @property
    def where(self) -> str:
        """The URL without its password, for messages and /healthz."""
        return self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._answering(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that changes something: all of it is kept, or none of it."""
        with self._answering(), self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _answering(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            # The reason (host, port, the driver's words) goes to the log, not to whoever asked.
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            log.warning("the database at %s is not answering: %s", self.where, reason)
            raise StoreUnavailable(
                "the records database is not answering just now: try again in a moment"
            ) from exc

    def upsert(self, conn: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]) -> None:
        """Insert a row, or replace the row with the same key."""
        stmt = self.insert(table).values(**values)
        changed = {k: stmt.excluded[k] for k in values if k not in key}
        conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=changed))

    def migrate(self) -> None:
        """Create or bring up to date every table (Alembic, to the newest revision), once at a time."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def count_request(self, client: str, minute: int) -> int:
        """Count one request from `client` in `minute` (minutes since the epoch); the count so far,
        this one included. Counts of minutes before the last are deleted now and then."""
        rl = tables.rate_limits
        counted = (
            self.insert(rl)
            .values(client=client[:64], minute=minute, count=1)
            .on_conflict_do_update(index_elements=[rl.c.client, rl.c.minute], set_={"count": rl.c.count + 1})
            .returning(rl.c.count)
        )
        with self.write() as conn:
            count = int(conn.execute(counted).scalar_one())
            if count == 1 and minute % 5 == 0:  # a client's first request in every fifth minute: tidy
                conn.execute(rl.delete().where(rl.c.minute < minute - 1))
        return count

    def ping(self) -> None:
        """One round trip; StoreUnavailable when the database does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def revision(self) -> str | None:
        with self.read() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None

    def copy_legacy(self, folder: Path) -> list[str]:
        """Copy the records of the earlier one-file-per-store SQLite databases found in `folder` into this
        database (rows already here are kept as they are), then rename each file `*.imported`."""
        copied = []
        for name in LEGACY_FILES:
            path = folder / name
            if not path.is_file():
                continue
            old = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                present = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                with self.write() as conn:
                    for table in tables.metadata.sorted_tables:
                        if table.name not in present:
                            continue
                        columns = [c.name for c in table.columns]
                        cursor = old.execute(f"SELECT {', '.join(columns)} FROM {table.name}")
                        rows = [dict(zip(columns, r, strict=True)) for r in cursor]
                        if rows:
                            conn.execute(self.insert(table).on_conflict_do_nothing(), rows)
                        if not self.is_sqlite and table.name in _SERIAL:
                            conn.execute(text(_SERIAL[table.name]))
            finally:
                old.close()
            path.rename(path.with_name(name + ".imported"))
            for extra in ("-wal", "-shm"):
                path.with_name(name + extra).unlink(missing_ok=True)
            copied.append(name)
            log.info("copied the records of %s into %s", path, self.where)
        return copied


# After rows are copied in with their own ids, PostgreSQL's sequences must move past them.
_SERIAL = {
    name: f"SELECT setval(pg_get_serial_sequence('{name}', '{col}'), coalesce(max({col}), 0) + 1, false) "
    f"FROM {name}"
    for name, col in (("feedback", "id"), ("audit", "id"), ("review_history", "n"))
}


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        # pre_ping: a connection broken by a server restart is replaced at checkout, not handed out.
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=10)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}, pool_size=5
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, says when a transaction begins (see `_begin`).
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "foreign_keys=ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
