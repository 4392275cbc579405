"""Reviewing timescales read from documents: CLI, durable store, re-ingest keeps or flags (issue 13)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.store import IndexLocation, ingest
from ingest.timescale_extract import Vocabulary
from safeguide.cli import main
from safeguide.settings import get_settings
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def _ingest(docs: Path, data: Path) -> None:
    vocabulary = Vocabulary.load(CORPUS / "events.toml")
    ingest([docs], IndexLocation(data / "index"), HashingEmbedder(), max_bytes=10**7, vocabulary=vocabulary)


@pytest.fixture
def area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("eastbrook_procedures.md", "eastbrook_procedures.toml"):
        shutil.copy(ROOT / "eval" / "area_docs" / name, docs / name)
    data = tmp_path / "data"
    _ingest(docs, data)
    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(data))
    monkeypatch.setenv("SAFEGUIDE_CORPUS_DIR", str(CORPUS))
    get_settings.cache_clear()
    yield docs, data
    get_settings.cache_clear()


def _pending() -> list[dict]:  # type: ignore[type-arg]
    out = CliRunner().invoke(main, ["timescales", "review", "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)["pending"]  # type: ignore[no-any-return]


def _at(pending: list[dict], where: str, unit: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in pending if p["citation"].get("paragraph") == where and p["unit"] == unit)


def _rules() -> dict:  # type: ignore[type-arg]
    from safeguide.services import build_rules

    get_settings.cache_clear()
    return {r.id: r for r in build_rules(get_settings()).rules.values() if r.authority == "eastbrook"}


def test_approve_correct_and_reject_change_the_rules_in_use(area: tuple[Path, Path]) -> None:
    runner = CliRunner()
    pending = _pending()
    icpc = _at(pending, "3.1", "working_days")
    assert (icpc["trigger"], icpc["event"], icpc["mapped"]) == ("strategy-discussion", "icpc", True)
    assert _rules()[icpc["id"]].status == "extracted"

    out = runner.invoke(
        main, ["timescales", "review", icpc["fingerprint"][:8], "--approve", "--by", "A. Lead"]
    )
    assert out.exit_code == 0 and out.stdout.startswith("approved by A. Lead"), out.output
    rule = _rules()[icpc["id"]]
    assert rule.status == "reviewed" and rule.note == "Reviewed by A. Lead"

    # A statement that did not map becomes a rule when the reviewer names its trigger and event.
    lado = _at(pending, "4.1", "working_days")
    assert not lado["mapped"] and lado["id"] not in _rules()
    out = runner.invoke(
        main,
        [
            "timescales",
            "review",
            lado["id"],
            "--correct",
            "trigger=allegation",
            "--by",
            "A. Lead",
            "--why",
            "4.1",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (_rules()[lado["id"]].trigger, _rules()[lado["id"]].status) == ("allegation", "reviewed")

    audit = _at(pending, "4.4", "months")
    out = runner.invoke(main, ["timescales", "review", audit["id"], "--reject", "--by", "A. Lead"])
    assert out.exit_code == 0, out.output
    assert audit["id"] not in _rules()
    assert len(_pending()) == len(pending) - 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--approve", "--by", "A. Lead"], "no statement read from the documents has the id 'nope'"),
        (["ANY", "--correct", "event=nonsense", "--by", "A. Lead"], "unknown event 'nonsense'"),
        (["ANY", "--correct", "amount=ten", "--by", "A. Lead"], "amount must be a whole number"),
        (["ANY", "--correct", "colour=red", "--by", "A. Lead"], "cannot correct colour"),
        (["ANY", "--approve"], "--by NAME is required"),
        (["ANY", "--approve", "--by", "A"], "at least 2 characters"),
    ],
)
def test_bad_reviews_are_one_line_errors_and_store_nothing(
    area: tuple[Path, Path], args: list[str], message: str
) -> None:
    ref = _at(_pending(), "3.1", "working_days")["fingerprint"]
    out = CliRunner().invoke(main, ["timescales", "review", *[ref if a == "ANY" else a for a in args]])
    assert out.exit_code != 0 and message in out.output, out.output
    assert "Traceback" not in out.output
    from safeguide.timescales.review import ReviewStore

    with get_settings().open_database() as db:
        store = ReviewStore(db)
        assert store.all() == {} and store.history() == []


def test_reingest_keeps_reviews_of_unchanged_statements_and_flags_changed_ones(
    area: tuple[Path, Path],
) -> None:
    docs, data = area
    runner = CliRunner()
    pending = _pending()
    for where in ("3.1", "2.1"):
        item = _at(pending, where, "working_days")
        out = runner.invoke(main, ["timescales", "review", item["id"], "--approve", "--by", "A. Lead"])
        assert out.exit_code == 0, out.output
    # 3.1 now says 8 working days; 2.1 is untouched.
    source = docs / "eastbrook_procedures.md"
    source.write_text(
        source.read_text(encoding="utf-8").replace(
            "within 10 working days of the strategy", "within 8 working days of the strategy"
        ),
        encoding="utf-8",
    )
    _ingest(docs, data)
    rules = _rules()
    kept = [r for r in rules.values() if r.citation.paragraph == "2.1"]
    assert [r.status for r in kept] == ["reviewed"]
    changed = [r for r in rules.values() if r.citation.paragraph == "3.1"]
    assert [(r.amount, r.status) for r in changed] == [(8, "extracted")]
    assert "changed since it was approved by A. Lead" in changed[0].note
    flagged = _at(_pending(), "3.1", "working_days")
    assert flagged["changed_since"].startswith("approved by A. Lead")
    from safeguide.timescales.review import ReviewStore

    with get_settings().open_database() as db:
        history = ReviewStore(db).history()
    assert [h["decision"] for h in history] == ["approved", "approved"]  # the record stays
