"""The tuned embedder kept with a build (issue 14): made from the build's passages, reused when they have
not changed, written whole or not at all, and used only to reorder the first five search results."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.embedder import SentenceTransformerEmbedder, packaged_model_path
from ingest.store import IndexLocation, ingest
from safeguide.retrieval import hybrid, tuning
from safeguide.retrieval.hybrid import Filters, HybridRetriever, IndexReader
from safeguide.retrieval.tuning import TUNED_DIR, passages_key, tune_build
from safeguide.settings import Settings
from tests.fakes import HashingEmbedder

BRIEFING = "004_da39fd33e650c75b"  # the 2018 briefing: 76 passages
QUESTIONS = [
    "What replaced Local Safeguarding Children Boards?",
    "who are the three safeguarding partners",
    "When does the revised guidance commence?",
    "what must schools and colleges do",
    "child death reviews: who is responsible now?",
    "contextual safeguarding and risks outside the family",
]


@pytest.fixture
def small_index(corpus_copy: Path, tmp_path: Path) -> IndexLocation:
    for f in corpus_copy.glob("00*"):
        if not f.name.startswith(BRIEFING):
            f.unlink()
    location = IndexLocation(tmp_path / "index")
    ingest([corpus_copy], location, HashingEmbedder(), max_bytes=10**8)
    return location


def _reader(location: IndexLocation) -> IndexReader:
    build = location.current_build()
    assert build is not None
    return IndexReader(build, HashingEmbedder())


def _lend_model(location: IndexLocation, vectors: np.ndarray | None = None) -> Path:
    """A complete tuned folder made by hand: the packaged model stands in for a tuned one (a real
    sentence-transformers folder), with its own vectors of the passages unless `vectors` is given."""
    reader = _reader(location)
    folder = reader.build / TUNED_DIR
    shutil.copytree(packaged_model_path(), folder / "model")
    if vectors is None:
        vectors = SentenceTransformerEmbedder(folder / "model").embed_documents(reader.texts)
    np.save(folder / "vectors.npy", vectors.astype(np.float32))
    (folder / "ids.json").write_text(json.dumps(reader.ids), encoding="utf-8")
    (folder / "key.txt").write_text(passages_key(reader.ids, reader.texts, reader.metas), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_the_tuned_model_reorders_only_the_first_five(small_index: IndexLocation) -> None:
    plain = HybridRetriever(small_index, HashingEmbedder(), tuned_reorder=False)
    before = {q: [r.chunk_id for r in plain.search(q, k=10)] for q in QUESTIONS}
    _lend_model(small_index)
    tuned = HybridRetriever(small_index, HashingEmbedder())
    moved = 0
    for q in QUESTIONS:
        results = tuned.search(q, k=10)
        after = [r.chunk_id for r in results]
        assert set(after[:5]) == set(before[q][:5]) and after[5:] == before[q][5:], q
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
        moved += after != before[q]
    assert moved, "the tuned model changed no order at all: it is not being used"


@pytest.mark.slow
def test_the_tuned_vote_lifts_the_passage_it_ranks_first(
    small_index: IndexLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = QUESTIONS[0]
    plain = HybridRetriever(small_index, HashingEmbedder(), tuned_reorder=False)
    first_five = [r.chunk_id for r in plain.search(question, k=5)]
    reader = _reader(small_index)
    favourite = reader.position[first_five[3]]
    # Every passage points away from the question but the favourite, which is the question itself.
    model = SentenceTransformerEmbedder(packaged_model_path())
    query = model.embed_query(question)
    vectors = np.tile(-query, (len(reader.ids), 1))
    vectors[favourite] = query
    _lend_model(small_index, vectors)
    monkeypatch.setattr(hybrid, "TUNED_DEPTH", 1)  # only the tuned model's nearest gets a vote
    got = [r.chunk_id for r in HybridRetriever(small_index, HashingEmbedder()).search(question, k=5)]
    assert got == [first_five[3], *first_five[:3], first_five[4]]


@pytest.mark.slow
def test_filters_hold_in_the_tuned_ranking(small_index: IndexLocation) -> None:
    _lend_model(small_index)
    tuned = HybridRetriever(small_index, HashingEmbedder())
    results = tuned.search(QUESTIONS[1], k=8, filters=Filters(edition="2018"))
    assert results and all(r.edition == "2018" for r in results)


def test_no_tuned_folder_or_a_broken_one_keeps_the_hybrid_order(small_index: IndexLocation) -> None:
    plain = HybridRetriever(small_index, HashingEmbedder(), tuned_reorder=False)
    before = [r.chunk_id for r in plain.search(QUESTIONS[2], k=10)]
    default = HybridRetriever(small_index, HashingEmbedder())
    assert [r.chunk_id for r in default.search(QUESTIONS[2], k=10)] == before
    # A folder for other passages (a stale copy): not used, and the search still answers.
    build = _reader(small_index).build
    folder = build / TUNED_DIR
    folder.mkdir()
    (folder / "ids.json").write_text(json.dumps(["someone-else"]), encoding="utf-8")
    np.save(folder / "vectors.npy", np.zeros((1, 384), dtype=np.float32))
    (folder / "key.txt").write_text("stale", encoding="utf-8")
    retriever = HybridRetriever(small_index, HashingEmbedder())
    assert [r.chunk_id for r in retriever.search(QUESTIONS[2], k=10)] == before
    assert retriever.reader().tuned() is None


@pytest.mark.slow
def test_tuning_trains_once_and_reuses_the_model_for_the_same_passages(
    small_index: IndexLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "MAX_PAIRS", 24)  # a real fine-tune, kept short for the test
    reader = _reader(small_index)
    first = tune_build(reader.build, reader.ids, reader.texts, reader.metas, packaged_model_path())
    assert first.how == "trained" and first.pairs == 24
    folder = reader.build / TUNED_DIR
    assert {p.name for p in folder.iterdir()} == {"model", "vectors.npy", "ids.json", "key.txt"}
    assert np.load(folder / "vectors.npy").shape == (len(reader.ids), 384)
    assert not [p for p in reader.build.iterdir() if ".tmp-" in p.name]

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again for the same passages")

    monkeypatch.setattr(tuning, "fine_tune", no_training)
    again = tune_build(reader.build, reader.ids, reader.texts, reader.metas, packaged_model_path())
    assert again.how == "up to date"
    # A new build of the same passages (a re-read of timescales) borrows the model.
    twin = reader.build.parent / "twin-build"
    twin.mkdir()
    lent = tune_build(twin, reader.ids, reader.texts, reader.metas, packaged_model_path())
    assert lent.how == "reused" and (twin / TUNED_DIR / "key.txt").read_text() == first.key
    loaded = tuning.load_tuned(folder, reader.position)
    assert loaded is not None and loaded.matrix.shape == (len(reader.ids), 384)


@pytest.mark.slow
def test_a_failed_tuning_leaves_no_folder(
    small_index: IndexLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tuning, "fine_tune", broken)
    reader = _reader(small_index)
    with pytest.raises(RuntimeError):
        tune_build(reader.build, reader.ids, reader.texts, reader.metas, packaged_model_path())
    assert [p.name for p in reader.build.iterdir() if p.name.startswith(TUNED_DIR)] == []


class _HashingWithBase(HashingEmbedder):
    """The fast fake for the index, naming the real model folder a tuned embedder starts from."""

    model_path = packaged_model_path()


@pytest.mark.slow
def test_an_ingest_tunes_unless_told_not_to(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safeguide.services import ingest_paths
    from safeguide.settings import Settings

    monkeypatch.setattr(tuning, "MAX_PAIRS", 16)
    for f in corpus_copy.glob("00*"):
        if not f.name.startswith(BRIEFING):
            f.unlink()
    off = Settings(data_dir=tmp_path / "off", corpus_dir=corpus_copy, tune_embedder=False)
    report = ingest_paths(off, [corpus_copy], _HashingWithBase())
    assert report.tuning is None and not list((tmp_path / "off").rglob(TUNED_DIR))
    on = Settings(data_dir=tmp_path / "on", corpus_dir=corpus_copy, tune_embedder=True)
    report = ingest_paths(on, [corpus_copy], _HashingWithBase())
    assert report.tuning is not None and report.tuning.how == "trained"
    again = ingest_paths(on, [corpus_copy], _HashingWithBase())
    assert again.up_to_date and again.tuning is not None and again.tuning.how == "up to date"
    retriever = HybridRetriever(IndexLocation(on.index_root), HashingEmbedder())
    assert retriever.reader().tuned() is not None


@pytest.mark.slow
def test_a_failed_tuning_does_not_fail_the_ingest_it_follows(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safeguide.services import ingest_paths
    from safeguide.settings import Settings

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tuning, "fine_tune", broken)
    for f in corpus_copy.glob("00*"):
        if not f.name.startswith(BRIEFING):
            f.unlink()
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_copy, tune_embedder=True)
    report = ingest_paths(settings, [corpus_copy], _HashingWithBase())
    assert report.build and report.tuning is not None
    assert report.tuning.how.startswith("failed (RuntimeError: out of memory)")
    retriever = HybridRetriever(IndexLocation(settings.index_root), HashingEmbedder())
    assert retriever.reader().tuned() is None and retriever.search(QUESTIONS[0], k=3)


@pytest.mark.slow
def test_a_failing_tuned_model_costs_the_reordering_not_the_search(small_index: IndexLocation) -> None:
    plain = HybridRetriever(small_index, HashingEmbedder(), tuned_reorder=False)
    before = [r.chunk_id for r in plain.search(QUESTIONS[0], k=10)]
    _lend_model(small_index)
    retriever = HybridRetriever(small_index, HashingEmbedder())
    loaded = retriever.reader().tuned()
    assert loaded is not None

    def broken(text: str) -> np.ndarray:
        raise RuntimeError("model crashed")

    loaded.embedder.embed_query = broken  # type: ignore[method-assign]
    assert [r.chunk_id for r in retriever.search(QUESTIONS[0], k=10)] == before


# --- Tuned behind the answers: `safeguide ingest --tune-later`, then the server's BackgroundTuning ----------


def _untuned_briefing(corpus_copy: Path, data: Path, embedder: object, **settings: object) -> Settings:
    """A one-document index made as `make run` makes it: ingested with the real embedder, not tuned."""
    from safeguide.services import ingest_paths

    for f in corpus_copy.glob("00*"):
        if not f.name.startswith(BRIEFING):
            f.unlink()
    made = Settings(data_dir=data, corpus_dir=corpus_copy, tune_embedder=True, **settings)  # type: ignore[arg-type]
    report = ingest_paths(made, [corpus_copy], embedder, tune=False)  # type: ignore[arg-type]
    assert report.build and report.tuning is None
    return made


@pytest.mark.slow
def test_a_server_answers_at_once_and_tunes_the_embedder_behind(
    corpus_copy: Path, tmp_path: Path, output_dir: Path, embedder: object
) -> None:
    import httpx

    from tests.servers import make_users, running_server

    data = tmp_path / "data"
    settings = _untuned_briefing(corpus_copy, data, embedder)
    build = IndexLocation(settings.index_root).current_build()
    assert build is not None and not (build / TUNED_DIR).exists()
    headers = make_users(data)["practitioner"]
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(corpus_copy),
        "SAFEGUIDE_TUNE_EMBEDDER": "1",
        "SAFEGUIDE_TUNE_MAX_PAIRS": "16",  # a real fine-tune, kept short for the test
    }
    with running_server(env, output_dir / "api-server-tune-behind.log") as url:
        # Answering while the child process is still loading torch: the hybrid order, no waiting.
        assert httpx.get(url + "/healthz").json()["tuned_embedder"] == "tuning in the background"
        r = httpx.post(url + "/api/search", json={"query": QUESTIONS[0]}, headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["results"]
        deadline = time.monotonic() + 300
        while httpx.get(url + "/healthz").json()["tuned_embedder"] != "ready":
            assert time.monotonic() < deadline, (settings.index_root / "tune.log").read_text()[-2000:]
            time.sleep(1)
        r = httpx.post(url + "/api/search", json={"query": QUESTIONS[0]}, headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["results"]
    told = (settings.index_root / "tune.log").read_text()
    assert f"build {build.name}: tuned embedder: trained on 16 pairs" in told
    assert HybridRetriever(IndexLocation(settings.index_root), HashingEmbedder()).reader().tuned() is not None
    assert not list(build.glob(f"{TUNED_DIR}.tmp-*"))


@pytest.mark.slow
def test_a_stopped_background_tuning_leaves_nothing_half_written(
    corpus_copy: Path, tmp_path: Path, embedder: object
) -> None:
    import fcntl

    from safeguide.services import TUNE_LOCK, BackgroundTuning

    settings = _untuned_briefing(corpus_copy, tmp_path / "data", embedder)
    build = IndexLocation(settings.index_root).current_build()
    assert build is not None
    tuning = BackgroundTuning(settings)
    assert tuning.wanted() and tuning.start() and tuning.running()
    deadline = time.monotonic() + 120
    while not list(build.glob(f"{TUNED_DIR}.tmp-*")):  # at work: pairs made, the model training
        assert tuning.running(), tuning.log_path.read_text()[-2000:]
        assert time.monotonic() < deadline, tuning.log_path.read_text()[-2000:]
        time.sleep(0.2)
    tuning.stop()
    assert not tuning.running()
    assert not list(build.glob(f"{TUNED_DIR}*")), "a stopped tuning left a folder behind"
    assert tuning.wanted()  # still to do: the next server start tunes it
    with open(settings.index_root / TUNE_LOCK, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again: raises if still held


def test_tune_without_an_index_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from safeguide.cli import main
    from safeguide.settings import get_settings

    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(tmp_path / "none"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["tune"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "run `safeguide ingest` first" in result.output
    assert "Traceback" not in result.output
