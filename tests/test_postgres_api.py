"""The real app under uvicorn with its records on a real PostgreSQL server (SAFEGUIDE_DATABASE_URL):
the same API works, nothing is written to a SQLite file, and when PostgreSQL is killed mid-use the
answers are clear 503s that still carry the 999 notice, until it is back."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import CORPUS
from tests.servers import PostgresServer, make_users, running_server

DANGER = "Her stepdad is hitting her right now, what do I do?"


@pytest.mark.slow
def test_the_api_on_postgresql_and_while_it_is_down(corpus_index: Path, tmp_path: Path) -> None:
    pg = PostgresServer().start()  # its own server: this test kills it
    try:
        url = pg.new_database()
        data = tmp_path / "data"
        shutil.copytree(corpus_index / "index", data / "index")
        signed_in = make_users(data, url)
        env = {
            "SAFEGUIDE_DATA_DIR": str(data),
            "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
            "SAFEGUIDE_LLM_BACKEND": "extractive",
            "SAFEGUIDE_DATABASE_URL": url,
        }
        with running_server(env, tmp_path / "server.log") as api, httpx.Client(base_url=api, timeout=60) as c:
            assert c.get("/healthz").json()["database"] == "postgresql"
            asked = c.post(
                "/api/ask", json={"question": "who chairs an initial child protection conference?"}
            )
            assert asked.status_code == 200, asked.text
            conversation = asked.json()["conversation_id"]
            rated = {"conversation_id": conversation, "message_index": 1, "rating": "up", "comment": "clear"}
            assert c.post("/api/feedback", json=rated).status_code == 200
            quiz = c.post("/api/quiz", json={"n": 2, "seed": 4}, headers=signed_in["trainer"])
            assert quiz.status_code == 200, quiz.text
            trail = c.get("/api/audit", headers=signed_in["admin"]).json()["entries"]
            assert [e["action"] for e in trail if e["target"] == quiz.json()["quiz_id"]] == ["quiz.create"]
            with psycopg.connect(pg.url(url.rsplit("/", 1)[1])) as conn:
                (kept,) = conn.execute("SELECT count(*) FROM messages").fetchone()  # type: ignore[misc]
                (ratings,) = conn.execute("SELECT count(*) FROM feedback").fetchone()  # type: ignore[misc]
            assert (kept, ratings) == (2, 1)
            assert not list(data.glob("*.sqlite3"))  # nothing went to the default SQLite file

            pg.stop()
            down = c.post("/api/ask", json={"question": DANGER, "conversation_id": conversation})
            assert down.status_code == 503, down.text
            assert "is not answering" in down.json()["detail"]
            assert any("999" in n for n in down.json()["notices"])  # the notice survives the outage
            assert c.get("/healthz").status_code == 503
            assert c.get(f"/api/conversations/{conversation}").status_code == 503

            pg.start()
            deadline = time.monotonic() + 20
            while c.get("/healthz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            again = c.post(
                "/api/ask", json={"question": "when is the ICPC due?", "conversation_id": conversation}
            )
            assert again.status_code == 200, again.text
            messages = c.get(f"/api/conversations/{conversation}").json()["messages"]
            # The answer refused while the database was down left nothing half-written.
            assert [m["index"] for m in messages] == [0, 1, 2, 3]
            assert messages[2]["content"] == "when is the ICPC due?"
    finally:
        pg.close()
