"""After a run of messages full of personal details, no database and no log holds any of them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

# Written for this test: distinctive values the guidance never contains.
MESSAGES = [
    ("Ruby Thompson (age 9) told me her stepdad hits her, what next?", ["Ruby Thompson", "Ruby"]),
    ("spoke to Dr Okonkwo-Hale about Lily Evans in Year 4", ["Okonkwo-Hale", "Lily Evans"]),
    ("Tyler, aged 6, at St Brigid's Primary in Andover is often hungry", ["Tyler", "St Brigid's"]),
    ("Kelly-Ann O'Brien in Flat 3 shouts at the kids", ["Kelly-Ann", "O'Brien", "Flat 3"]),
    ("his uncle tariq collects him from oakwood academy", ["tariq", "oakwood academy"]),
    ("mum's mobile 07700 900461, nhs 943 476 5919, SO23 8UG", ["07700 900461", "943 476 5919", "SO23 8UG"]),
    ("email jo.bloggs-test@example.org, NI QQ 12 34 56 C", ["jo.bloggs-test@example.org", "QQ 12 34 56 C"]),
]
COMMENT = "the answer ignored that Ruby Thompson's nan Margaret Oyelaran-Price lives with them"
SECRETS = [s for _, values in MESSAGES for s in values] + ["Margaret", "Oyelaran-Price"]


def test_no_database_or_log_keeps_a_personal_detail(tmp_path: Path, corpus_index: Path) -> None:
    import shutil

    from tests.servers import make_users, running_server

    data = tmp_path / "data"
    shutil.copytree(corpus_index / "index", data / "index")
    log = tmp_path / "server.log"
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
    }
    trainer = make_users(data)["trainer"]
    with running_server(env, log) as url, httpx.Client(base_url=url, timeout=60) as client:
        conversation = None
        for message, _ in MESSAGES:
            body = {"question": message, **({"conversation_id": conversation} if conversation else {})}
            reply = client.post("/api/ask", json=body)
            assert reply.status_code == 200, reply.text
            conversation = reply.json()["conversation_id"]
            assert all(v.lower() not in reply.json()["question"].lower() for v in _values(message))
        feedback = {"conversation_id": conversation, "message_index": 1, "rating": "down", "comment": COMMENT}
        assert client.post("/api/feedback", json=feedback).status_code == 200
        stream = client.post("/api/ask/stream", json={"question": MESSAGES[0][0]})
        assert stream.status_code == 200 and "event: checked" in stream.text
        quiz = client.post(
            "/api/quiz", json={"topic": "neglect and Ruby Thompson", "n": 2, "seed": 1}, headers=trainer
        )
        assert quiz.status_code in (200, 422), quiz.text  # stored, or refused with nothing stored
    # Everything written during the run: databases (with their WAL files), logs; not the copied index.
    stored = [p for p in data.rglob("*") if p.is_file() and p.relative_to(data).parts[0] != "index"]
    stored.append(log)
    assert any(p.name == "safeguide.sqlite3" for p in stored)
    leaks = {
        str(p.relative_to(tmp_path)): [s for s in SECRETS if s.lower().encode() in p.read_bytes().lower()]
        for p in stored
    }
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}


def _values(message: str) -> list[str]:
    return next(values for m, values in MESSAGES if m == message)
