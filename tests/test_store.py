"""The index on disk: incremental by hash, atomic switch, and a killed ingest leaves the old index serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.store import IndexLocation, ingest
from safeguide.errors import CorpusError, UnsupportedDocument
from safeguide.retrieval.hybrid import Filters, HybridRetriever
from tests.conftest import REPO
from tests.fakes import HashingEmbedder

S3 = "003_a2ea61cae8fecd8a"
S4 = "004_da39fd33e650c75b"


def run(corpus: Path, location: IndexLocation):  # type: ignore[no-untyped-def]
    return ingest([corpus], location, HashingEmbedder(), max_bytes=10**8)


def test_incremental_ingest_skips_unchanged_and_replaces_changed(corpus_copy: Path, tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index")
    first = run(corpus_copy, location)
    assert len(first.added) == 5 and first.chunks == 165 + 214 + 379 + 76 + 33
    again = run(corpus_copy, location)
    assert again.up_to_date and again.build == first.build

    with open(corpus_copy / f"{S3}.txt", "a", encoding="utf-8") as fh:
        fh.write("\n75. A new closing paragraph about the review of this procedure every year.\n")
    changed = run(corpus_copy, location)
    assert changed.changed == ["staffordshire-part6"] and len(changed.unchanged) == 4
    assert changed.build != first.build
    state = location.read_state(location.current_build())
    assert state["staffordshire-part6"].chunks == 77
    retriever = HybridRetriever(location, HashingEmbedder())
    hits = retriever.search(
        "new closing paragraph review of this procedure every year",
        k=1,
        filters=Filters(doc_id="staffordshire-part6"),
    )
    assert hits[0].paragraph == "75" and hits[0].citation == "Staffordshire Part 6 ¶75"
    # The build that served before stays until the next switch (readers may still hold it); older ones go.
    assert {p.name for p in location.builds.iterdir()} == {first.build, changed.build}


def test_removed_document_leaves_the_index(corpus_copy: Path, tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index")
    run(corpus_copy, location)
    (corpus_copy / f"{S4}.txt").unlink()
    report = run(corpus_copy, location)
    assert report.removed == ["wt2018-briefing"]
    retriever = HybridRetriever(location, HashingEmbedder())
    assert "wt2018-briefing" not in retriever.reader().doc_ids
    assert retriever.reader().editions == ["2010", "pre-2010"]


def test_bad_file_changes_nothing(corpus_copy: Path, tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index")
    first = run(corpus_copy, location)
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus_copy / "broken.toml").write_text(
        'id = "broken"\ntitle = "Broken"\nlabel = "Broken"\nkind = "briefing"\nedition = "2018"\n'
        'authority = "national"\n'
    )
    with pytest.raises(UnsupportedDocument, match=r"broken\.pdf"):
        run(corpus_copy, location)
    assert location.current_build() is not None and location.current_build().name == first.build  # type: ignore[union-attr]
    assert [p.name for p in location.builds.iterdir()] == [first.build]


def test_missing_manifest_changes_nothing(corpus_copy: Path, tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index")
    first = run(corpus_copy, location)
    (corpus_copy / "ours.md").write_text("# Our rule\n\nWe visit weekly.\n")
    with pytest.raises(CorpusError, match=r"ours\.toml"):
        run(corpus_copy, location)
    assert location.current_build().name == first.build  # type: ignore[union-attr]


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no documents found"):
        run(tmp_path / "empty", IndexLocation(tmp_path / "index"))


@pytest.mark.slow
def test_killed_ingest_leaves_previous_index_serving(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Index one document, then kill a real `safeguide ingest` of the whole corpus while it embeds."""
    small = tmp_path / "corpus"
    small.mkdir()
    for suffix in (".txt", ".toml"):
        (small / f"{S4}{suffix}").write_bytes((REPO / "corpus" / f"{S4}{suffix}").read_bytes())
    location = IndexLocation(tmp_path / "data" / "index")
    first = ingest([small], location, embedder, max_bytes=10**8)
    before = HybridRetriever(location, embedder).search("what replaces serious case reviews", k=3)

    for name in os.listdir(REPO / "corpus"):
        (small / name).write_bytes((REPO / "corpus" / name).read_bytes())
    env = {**os.environ, "SAFEGUIDE_DATA_DIR": str(tmp_path / "data"), "SAFEGUIDE_CORPUS_DIR": str(small)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "safeguide", "ingest"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            builds = [p for p in location.builds.iterdir() if p.name != first.build]
            if builds and any(builds[0].iterdir()):
                break
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.1)
        else:
            pytest.fail("the ingest never started a new build")
        time.sleep(1.0)  # well inside the ~25 s of embedding
        assert proc.poll() is None, "ingest finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]

    assert location.current_build().name == first.build  # type: ignore[union-attr]
    after = HybridRetriever(location, embedder).search("what replaces serious case reviews", k=3)
    assert [r.chunk_id for r in after] == [r.chunk_id for r in before]
    assert len(list(location.builds.iterdir())) == 2  # the half-built folder is still there...
    (small / f"{S3}.txt").unlink()  # ...until the next ingest, which cleans it up before building
    for name in os.listdir(small):
        if not name.startswith(S4):
            (small / name).unlink()
    report = ingest([small], location, embedder, max_bytes=10**8)
    assert report.up_to_date
    assert [p.name for p in location.builds.iterdir()] == [first.build]


def test_a_new_pipeline_reingests_unchanged_documents(corpus_copy: Path, tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index")
    run(corpus_copy, location)
    report = ingest([corpus_copy], location, HashingEmbedder(), max_bytes=10**8, max_chars=600)
    assert sorted(report.changed) == sorted(location.read_state(location.current_build()))
    assert not report.unchanged
    longest = max(len(t) for t in HybridRetriever(location, HashingEmbedder()).reader().texts)
    assert longest > 600  # Before/Now pairs are never split...
    state = location.read_state(location.current_build())
    assert state["hampshire-csd-2011"].chunks > 379  # ...but long numbered paragraphs are


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.calls += len(texts)
        return super().embed_documents(texts)


def test_a_changed_vocabulary_rereads_timescales_without_reembedding(tmp_path: Path) -> None:
    import shutil

    from ingest.timescale_extract import Vocabulary

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("westmarsh_procedures.pdf", "westmarsh_procedures.toml"):
        shutil.copy(REPO / "eval" / "area_docs" / name, docs / name)
    full = (REPO / "corpus" / "events.toml").read_text(encoding="utf-8")
    vocab_file = tmp_path / "events.toml"
    # Without the phrases for a single assessment, paragraph 4.2's timescale cannot be mapped.
    line = next(x for x in full.splitlines() if '"single assessment"' in x)
    vocab_file.write_text(full.replace(line, 'phrases = ["assessment finished"]'), encoding="utf-8")
    location = IndexLocation(tmp_path / "index")
    embedder = CountingEmbedder()
    ingest([docs], location, embedder, max_bytes=10**8, vocabulary=Vocabulary.load(vocab_file))
    state = location.read_state(location.current_build())["westmarsh-procedures-2026"]
    assert "4.2" in {u["where"] for u in state.unmapped_timescales}
    assert all(r["citation"].get("paragraph") != "4.2" for r in state.timescales)
    embedded = embedder.calls

    vocab_file.write_text(full, encoding="utf-8")
    report = ingest([docs], location, embedder, max_bytes=10**8, vocabulary=Vocabulary.load(vocab_file))
    assert report.unchanged == ["westmarsh-procedures-2026"] and not report.up_to_date
    assert embedder.calls == embedded  # nothing embedded again
    state = location.read_state(location.current_build())["westmarsh-procedures-2026"]
    assessment = [r for r in state.timescales if r["citation"].get("paragraph") == "4.2"]
    assert [(r["event"], r["amount"], r["unit"]) for r in assessment] == [
        ("assessment-completed", 35, "working_days")
    ]
    # the same vocabulary again: nothing to do
    assert ingest(
        [docs], location, embedder, max_bytes=10**8, vocabulary=Vocabulary.load(vocab_file)
    ).up_to_date
