"""The HTTP API against a real uvicorn server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from safeguide.database import Database
from tests.conftest import CORPUS
from tests.servers import running_server

pytestmark = pytest.mark.slow
FIELDS = {
    "doc_id",
    "title",
    "edition",
    "authority",
    "paragraph",
    "page",
    "heading",
    "citation",
    "text",
    "score",
}


def test_healthz_reports_the_loaded_index(server: str) -> None:
    r = httpx.get(server + "/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["chunks"] == 867


def test_search_contract(server: str) -> None:
    r = httpx.post(
        server + "/api/search",
        json={"query": "how often does the core group meet", "k": 3, "authority": "staffordshire"},
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 3
    assert all(set(x) == FIELDS for x in results)
    assert results[0]["citation"].startswith("Staffordshire Part 6 ¶")
    assert any(x["paragraph"] == "11" and "six-weekly" in x["text"] for x in results)


def test_search_edition_filter_and_defaults(server: str) -> None:
    r = httpx.post(
        server + "/api/search", json={"query": "what replaced serious case reviews", "edition": "2018"}
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 5 and {x["edition"] for x in results} == {"2018"}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"query": ""}, "empty"),
        ({"query": "x" * 5000}, "limit is 1000"),
        ({"query": "referral", "k": 0}, "k must be between"),
        ({"query": "referral", "k": 500}, "k must be between"),
        ({"query": "referral", "edition": "1999"}, "no edition '1999'"),
        ({"k": 3}, "query: Field required"),
        ({"query": 12}, "query"),
    ],
)
def test_bad_search_requests_get_422_with_a_reason(server: str, body: dict[str, object], detail: str) -> None:
    r = httpx.post(server + "/api/search", json=body)
    assert r.status_code == 422
    assert detail in r.json()["detail"]


def test_documents_lists_manifest_and_index_status(server: str) -> None:
    r = httpx.get(server + "/api/documents")
    assert r.status_code == 200
    docs = {d["id"]: d for d in r.json()["documents"]}
    assert set(docs) == {
        "wt2010-managers-guide",
        "wt2010-summary",
        "hampshire-csd-2011",
        "staffordshire-part6",
        "wt2018-briefing",
    }
    hants = docs["hampshire-csd-2011"]
    assert hants["indexed"] and hants["chunks"] == 379 and len(hants["content_hash"]) == 64
    assert hants["authority"] == "hampshire" and hants["edition"] == "2010" and hants["ingested_at"]
    assert docs["wt2018-briefing"]["superseded_by"] == ["wt2023"]


def test_without_an_index_health_is_503_and_says_what_to_do(tmp_path: Path, output_dir: Path) -> None:
    env = {"SAFEGUIDE_DATA_DIR": str(tmp_path / "empty"), "SAFEGUIDE_CORPUS_DIR": str(CORPUS)}
    with running_server(env, output_dir / "api-server-empty.log") as url:
        r = httpx.get(url + "/healthz")
        assert r.status_code == 503 and "safeguide ingest" in r.json()["detail"]
        r = httpx.post(url + "/api/search", json={"query": "referral"})
        assert r.status_code == 503
        docs = httpx.get(url + "/api/documents").json()
        assert docs["build"] is None and not any(d["indexed"] for d in docs["documents"])


def test_conversations_keep_only_redacted_text_and_take_feedback(server: str) -> None:
    first = httpx.post(
        server + "/api/ask",
        json={
            "question": "Jane Smith (DOB 03/03/2015) lives at SO23 8UG. How often does the core group "
            "meet in Staffordshire?",
            "today": "2026-01-05",
        },
        timeout=60,
    ).json()
    cid = first["conversation_id"]
    assert any(n.startswith("Personal details were removed") for n in first["notices"])
    second = httpx.post(
        server + "/api/ask", json={"question": "What about in Hampshire?", "conversation_id": cid}, timeout=60
    ).json()
    assert second["conversation_id"] == cid and second["message_index"] == 3
    stored = httpx.get(server + f"/api/conversations/{cid}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    text = json.dumps(stored)
    assert "Jane Smith" not in text and "SO23 8UG" not in text and "03/03/2015" not in text
    ok = httpx.post(
        server + "/api/feedback",
        json={
            "conversation_id": cid,
            "message_index": 1,
            "rating": "down",
            "comment": "call me on 07700 900123",
        },
    )
    assert ok.status_code == 200
    for body, detail in (
        ({"conversation_id": cid, "message_index": 0, "rating": "up"}, "no answer 0"),
        ({"conversation_id": cid, "message_index": 1, "rating": "meh"}, "rating must be"),
        ({"conversation_id": "nope", "message_index": 1, "rating": "up"}, "no answer 1"),
    ):
        r = httpx.post(server + "/api/feedback", json=body)
        assert r.status_code == 422 and detail in r.json()["detail"]
    r = httpx.post(server + "/api/ask", json={"question": "When is the ICPC?", "conversation_id": "nope"})
    assert r.status_code == 422 and "no conversation 'nope'" in r.json()["detail"]
    assert httpx.get(server + "/api/conversations/nope").status_code == 404
    r = httpx.post(server + "/api/ask", json={"question": "When is the ICPC?", "today": "2026-02-30"})
    assert r.status_code == 422 and "not a real date" in r.json()["detail"]
    # A date the calendar cannot count from is refused with the range, not answered with a 500.
    far = "Our strategy discussion was on 31 December 9999. When must the ICPC be held?"
    r = httpx.post(server + "/api/ask", json={"question": far})
    assert r.status_code == 422 and "9999-12-31 is out of range" in r.json()["detail"], r.text


def test_feedback_comments_are_redacted(database: Database) -> None:
    from safeguide.chat.conversations import ConversationStore

    store = ConversationStore(database)
    cid = store.ensure(None)
    index = store.add_exchange(cid, "question", "answer", {})
    store.add_feedback(cid, index, "down", "ring mum on 07700 900123")
    assert store.feedback(cid) == [
        {"message_index": 1, "rating": "down", "comment": "ring mum on [phone number removed]"}
    ]
