"""Chroma in client/server mode, on a real `chroma run` started here on loopback: the same ingest (build
aside, switch atomically, old builds collected) and the same search as the embedded default, and a
server that stops answering gives clear 503s, keeps the 999 notice, and is used again once it is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from ingest.store import IndexLocation, ingest
from safeguide.errors import StoreUnavailable
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.safety import EMERGENCY_NOTICE
from tests.conftest import CORPUS, REPO
from tests.fakes import HashingEmbedder
from tests.servers import ChromaServer, chroma_server, free_loopback_port, running_process

S3 = "003_a2ea61cae8fecd8a"
QUERIES = [
    "How often does the core group meet?",
    "who chairs the initial child protection conference",
    "strategy discussion within one working day",
    "what happens when a child on a plan moves to another area",
]


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    with chroma_server(tmp_path) as server:
        yield server


def _ingest(corpus: Path, location: IndexLocation, embedder: object = None):  # type: ignore[no-untyped-def]
    return ingest([corpus], location, embedder or HashingEmbedder(), max_bytes=10**8)  # type: ignore[arg-type]


def test_the_same_ingest_and_search_on_a_chroma_server(
    corpus_copy: Path, tmp_path: Path, chroma: ChromaServer
) -> None:
    embedded = IndexLocation(tmp_path / "embedded")
    served = IndexLocation(tmp_path / "served", chroma.url)
    first = _ingest(corpus_copy, served)
    _ingest(corpus_copy, embedded)
    assert chroma.collections() == {f"safeguide-{first.build}"}
    assert not (served.builds / first.build / "chroma.sqlite3").exists()  # the vectors are on the server
    # The same passages come back. Not always in exactly the same order below the first: each mode has
    # its own approximate (HNSW) index, and a fresh clone once gave another fourth passage for one query.
    for query in QUERIES:
        a = [r.chunk_id for r in HybridRetriever(embedded, HashingEmbedder()).search(query, k=5)]
        b = [r.chunk_id for r in HybridRetriever(served, HashingEmbedder()).search(query, k=5)]
        assert a[0] == b[0] and len(set(a) & set(b)) >= 4, (query, a, b)

    # A changed document: a new build beside the serving one, then the switch; older collections go.
    with open(corpus_copy / f"{S3}.txt", "a", encoding="utf-8") as fh:
        fh.write("\n75. A new closing paragraph about the review of this procedure every year.\n")
    second = _ingest(corpus_copy, served)
    assert second.changed == ["staffordshire-part6"] and second.build != first.build
    assert chroma.collections() == {f"safeguide-{first.build}", f"safeguide-{second.build}"}
    hit = HybridRetriever(served, HashingEmbedder()).search("new closing paragraph review every year", k=1)
    assert hit[0].paragraph == "75"
    (corpus_copy / f"{S3}.txt").unlink()
    third = _ingest(corpus_copy, served)
    assert third.removed == ["staffordshire-part6"]
    assert chroma.collections() == {f"safeguide-{second.build}", f"safeguide-{third.build}"}


class FailingEmbedder(HashingEmbedder):
    """Embeds a few batches, then fails: an ingest that dies half-way."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.left = after

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("embedding failed half-way")
        return super().embed_documents(texts)


def test_an_ingest_that_fails_half_way_leaves_the_serving_build_on_the_server(
    corpus_copy: Path, tmp_path: Path, chroma: ChromaServer
) -> None:
    served = IndexLocation(tmp_path / "served", chroma.url)
    first = _ingest(corpus_copy, served)
    before = [r.chunk_id for r in HybridRetriever(served, HashingEmbedder()).search(QUERIES[0], k=5)]
    with open(corpus_copy / f"{S3}.txt", "a", encoding="utf-8") as fh:
        fh.write("\n75. A new closing paragraph about the review of this procedure every year.\n")
    (corpus_copy / "004_da39fd33e650c75b.txt").write_text(
        (CORPUS / "004_da39fd33e650c75b.txt").read_text(encoding="utf-8") + "\nA closing line.\n",
        encoding="utf-8",
    )
    with pytest.raises(RuntimeError, match="half-way"):
        _ingest(corpus_copy, served, FailingEmbedder(after=1))
    assert served.current_build() is not None and served.current_build().name == first.build  # type: ignore[union-attr]
    assert len(chroma.collections()) == 2  # the serving one and the half-built one
    after = [r.chunk_id for r in HybridRetriever(served, HashingEmbedder()).search(QUERIES[0], k=5)]
    assert after == before
    fixed = _ingest(corpus_copy, served)  # the next ingest removes the half-built collection
    assert chroma.collections() == {f"safeguide-{first.build}", f"safeguide-{fixed.build}"}


def test_a_server_started_on_an_empty_folder_is_refilled_by_the_next_ingest(
    corpus_copy: Path, tmp_path: Path
) -> None:
    with chroma_server(tmp_path / "a") as chroma:
        served = IndexLocation(tmp_path / "served", chroma.url)
        _ingest(corpus_copy, served)
    with chroma_server(tmp_path / "b") as empty:
        served = IndexLocation(tmp_path / "served", empty.url)
        with pytest.raises(StoreUnavailable, match="holds no collection"):
            HybridRetriever(served, HashingEmbedder()).search(QUERIES[0], k=5)
        again = _ingest(corpus_copy, served)
        assert len(again.added) == 5 or len(again.changed) == 5  # everything embedded again
        assert HybridRetriever(served, HashingEmbedder()).search(QUERIES[0], k=5)


def test_no_chroma_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"
    with pytest.raises(StoreUnavailable, match="not answering"):
        _ingest(CORPUS, IndexLocation(tmp_path / "index", url))


@pytest.mark.slow
def test_the_app_on_a_chroma_server_gives_503s_while_it_is_down_and_recovers(
    tmp_path: Path, output_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    for doc in corpus.glob("00*.txt"):  # one document keeps the ingest short: Staffordshire, 76 chunks
        if doc.stem != S3:
            doc.unlink()
            doc.with_suffix(".toml").unlink()
    with chroma_server(tmp_path) as chroma:
        env = {
            "SAFEGUIDE_DATA_DIR": str(tmp_path / "data"),
            "SAFEGUIDE_CORPUS_DIR": str(corpus),
            "SAFEGUIDE_CHROMA_URL": chroma.url,
            "SAFEGUIDE_LLM_BACKEND": "extractive",
        }
        done = subprocess.run(
            [sys.executable, "-m", "safeguide", "ingest"],
            env={**os.environ, **env},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        with running_process(env, output_dir / "api-chroma-server.log", timeout=120) as (url, _):
            health = httpx.get(url + "/healthz", timeout=10).json()
            assert health["store"] == f"chroma server {chroma.url}" and health["chunks"] == 76
            query = {"query": "How often does the core group meet?", "k": 3}
            r = httpx.post(url + "/api/search", json=query, timeout=30)
            assert r.status_code == 200 and r.json()["results"][0]["doc_id"] == "staffordshire-part6"

            chroma.stop()
            r = httpx.post(url + "/api/search", json=query, timeout=30)
            assert r.status_code == 503 and "Chroma server" in r.json()["detail"], r.text
            assert httpx.get(url + "/healthz", timeout=30).status_code == 503
            r = httpx.post(url + "/api/ask", json={"question": query["query"]}, timeout=60)
            assert r.status_code == 503 and "Chroma server" in r.json()["detail"], r.text
            danger = {"question": "he's got a knife and the kids are upstairs, when does the core group meet"}
            r = httpx.post(url + "/api/ask", json=danger, timeout=60)
            assert r.status_code == 503 and r.json()["notices"][0] == EMERGENCY_NOTICE, r.text

            chroma.start()  # the same folder and port: the same collection, found again
            r = httpx.post(url + "/api/search", json=query, timeout=30)
            assert r.status_code == 200 and r.json()["results"][0]["doc_id"] == "staffordshire-part6"
            assert httpx.get(url + "/healthz", timeout=10).status_code == 200
