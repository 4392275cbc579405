"""Timescale endpoints and CLI against the real server and the real index."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from icalendar import Calendar

from safeguide.cli import main
from safeguide.settings import get_settings
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow
RULE_FIELDS = {
    "id",
    "name",
    "trigger",
    "event",
    "amount",
    "minimum",
    "unit",
    "direction",
    "kind",
    "as_written",
    "ambiguous",
    "reading",
    "applies_to",
    "conflicts_with",
    "note",
    "citation",
    "status",
    "who",
}


def test_rules_come_with_their_paragraph_text(server: str) -> None:
    rules = {r["id"]: r for r in httpx.get(server + "/api/timescales").json()["rules"]}
    assert len([r for r in rules.values() if ":" not in r["id"]]) == 57  # corpus/timescales.toml
    # what the ingest read from the documents beyond the reviewed rules, each marked as such
    extracted = [r for r in rules.values() if r["status"] == "extracted"]
    assert extracted and all(":" in r["id"] for r in extracted), extracted
    assert {r["applies_to"]["authority"] for r in extracted} == {"hampshire", "national"}
    # "seeing the child alone at least six weekly as part of a protection plan" (the visit event reads
    # "seeing the child" since 2026-12-07), read from the WT 2010 summary and marked as not yet reviewed
    assert any(
        r["citation"]["doc_id"] == "wt2010-summary" and r["event"] == "visit" and r["amount"] == 6
        for r in extracted
    ), [r["id"] for r in extracted]
    assert all(set(r) == RULE_FIELDS for r in rules.values())
    icpc = rules["icpc"]
    assert icpc["citation"]["label"] == (
        "WT 2010 guide for managers › Chapter 5 › Purpose of Initial Child protection conference"
    )
    assert "within 15 working days of the strategy discussion" in icpc["citation"]["text"]
    assert icpc["conflicts_with"] == ["icpc-wt2010-summary"]
    assert rules["core-group-first"]["citation"]["label"] == "Staffordshire Part 6 ¶8"
    assert all(r["citation"]["text"] for r in rules.values())


def test_due_over_christmas(server: str) -> None:
    r = httpx.post(server + "/api/timescales/due", json={"rule_id": "icpc", "start": "2025-12-19"})
    assert r.status_code == 200
    body = r.json()
    assert (body["due"], body["weekday"]) == ("2026-01-14", "Wednesday")
    assert {"date": "2025-12-25", "reason": "Christmas Day"} in body["skipped"]
    assert body["citation"]["doc_id"] == "wt2010-managers-guide" and body["citation"]["text"]
    assert "day 0 is Friday 19 December 2025" in body["explanation"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"rule_id": "icpcc", "start": "2025-12-19"}, 404, "did you mean icpc"),
        ({"rule_id": "icpc", "start": "2025-02-30"}, 422, "not a real date"),
        ({"rule_id": "icpc", "start": "19/12/2025"}, 422, "YYYY-MM-DD"),
        ({"rule_id": "icpc", "start": ""}, 422, "not a real date"),
        (
            {"rule_id": "referral-written-confirmation", "start": "2026-01-16", "start_time": "25:99"},
            422,
            "not a time of day",
        ),
        ({"start": "2025-12-19"}, 422, "rule_id"),
        # Dates at the ends of the calendar: a clear 422, never a 500 from overflowing date arithmetic.
        ({"rule_id": "icpc", "start": "9999-12-31"}, 422, "out of range"),
        ({"rule_id": "icpc", "start": "0001-01-01"}, 422, "from 1 January 1990 to 31 December 2099"),
        ({"rule_id": "review-subsequent", "start": "9999-12-31"}, 422, "out of range"),
    ],
)
def test_bad_due_requests(server: str, body: dict[str, str], status: int, detail: str) -> None:
    r = httpx.post(server + "/api/timescales/due", json=body)
    assert r.status_code == status
    assert detail in r.json()["detail"]


def test_plan_and_its_calendar_file(server: str) -> None:
    body = {"event": "icpc", "date": "2026-01-14", "authority": "staffordshire"}
    steps = httpx.post(server + "/api/timescales/plan", json=body).json()["steps"]
    assert [s["rule_id"] for s in steps][:3] == [
        "conference-decisions-circulated",
        "core-group-first",
        "plan-lodged-with-chair",
    ]
    dues = [s["due"] for s in steps]
    assert dues == sorted(dues)
    for method in ("GET", "POST"):
        if method == "GET":
            r = httpx.get(server + "/api/timescales/plan.ics", params=body)
        else:
            r = httpx.post(server + "/api/timescales/plan.ics", json=body)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
        assert 'filename="safeguide-icpc-2026-01-14.ics"' in r.headers["content-disposition"]
        cal = Calendar.from_ical(r.content)
        events = [c for c in cal.walk() if c.name == "VEVENT"]
        assert [e.decoded("dtstart").isoformat() for e in events] == dues
        assert "Staffordshire Part 6 ¶8" in str(events[1]["description"])


def test_plan_from_a_date_out_of_range_is_422(server: str) -> None:
    for path in ("/api/timescales/plan", "/api/timescales/plan.ics"):
        r = httpx.post(server + path, json={"event": "icpc", "date": "9999-12-31"})
        assert r.status_code == 422 and "out of range" in r.json()["detail"], (path, r.text)


def test_plan_of_an_unknown_event_is_404(server: str) -> None:
    r = httpx.post(server + "/api/timescales/plan", json={"event": "icp", "date": "2026-01-14"})
    assert r.status_code == 404 and "did you mean icpc" in r.json()["detail"]


@pytest.fixture
def cli_env(corpus_index: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(corpus_index))
    monkeypatch.setenv("SAFEGUIDE_CORPUS_DIR", str(CORPUS))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_due_and_plan(cli_env: None, tmp_path: Path) -> None:
    runner = CliRunner()
    due = runner.invoke(main, ["timescales", "due", "icpc", "--start", "2025-12-19", "--json"])
    assert due.exit_code == 0, due.output
    assert json.loads(due.stdout)["due"] == "2026-01-14"
    ics = tmp_path / "plan.ics"
    plan = runner.invoke(
        main,
        [
            "timescales",
            "plan",
            "--event",
            "icpc",
            "--date",
            "2026-01-14",
            "--authority",
            "hampshire",
            "--ics",
            str(ics),
        ],
    )
    assert plan.exit_code == 0, plan.output
    assert (
        "Wednesday 14 January 2026: First core group meeting (Hampshire, from November 2010)" in plan.stdout
    )
    assert len([c for c in Calendar.from_ical(ics.read_bytes()).walk() if c.name == "VEVENT"]) == 12
    listed = runner.invoke(main, ["timescales", "list"])
    assert "icpc-wt2010-summary" in listed.stdout and "[ambiguous unit]" in listed.stdout


def test_cli_errors(cli_env: None, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["timescales", "due", "core-grup-first", "--start", "2026-01-14"])
    assert bad.exit_code == 1 and "did you mean core-group-first" in bad.output
    bad = runner.invoke(main, ["timescales", "due", "icpc", "--start", "2026-13-01"])
    assert bad.exit_code == 1 and "not a real date" in bad.output
    ics = tmp_path / "never.ics"
    bad = runner.invoke(
        main, ["timescales", "plan", "--event", "nope", "--date", "2026-01-14", "--ics", str(ics)]
    )
    assert bad.exit_code == 1 and not ics.exists()


def test_review_routes(server: str, signed_in: dict[str, dict[str, str]]) -> None:
    admin = httpx.Client(headers=signed_in["admin"], timeout=60)
    listed = admin.get(server + "/api/timescales/review").json()
    assert "icpc" in listed["events"]
    waiting = {p["id"]: p for p in listed["pending"]}
    target = next(i for i, p in waiting.items() if p["citation"]["paragraph"] == "11.1.1" and p["mapped"])
    bad = admin.post(
        server + "/api/timescales/review",
        json={"statement": target, "decision": "corrected", "by": "A. Lead", "correction": {"event": "x"}},
    )
    assert bad.status_code == 422 and "unknown event 'x'" in bad.json()["detail"]
    missing = admin.post(
        server + "/api/timescales/review", json={"statement": "nope", "decision": "approved", "by": "A. Lead"}
    )
    assert missing.status_code == 404
    nameless = admin.post(
        server + "/api/timescales/review", json={"statement": target, "decision": "approved"}
    )
    assert nameless.status_code == 422
    assert target in {r["id"] for r in httpx.get(server + "/api/timescales").json()["rules"]}
    done = admin.post(
        server + "/api/timescales/review",
        json={"statement": target, "decision": "rejected", "by": "A. Lead", "why": "repeats 7.5.17"},
    )
    assert done.status_code == 200 and done.json()["rule"] is None
    # the rules in use change at once, and the decision is listed
    assert target not in {r["id"] for r in httpx.get(server + "/api/timescales").json()["rules"]}
    after = admin.get(server + "/api/timescales/review").json()
    assert target not in {p["id"] for p in after["pending"]}
    assert after["reviewed"][0]["why"] == "repeats 7.5.17"
    # the decision is kept under the signed-in reviewer's name, not the name typed
    assert after["reviewed"][0]["by"] == "test-admin"
