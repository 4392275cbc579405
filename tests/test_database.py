"""The product database on both engines: SQLite (the default) and a real PostgreSQL server started on
loopback by the test setup. Each store's records, one transaction per change, the migrations, several
processes migrating at once, the records of earlier versions' SQLite files copied in, and a database that
stops answering (503, nothing half-written, recovery when it returns)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from safeguide.database import Database, database_url
from safeguide.database.tables import metadata, users
from safeguide.errors import InvalidQuery, StoreUnavailable


def test_migrations_make_exactly_the_tables_the_code_reads(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from safeguide.database import MIGRATIONS

    assert database.revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with database.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    database.migrate()  # already at the newest revision: nothing to do, nothing fails
    assert database.revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_a_failed_change_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as conn:
        conn.execute(insert(users).values(name="a", role="admin", token_sha256="x" * 64, created="now"))
        raise RuntimeError("stopped half-way")
    with database.read() as conn:
        assert conn.execute(select(users.c.name)).all() == []


def test_conversations_and_feedback(database: Database) -> None:
    from safeguide.chat.conversations import ConversationStore, UnknownConversation

    store = ConversationStore(database)
    cid = store.ensure(None)
    assert store.ensure(cid) == cid
    with pytest.raises(InvalidQuery, match="no conversation 'nope'"):
        store.ensure("nope")
    assert store.add_exchange(cid, "when is the ICPC?", "within 15 working days", {"mode": "x"}) == 1
    assert store.add_exchange(cid, "who chairs it?", "an independent chair", {}) == 3
    assert store.history(cid) == ["when is the ICPC?", "who chairs it?"]
    got = store.get(cid)["messages"]
    assert [(m["index"], m["role"]) for m in got] == [
        (0, "user"),
        (1, "assistant"),
        (2, "user"),
        (3, "assistant"),
    ]
    assert got[1]["mode"] == "x"
    with pytest.raises(UnknownConversation):
        store.get("nope")
    with pytest.raises(InvalidQuery, match="no answer 2"):
        store.add_feedback(cid, 2, "up")  # a question, not an answer
    store.add_feedback(cid, 3, "up", "clear")
    assert store.feedback(cid) == [{"message_index": 3, "rating": "up", "comment": "clear"}]


def test_answers_to_one_conversation_at_once_get_their_own_places(database: Database) -> None:
    """Eight threads answering in one conversation together: every question and answer is kept, each at
    its own index, in pairs (PostgreSQL locks the conversation's row; SQLite's write lock covers it)."""
    from safeguide.chat.conversations import ConversationStore

    store = ConversationStore(database)
    cid = store.ensure(None)
    errors: list[BaseException] = []

    def answer(n: int) -> None:
        try:
            for i in range(5):
                store.add_exchange(cid, f"q{n}.{i}", f"a{n}.{i}", {})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.get(cid)["messages"]
    assert [m["index"] for m in got] == list(range(80))
    assert all(q["content"][1:] == a["content"][1:] for q, a in zip(got[::2], got[1::2], strict=True))


def test_quizzes(database: Database) -> None:
    from safeguide.quiz.questions import QuizRequest
    from safeguide.quiz.store import QuizStore, UnknownQuiz

    store = QuizStore(database)
    quiz = store.create(QuizRequest(n=2, seed=5), 5, [])
    assert store.get(quiz.quiz_id).seed == 5
    store.save_questions(quiz.quiz_id, [])
    store.delete(quiz.quiz_id)
    for change in (store.get, store.delete, lambda q: store.save_questions(q, [])):
        with pytest.raises(UnknownQuiz):
            change(quiz.quiz_id)


def test_rule_reviews_keep_the_latest_decision_and_every_one(database: Database) -> None:
    from safeguide.timescales.review import Decision, ReviewStore

    store = ReviewStore(database)
    item = {"fingerprint": "f" * 16, "citation": {"doc_id": "eastbrook", "heading": "Conferences " * 30}}
    assert store.version() == 0
    store.record(item, Decision(decision="approved", by="A. Lead"))
    store.record(item, Decision(decision="rejected", by="B. Chair", why="not a timescale"))
    assert store.version() == 2
    (review,) = store.all().values()
    assert (review.decision, review.by, review.why) == ("rejected", "B. Chair", "not a timescale")
    assert review.place == "Conferences " * 30  # a long heading fits on PostgreSQL too
    assert [h["decision"] for h in store.history()] == ["approved", "rejected"]
    assert store.history("other") == []


def test_ingest_jobs(database: Database) -> None:
    from safeguide.documents.jobs import IngestJobs

    def run(progress: Any) -> dict[str, Any]:
        progress(1, 2)
        progress(2, 2)
        return {"summary": "added x"}

    jobs = IngestJobs(database, run, lambda: None)
    try:
        job = jobs.submit("add x")
        deadline = time.monotonic() + 10
        while (got := jobs.get(job.id)) is not None and got.state != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got is not None and (got.state, got.message, got.done, got.total) == ("done", "added x", 2, 2)
        assert [j.id for j in jobs.all()] == [job.id]
        assert jobs.get("nope") is None
    finally:
        jobs.close()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from safeguide.database import MIGRATIONS

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def _open(url: str) -> str | None:
    db = Database(url)
    try:
        return db.revision()
    finally:
        db.close()


def test_several_processes_opening_a_new_database_migrate_it_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Server workers starting together on an empty database: one makes the tables, the others wait for
    it (SQLite's write lock, a PostgreSQL advisory lock) and find them made."""
    urls = [f"sqlite:///{tmp_path / 'new.sqlite3'}", request.getfixturevalue("postgres").new_database()]
    for url in urls:
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            assert pool.map(_open, [url] * 4) == [_head()] * 4


def test_bad_database_urls_are_one_line_errors() -> None:
    with pytest.raises(InvalidQuery, match="not a database URL"):
        database_url("not a url")
    with pytest.raises(InvalidQuery, match="'mysql' is not supported"):
        database_url("mysql://x@localhost/db")
    assert database_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"


_OLD_USERS = "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT, token_sha256 TEXT UNIQUE, created TEXT);"
_OLD_AUDIT = (
    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT, who TEXT, role TEXT, source TEXT, "
    "action TEXT, target TEXT, detail TEXT DEFAULT '{}');"
)


def _legacy(folder: Path) -> str:
    """The users and audit files of a version that kept one SQLite file per store; a user's token."""
    from safeguide.access.local import _digest

    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "users.sqlite3")
    db.executescript(_OLD_USERS)
    db.execute(
        "INSERT INTO users VALUES ('admin', 'admin', ?, '2026-01-01T00:00:00+00:00')", (_digest("tok"),)
    )
    db.commit()
    db.close()
    db = sqlite3.connect(folder / "audit.sqlite3")
    db.executescript(_OLD_AUDIT)
    db.execute("INSERT INTO audit VALUES (7, 'then', 'cli:root', 'admin', 'cli', 'user.add', 'admin', '{}')")
    db.commit()
    db.close()
    return "tok"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_records_of_the_earlier_sqlite_files_are_copied_in_once(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from safeguide.access import UserStore
    from safeguide.access.audit import AuditLog
    from safeguide.settings import Settings

    token = _legacy(tmp_path)
    url = "" if engine == "sqlite" else request.getfixturevalue("postgres").new_database()
    settings = Settings(data_dir=tmp_path, database_url=url)
    for _ in range(2):  # opened twice: copied the first time only
        with settings.open_database() as db:
            assert UserStore(db).verify(token).name == "admin"  # the old admin token still signs in
            log = AuditLog(db)
            log.record("sam", "admin", "x", "quiz.create", "q1")  # a new entry after the copied one
            assert [e["action"] for e in log.entries()][-1] == "user.add"
    assert sorted(p.name for p in tmp_path.glob("*.imported")) == [
        "audit.sqlite3.imported",
        "users.sqlite3.imported",
    ]
    assert not (tmp_path / "users.sqlite3").exists()


def test_a_database_that_stops_answering_is_503_and_comes_back() -> None:
    """PostgreSQL killed: every store call is StoreUnavailable with the reason (never a half-written
    record); once it is back, the next call works on a fresh connection."""
    from safeguide.chat.conversations import ConversationStore
    from tests.servers import PostgresServer

    server = PostgresServer().start()  # its own server: this test kills it
    try:
        db = Database(server.new_database())
        store = ConversationStore(db)
        cid = store.ensure(None)
        store.add_exchange(cid, "q", "a", {})
        server.stop()
        with pytest.raises(StoreUnavailable, match="is not answering"):
            store.add_exchange(cid, "q2", "a2", {})
        with pytest.raises(StoreUnavailable):
            db.ping()
        server.start()
        assert store.add_exchange(cid, "q3", "a3", {}) == 3
        assert [m["content"] for m in store.get(cid)["messages"]] == ["q", "a", "q3", "a3"]
        db.close()
    finally:
        server.close()


def test_a_database_made_by_an_earlier_release_is_brought_up_to_date(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database at the first revision (what the first release made) with records in it: opening it
    applies the later migrations and keeps the records."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    from safeguide.access import UserStore
    from safeguide.database import MIGRATIONS, database_url

    for url in (f"sqlite:///{tmp_path / 'old.sqlite3'}", request.getfixturevalue("postgres").new_database()):
        engine = create_engine(database_url(url))
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            conn.execute(
                insert(users).values(name="old", role="admin", token_sha256="a" * 64, created="then")
            )
        assert "rate_limits" not in inspect(engine).get_table_names()
        engine.dispose()
        db = Database(url)
        try:
            assert db.revision() == _head()
            assert "rate_limits" in inspect(db.engine).get_table_names()
            assert [u["name"] for u in UserStore(db).users()] == ["old"]
        finally:
            db.close()


def test_the_rate_limit_count_is_one_for_every_worker(database: Database) -> None:
    """Two workers (two engines on one database) count a client's requests together, per minute."""
    other = Database(database.url)
    try:
        counts = [db.count_request("10.0.0.1", 1000) for db in (database, other, database, other)]
        assert counts == [1, 2, 3, 4]
        assert other.count_request("10.0.0.2", 1000) == 1  # another client
        assert database.count_request("10.0.0.1", 1001) == 1  # a new minute
    finally:
        other.close()


def test_the_rate_limit_is_shared_by_workers_on_postgresql(postgres: Any) -> None:
    """Two RateLimit middlewares (two workers) over one PostgreSQL database allow a client 3 requests a
    minute between them; with PostgreSQL gone each falls back to counting alone, and still answers."""
    import asyncio

    import httpx
    from fastapi import FastAPI

    from api.security import RateLimit

    db = Database(postgres.new_database())
    app = FastAPI()

    @app.get("/api/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    now = [6_000_000.0]  # a clock minute's start, so the whole test is in one minute
    workers = [RateLimit(app, per_minute=3, shared=lambda: db, wall_clock=lambda: now[0]) for _ in range(2)]

    async def run(worker: RateLimit) -> int:
        transport = httpx.ASGITransport(app=worker, client=("10.0.0.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/api/ping")).status_code

    try:
        codes = [asyncio.run(run(workers[i % 2])) for i in range(4)]
        assert codes == [200, 200, 200, 429]
        now[0] += 60
        assert asyncio.run(run(workers[0])) == 200  # the next minute
    finally:
        db.close()

    class Gone:
        def count_request(self, client: str, minute: int) -> int:
            raise StoreUnavailable("the records database is not answering just now")

    alone = RateLimit(app, per_minute=3, shared=lambda: Gone())
    assert [asyncio.run(run(alone)) for _ in range(4)] == [200, 200, 200, 429]  # its own count
