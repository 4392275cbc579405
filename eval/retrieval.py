"""Retrieval evaluation: the golden questions through four systems side by side.

Run through ``safeguide eval --suite retrieval`` (or ``make eval``) → ``eval/results/retrieval.json``
and ``retrieval.png``.

A retrieved passage *matches* an expected source when it comes from the expected document and
contains the expected evidence phrase. That test is the same for every system, whatever its chunks.
``para_accuracy`` asks more: the first matching passage in the top 5 must also carry the right
paragraph number (or, for unnumbered documents, the right heading) in its citation. The naive
pipeline has no paragraph structure, so it cannot name a paragraph.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.embedder import Embedder
from ingest.loaders import load_lines
from ingest.manifest import describe, document_files
from ingest.store import IndexLocation
from safeguide.retrieval.citations import contains, names
from safeguide.retrieval.hybrid import HybridRetriever

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "retrieval.jsonl"
RESULTS = HERE / "results"


@dataclass(frozen=True)
class Passage:
    doc_id: str
    text: str
    paragraph: str | None = None
    heading: str = ""


SearchFn = Callable[[str, int], list[Passage]]


def load_golden(path: Path = GOLDEN) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        for field in ("id", "question", "expected"):
            if field not in row:
                raise ValueError(f"{path.name}: question {row.get('id', '?')} has no '{field}'")
    return rows


def matches(passage: Passage, expected: dict[str, Any]) -> bool:
    return passage.doc_id == expected["doc_id"] and contains(passage.text, expected["evidence"])


def names_paragraph(passage: Passage, expected: dict[str, Any]) -> bool:
    return names(passage.paragraph, passage.heading, expected.get("paragraph"), expected.get("heading"))


def score_question(results: list[Passage], expected: list[dict[str, Any]]) -> dict[str, float]:
    first_rank: int | None = None
    used: set[int] = set()
    dcg = 0.0
    para_ok = 0.0
    for rank, passage in enumerate(results[:10], start=1):
        for j, e in enumerate(expected):
            if j not in used and matches(passage, e):
                used.add(j)
                dcg += 1.0 / math.log2(rank + 1)
                if first_rank is None:
                    first_rank = rank
                    if rank <= 5 and names_paragraph(passage, e):
                        para_ok = 1.0
                break
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(expected), 10) + 1))
    return {
        "hit@1": 1.0 if first_rank == 1 else 0.0,
        "hit@5": 1.0 if first_rank is not None and first_rank <= 5 else 0.0,
        "mrr": 1.0 / first_rank if first_rank else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
        "para_accuracy": para_ok,
    }


def evaluate(name: str, search: SearchFn, golden: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    search(golden[0]["question"], k)  # warm up
    scores: list[dict[str, float]] = []
    latencies: list[float] = []
    misses: list[str] = []
    for row in golden:
        started = time.perf_counter()
        results = search(row["question"], k)
        latencies.append((time.perf_counter() - started) * 1000)
        s = score_question(results, row["expected"])
        scores.append(s)
        if not s["hit@5"]:
            misses.append(row["id"])
    out: dict[str, Any] = {"name": name, "questions": len(golden)}
    for key in ("hit@1", "hit@5", "mrr", "ndcg@10", "para_accuracy"):
        out[key] = round(statistics.fmean(s[key] for s in scores), 4)
    latencies.sort()
    out["p50_ms"] = round(statistics.median(latencies), 1)
    out["p95_ms"] = round(latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)], 1)
    out["misses@5"] = misses
    return out


def safeguide_search(retriever: HybridRetriever) -> SearchFn:
    def search(question: str, k: int) -> list[Passage]:
        return [Passage(r.doc_id, r.text, r.paragraph, r.heading) for r in retriever.search(question, k=k)]

    return search


def naive_langchain(corpus: Path, embedder: Embedder, workdir: Path) -> SearchFn:
    """The usual tutorial pipeline: RecursiveCharacterTextSplitter(1000, 200) + the same embedder + Chroma."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SameEmbedder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [v.tolist() for v in embedder.embed_documents(texts)]

        def embed_query(self, text: str) -> list[float]:
            return list(map(float, embedder.embed_query(text)))

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    for path in document_files([corpus]):
        doc = describe(path)
        raw = "\n".join(line.text for line in load_lines(path, max_bytes=10**9))
        for chunk in splitter.split_text(raw):
            texts.append(chunk)
            metas.append({"doc_id": doc.manifest.id})
    client = chromadb.PersistentClient(path=str(workdir), settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma(collection_name="naive-langchain", embedding_function=SameEmbedder(), client=client)
    store.add_texts(texts, metadatas=metas)

    def search(question: str, k: int) -> list[Passage]:
        return [Passage(d.metadata["doc_id"], d.page_content) for d in store.similarity_search(question, k=k)]

    return search


HELDOUT = HERE / "golden" / "retrieval_heldout.jsonl"


def forget_queries(embedder: Embedder) -> None:
    """Empty the query-vector cache, so each system's latency includes embedding the question."""
    real = getattr(embedder, "_real", embedder)
    forget = getattr(real, "forget_queries", None)
    if forget is not None:
        forget()


def run_all(location: IndexLocation, corpus: Path, embedder: Embedder, tune: bool = True) -> dict[str, Any]:
    """Every system on the golden questions (tuned on) and the held-out ones (never tuned on).

    Systems: today's hybrid; with the glossary; with the embedder fine-tuned on pairs made from the
    passages; with the learned ranking (trained on the same kind of pairs); all together; each search
    alone; the naive LangChain pipeline. `tune=False` leaves out the two that need training (minutes).
    """
    from ingest.embedder import SentenceTransformerEmbedder, packaged_model_path
    from ingest.store import ingest
    from safeguide.retrieval.glossary import Glossary
    from safeguide.retrieval.ranking import train
    from safeguide.retrieval.tuning import TUNED_DIR, fine_tune, make_pairs

    sets = {"golden": load_golden(GOLDEN), "heldout": load_golden(HELDOUT)}
    glossary = Glossary.load(corpus / "glossary.toml")
    systems: dict[str, dict[str, Any]] = {}
    training: dict[str, Any] = {}

    def run(name: str, retriever: HybridRetriever | SearchFn, emb: Embedder) -> None:
        search = safeguide_search(retriever) if isinstance(retriever, HybridRetriever) else retriever
        for set_name, rows in sets.items():
            forget_queries(emb)
            systems.setdefault(set_name, {})[name] = evaluate(name, search, rows)

    def ranker_for(retriever: HybridRetriever) -> Any:
        reader = retriever.reader()
        pairs = make_pairs(reader.texts, reader.metas, seed=29)
        started = time.perf_counter()
        ranker, info = train([(p.query, reader.ids[p.row]) for p in pairs], lambda q: retriever.search(q, 30))
        training[f"ranker seconds ({reader.embedder.name})"] = round(time.perf_counter() - started, 1)
        training["ranker training"] = info
        return ranker

    before = HybridRetriever(location, embedder, tuned_reorder=False)
    run("hybrid (before issue 14)", before, embedder)
    with_glossary = HybridRetriever(location, embedder, glossary=glossary, tuned_reorder=False)
    run("hybrid + glossary", with_glossary, embedder)
    default = HybridRetriever(location, embedder, glossary=glossary)
    if default.reader().tuned() is not None:
        run("hybrid + glossary, tuned embedder reorders the top 5 (default)", default, embedder)
    if tune:
        ranked = HybridRetriever(location, embedder, reranker=ranker_for(before), tuned_reorder=False)
        run("hybrid + learned ranking", ranked, embedder)
        with tempfile.TemporaryDirectory() as tmp:
            reader = before.reader()
            kept = reader.build / TUNED_DIR / "model"
            if kept.is_dir():  # the model the ingest made from these passages (the same pairs and seed)
                model_dir = kept
                training["fine-tune"] = "the build's own tuned model (made at ingest)"
            else:
                model_dir = Path(tmp) / "model"
                pairs = make_pairs(reader.texts, reader.metas)
                training["fine-tune"] = fine_tune(packaged_model_path(), model_dir, pairs).__dict__
            tuned = SentenceTransformerEmbedder(model_dir)
            tuned_location = IndexLocation(Path(tmp) / "index")
            started = time.perf_counter()
            ingest([corpus], tuned_location, tuned, max_bytes=10**9)
            training["re-embed seconds"] = round(time.perf_counter() - started, 1)
            run("hybrid + tuned embedder", HybridRetriever(tuned_location, tuned), tuned)
            all_three = HybridRetriever(tuned_location, tuned, glossary=glossary)
            all_three.reranker = ranker_for(all_three)
            run("glossary + tuned + ranking", all_three, tuned)
    run(
        "dense only + glossary",
        HybridRetriever(location, embedder, mode="dense", glossary=glossary),
        embedder,
    )
    run(
        "bm25 only + glossary",
        HybridRetriever(location, embedder, mode="lexical", glossary=glossary),
        embedder,
    )
    with tempfile.TemporaryDirectory() as tmp:
        run("naive-langchain", naive_langchain(corpus, embedder, Path(tmp)), embedder)
    return {
        "golden": str(GOLDEN.relative_to(HERE.parent)),
        "heldout": str(HELDOUT.relative_to(HERE.parent)),
        "questions": len(sets["golden"]),
        "heldout_questions": len(sets["heldout"]),
        "systems": list(systems["golden"].values()),
        "heldout_systems": list(systems["heldout"].values()),
        "training": training,
    }


def markdown_table(report: dict[str, Any]) -> str:
    cols = ("hit@1", "hit@5", "mrr", "ndcg@10", "para_accuracy", "p50_ms", "p95_ms")
    lines = ["| system | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for title, key in (("golden (tuned on)", "systems"), ("held-out (never tuned on)", "heldout_systems")):
        lines.append(f"| **{title}** |" + " |" * len(cols))
        for s in report.get(key, []):
            lines.append(f"| {s['name']} | " + " | ".join(str(s[c]) for c in cols) + " |")
    return "\n".join(lines)
