"""Edition comparison on the real index: the big four, every change backed by its sources, exports,
the chat route, the CLI, the API, and bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from eval.compare import load_labels, score
from ingest.lexical import tokenize
from safeguide.chat.chain import AnswerChain
from safeguide.compare.changes import (
    CHANGE_WORDS,
    GENERIC_WORDS,
    Comparison,
    classify,
    describe_edits,
    load_curated,
    split_pair,
    topic_matches,
)
from safeguide.compare.comparer import Comparer
from safeguide.compare.export import export
from safeguide.errors import CorpusError, InvalidQuery
from safeguide.retrieval.citations import normalise
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.timescales.calendar import default_calendar
from safeguide.timescales.rules import RuleSet
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow
RULES = RuleSet.load(CORPUS / "timescales.toml")
EDITIONS = ["pre-2010", "2010", "2013", "2015", "2018", "2023"]


def comparer(retriever: HybridRetriever, curated: Path = CORPUS / "changes.toml") -> Comparer:
    return Comparer(retriever.reader, RULES, curated, EDITIONS)


@pytest.fixture(scope="module")
def full(retriever: HybridRetriever) -> Comparison:
    return comparer(retriever).compare("2010", "2018")


# ---------------------------------------------------------------------------------------------- pure parts


def test_split_pair_and_word_edits() -> None:
    pair = split_pair(
        "Before: “A social worker and their manager, health professionals.” "
        "Now: “A social worker, health practitioners.”"
    )
    assert pair is not None
    before, now = pair
    assert before.startswith("A social worker and") and now.endswith("practitioners.")
    edits = describe_edits(before, now)
    assert (
        "removed “and their manager”" in " ".join(edits)
        or "“worker and their manager” → “worker”" in edits[0]
    )
    assert any("practitioners" in e for e in edits)
    assert split_pair("No pair here.") is None


def test_classify_reads_change_statements() -> None:
    assert classify("LSCBs will be replaced by safeguarding partners") == "replaced"
    assert classify("A new section on contextual safeguarding") == "new"
    assert classify("The Panel must decide whether to commission a review") == "changed"
    assert classify("Facts and myths about sharing") is None


def test_a_broken_curated_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "changes.toml"
    bad.write_text(
        '[[change]]\nid = "x"\nfrom = "2010"\nto = "2018"\ntopic = "t"\nkind = "gone"\nsummary = "s"\n'
    )
    with pytest.raises(CorpusError, match=r"changes\.toml"):
        load_curated(bad)
    bad.write_text("[[change]\n")
    with pytest.raises(CorpusError):
        load_curated(bad)


# ----------------------------------------------------------------------------------------- the real corpus


BIG_FOUR = {
    "lscb-to-safeguarding-partners": ("LSCBs", "safeguarding partners"),
    "scr-to-practice-reviews": ("purpose of a SCR", "replace Serious Case Reviews"),
    "cdop-to-child-death-review-partners": ("Child Death Overview Panel", "child death review partners"),
    "manager-dropped-strategy-discussion": (
        "social worker and their manager",
        "A local authority social worker,",
    ),
}


def test_the_big_four_are_there_with_both_sources(full: Comparison) -> None:
    by_id = {c.id: c for c in full.changes}
    for cid, (before_words, after_words) in BIG_FOUR.items():
        change = by_id[cid]
        assert change.before is not None and change.after is not None, cid
        assert normalise(before_words) in normalise(change.before.text), cid
        assert normalise(after_words) in normalise(change.after.text), cid
    assert by_id["lscb-to-safeguarding-partners"].before.edition == "2010"  # type: ignore[union-attr]
    assert by_id["lscb-to-safeguarding-partners"].after.edition == "2018"  # type: ignore[union-attr]
    assert not [n for n in full.notes if "curated change" in n]  # every curated change resolved


def test_no_change_cites_a_passage_without_the_words_it_summarises(full: Comparison) -> None:
    for change in full.changes + full.earlier:
        # Every content word of the summary is in the passages the change cites ...
        assert change.words_supported() == [], (change.id, change.summary)
        # ... and each cited passage (with its heading) holds some of the words the summary is about.
        key_words = set(tokenize(change.summary)) - CHANGE_WORDS - GENERIC_WORDS
        for side in (change.before, change.after):
            if side is not None:
                assert key_words & set(tokenize(f"{side.heading} {side.text}")), (change.id, side.citation)


def test_cited_texts_are_really_in_the_index(full: Comparison, retriever: HybridRetriever) -> None:
    reader = retriever.reader()
    texts = dict(zip(reader.ids, reader.texts, strict=True))
    for change in full.changes:
        for side in (change.before, change.after):
            if side is not None:
                assert normalise(side.text) in normalise(texts[side.chunk_id]), change.id


def test_earlier_changes_are_kept_apart(full: Comparison) -> None:
    assert full.earlier and all(c.after and c.after.edition == "2010" for c in full.earlier)
    assert all(c.after is None or c.after.edition != "2010" for c in full.changes if c.origin == "statement")
    # WT 2010's own "initial assessment from seven to ten working days" is a 2010 change, not a 2018 one.
    assert any("seven to ten working days" in c.summary for c in full.earlier)
    assert not any("seven to ten working days" in c.summary for c in full.changes)


def test_title_pages_are_not_changes(full: Comparison) -> None:
    assert not any("COMMENCE" in c.summary.upper() for c in full.changes)


def test_recall_and_precision_on_the_labelled_changes(full: Comparison) -> None:
    result = score(full.changes, load_labels())
    assert result["labels"] >= 20
    assert result["recall"] >= 0.9 and result["precision"] >= 0.85, result


def test_topic_filter(retriever: HybridRetriever) -> None:
    c = comparer(retriever)
    deaths = c.compare("2010", "2018", topic="child deaths")
    assert deaths.topic == "child deaths" and deaths.changes
    assert all(topic_matches(ch, "child deaths") for ch in deaths.changes)
    assert "cdop-to-child-death-review-partners" in {ch.id for ch in deaths.changes}
    assert "lscb-to-safeguarding-partners" not in {ch.id for ch in deaths.changes}
    assert c.compare("2010", "2018", topic="conferences").changes == []


def test_timescale_differences_come_from_the_rules(retriever: HybridRetriever) -> None:
    c = comparer(retriever).compare("pre-2010", "2010")
    timescales = [ch for ch in c.changes if ch.origin == "timescales"]
    assert timescales, c.notes
    scr = next(ch for ch in timescales if ch.id == "timescale-scr-completed")
    assert "4 months" in scr.summary and "6 months" in scr.summary
    assert scr.before is not None and scr.after is not None
    assert any(
        "no national timescale for edition 2018" in n
        for n in comparer(retriever).compare("2010", "2018").notes
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("2018", "2010", "older edition"),
        ("2010", "2010", "older edition"),
        ("1999", "2018", "unknown edition"),
    ],
)
def test_bad_editions_are_clear_errors(retriever: HybridRetriever, old: str, new: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        comparer(retriever).compare(old, new)


def test_an_unresolvable_curated_change_is_left_out_and_said(
    retriever: HybridRetriever, tmp_path: Path
) -> None:
    text = (
        (CORPUS / "changes.toml")
        .read_text()
        .replace("strengthen transparency and accountability of LSCBs", "words that are in no paragraph")
    )
    (tmp_path / "changes.toml").write_text(text)
    c = comparer(retriever, tmp_path / "changes.toml").compare("2010", "2018")
    assert "lscb-to-safeguarding-partners" not in {ch.id for ch in c.changes}
    assert any("lscb-to-safeguarding-partners" in n for n in c.notes)


# ------------------------------------------------------------------------------------------------- exports


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_exports_keep_every_change_and_escape(full: Comparison) -> None:
    hostile = full.model_copy(deep=True)
    hostile.changes[0].summary = '<script>alert(1)</script> a, "quoted" | *md*'
    md, media = export(hostile, "md")
    assert media.startswith("text/markdown") and "\\<script\\>" in md and "\\|" in md
    rows = list(csv.DictReader(io.StringIO(export(hostile, "csv")[0].lstrip("\ufeff"))))
    assert len(rows) == len(full.changes) + len(full.earlier)
    assert rows[0]["summary"] == hostile.changes[0].summary and rows[0]["before_text"]
    html, _ = export(hostile, "html")
    parser = _Text()
    parser.feed(html)
    assert "script" not in parser.tags and "<script>alert(1)</script>" in "".join(parser.text)
    with pytest.raises(InvalidQuery):
        export(full, "pdf")


# ------------------------------------------------------------------------------------------ chat, CLI, API


def test_chat_answers_what_changed_from_the_comparison(retriever: HybridRetriever) -> None:
    chain = AnswerChain(retriever, RULES, lambda area: default_calendar(), comparer=comparer(retriever))
    a = chain.answer("What changed about child deaths between 2010 and 2018?")
    assert "child death review partners" in a.answer and "[1]" in a.answer
    assert a.provenance["comparison"]["changes"][0] == "cdop-to-child-death-review-partners"
    assert {c.edition for c in a.citations} == {"2010", "2018"}
    none = chain.answer("What changed about conferences between 2010 and 2018?")
    assert "finds no change about “conferences”" in none.answer and not none.citations
    # One edition named: compared with the edition before it that the index holds.
    one = chain.answer("What replaced Local Safeguarding Children Boards in the 2018 guidance?")
    assert one.provenance["comparison"]["from"] == "2010" and "safeguarding partners" in one.answer
    # The briefing's own "Before" quotes are labelled as the briefing's, not as WT 2010's wording.
    words = chain.answer("How did the wording about supervision change in the 2018 guidance?")
    assert "Before, as WT 2018 briefing quotes it: “Effective professional supervision" in words.answer
    assert "Before (WT 2010): “Effective professional" not in words.answer
    # A one-edition question the comparison cannot answer goes to ordinary retrieval.
    other = chain.answer("Did Working Together 2010 change the time allowed for initial assessments?")
    assert "comparison" not in other.provenance and "10 working days" in other.answer


def _cli(corpus_index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFEGUIDE_DATA_DIR": str(corpus_index), "SAFEGUIDE_CORPUS_DIR": str(CORPUS)}
    return subprocess.run(
        [sys.executable, "-m", "safeguide", "compare", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_compare_writes_each_format(corpus_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "changes.html"
    done = _cli(corpus_index, "--from", "2010", "--to", "2018", "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "changes" in done.stderr and out.read_text().startswith("<!doctype html>")
    done = _cli(corpus_index, "--topic", "child deaths", "--format", "json")
    data = json.loads(done.stdout)
    assert data["from"] == "2010" and data["to"] == "2018" and data["changes"]
    bad = _cli(corpus_index, "--from", "2018", "--to", "2010", "--out", str(tmp_path / "x.md"))
    assert bad.returncode != 0 and "older edition" in bad.stderr and not (tmp_path / "x.md").exists()


def test_api_compare_contract(server: str) -> None:
    r = httpx.get(server + "/api/compare", params={"from": "2010", "to": "2018", "topic": "child deaths"})
    assert r.status_code == 200
    body = r.json()
    assert body["from"] == "2010" and body["to"] == "2018"
    change = body["changes"][0]
    assert {"id", "topic", "kind", "summary", "before", "after"} <= set(change)
    assert {"doc_id", "paragraph", "citation", "text"} <= set(change["after"])
    r = httpx.get(server + "/api/compare/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert httpx.get(server + "/api/compare", params={"from": "2018", "to": "2010"}).status_code == 422
    assert httpx.get(server + "/api/compare/export", params={"format": "exe"}).status_code == 422
    assert httpx.get(server + "/api/compare", params={"topic": "x" * 500}).status_code == 422


def test_summaries_are_words_of_the_sources_not_invented() -> None:
    # The support check itself must be able to fail.
    from safeguide.compare.changes import Change, CitedSide

    side = CitedSide(
        doc_id="d", paragraph=None, heading="h", citation="c", edition="2018", text="Panels review deaths.",
        chunk_id="x",
    )  # fmt: skip
    bad = Change(
        id="x", topic="t", kind="new", summary="Panels review deaths within 15 working days", before=None,
        after=side,
    )  # fmt: skip
    assert set(bad.words_supported()) == {"15", "working", "within", "days"}


def test_model_summaries_are_kept_only_when_their_sources_hold_every_word(retriever: HybridRetriever) -> None:
    from tests.fakes import ScriptedModel

    def run(draft: str) -> Comparison:
        c = Comparer(retriever.reader, RULES, CORPUS / "changes.toml", EDITIONS, model=ScriptedModel(draft))
        return c.compare("2010", "2018", topic="child deaths", summaries="model")

    plain = comparer(retriever).compare("2010", "2018", topic="child deaths")
    good = run("Child death review partners now review child deaths")
    written = [c for c in good.changes if c.summary_by == "model"]
    assert written and all(
        c.summary == "Child death review partners now review child deaths" for c in written
    )
    assert all(c.words_supported() == [] for c in good.changes)
    assert next(c for c in good.changes if c.origin == "curated").summary_by == "curated"
    invented = run("Child deaths must now be reviewed within 20 working days by the coroner")
    assert [c.summary for c in invented.changes] == [c.summary for c in plain.changes]
    assert any("replaced by quotations" in n for n in invented.notes)
    with pytest.raises(InvalidQuery, match="need a model"):
        comparer(retriever).compare("2010", "2018", summaries="model")
