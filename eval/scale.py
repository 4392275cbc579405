"""Search at scale (issue 14): the same hybrid search over a synthetic index of 100,000 passages.

The passages are the real ones varied: sentences reordered, numbers changed, a variant tag added, and
each vector the real passage's vector plus a little noise (embedding 100,000 texts would take over an
hour on 2 cores and measures the embedder, not the search). Questions: the golden and held-out ones.
Reports the build time (with the BM25 index kept beside it, as ingest keeps it), the time to open the
index (Chroma, and the BM25 index from disk), search p50/p95 with the tuned reordering and without it
(in a new process, as a server opens a built index) and that process's resident memory. Run it
with nothing else on the machine: two processes' torch threads on 2 cores slow each other tenfold.

    python -m eval.scale [--passages 100000]   ->  eval/results/scale.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.retrieval import GOLDEN, HELDOUT, RESULTS, forget_queries, load_golden
from ingest.lexical import build_lexical, save_lexical
from ingest.store import STATE_FILE, IndexLocation, open_collection
from safeguide.retrieval.glossary import Glossary
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.retrieval.tuning import TUNED_DIR, write_vectors
from safeguide.services import build_embedder, build_retriever
from safeguide.settings import get_settings

_SENTENCE = re.compile(r"(?<=[.;!?])\s+")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def vary(text: str, rng: random.Random, i: int) -> str:
    parts = _SENTENCE.split(text)
    rng.shuffle(parts)
    out = re.sub(r"\b\d+\b", lambda m: str(rng.randint(1, 60)), " ".join(parts))
    return f"{out} (variant {i})"


def build(location: IndexLocation, n: int, seed: int = 7) -> dict[str, Any]:
    settings = get_settings()
    source = build_retriever(settings).reader()
    got = source.collection.get(include=["embeddings", "documents", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    tuned = source.tuned()  # the serving build's tuned embedder, varied the same way when it has one
    tuned_vectors = tuned.matrix[[source.position[cid] for cid in got["ids"]]] if tuned is not None else None
    tuned_rows: list[np.ndarray] = []
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    started = time.perf_counter()
    name = "synthetic"
    path = location.builds / name
    path.mkdir(parents=True)
    collection = open_collection(path, source.embedder)
    base = len(got["ids"])
    ids: list[str] = []
    texts: list[str] = []
    all_metas: list[dict[str, Any]] = []
    for start in range(0, n, 5000):
        rows = range(start, min(n, start + 5000))
        idx = [i % base for i in rows]
        vec = vectors[idx] + noise.normal(0, 0.02, (len(idx), vectors.shape[1])).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        metas = []
        for i, j in zip(rows, idx, strict=True):
            m = dict(got["metadatas"][j])
            m["doc_id"] = f"{m['doc_id']}-v{i // base}"
            metas.append(m)
        batch_ids = [f"s{i}" for i in rows]
        documents = [vary(got["documents"][j], rng, i) for i, j in zip(rows, idx, strict=True)]
        collection.add(ids=batch_ids, embeddings=vec.tolist(), documents=documents, metadatas=metas)
        if tuned_vectors is not None:
            tv = tuned_vectors[idx] + noise.normal(0, 0.02, (len(idx), vectors.shape[1])).astype(np.float32)
            tuned_rows.append(tv / np.linalg.norm(tv, axis=1, keepdims=True))
        ids += batch_ids
        texts += documents
        all_metas += metas
    save_lexical(path, ids, build_lexical(ids, texts, all_metas))  # kept with the build, as ingest does
    if tuned_rows:
        folder = path / TUNED_DIR
        shutil.copytree(source.build / TUNED_DIR / "model", folder / "model")
        write_vectors(folder, ids, np.concatenate(tuned_rows), "synthetic")
    (path / STATE_FILE).write_text(json.dumps({"build": name, "documents": []}), encoding="utf-8")
    location.switch_to(path)
    return {"passages": n, "build_seconds": round(time.perf_counter() - started, 1)}


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    latencies = sorted(latencies)
    return round(statistics.median(latencies), 1), round(latencies[math.ceil(0.95 * len(latencies)) - 1], 1)


def measure(location: IndexLocation) -> dict[str, Any]:
    """Open the index and time the search, with the tuned reordering and without it, alternating per
    question so that a change in the machine's speed affects both alike."""
    settings = get_settings()
    embedder = build_embedder(settings)
    glossary = Glossary.load(settings.corpus_dir / "glossary.toml")
    before = rss_mb()
    started = time.perf_counter()
    retriever = HybridRetriever(location, embedder, glossary=glossary)
    reader = retriever.reader()
    opened = time.perf_counter() - started
    plain = HybridRetriever(location, embedder, glossary=glossary, tuned_reorder=False)
    systems = {"tuned": retriever, "plain": plain}
    questions = [r["question"] for r in load_golden(GOLDEN) + load_golden(HELDOUT)]
    for system in systems.values():
        system.search(questions[0], k=5)
    latencies: dict[str, list[float]] = {name: [] for name in systems}
    tuned = reader.tuned()
    for q in questions:  # warm: the question's vectors are computed inside the timing, by each system
        for name, system in systems.items():
            forget_queries(embedder)
            if tuned is not None:
                tuned.embedder.forget_queries()
            t = time.perf_counter()
            system.search(q, k=5)
            latencies[name].append((time.perf_counter() - t) * 1000)
    p50, p95 = _percentiles(latencies["tuned"])
    plain_p50, plain_p95 = _percentiles(latencies["plain"])
    return {
        "questions": len(questions),
        "open_seconds": round(opened, 1),
        "lexical_index": reader.lexical_source,
        "tuned_reorder": tuned is not None,
        "p50_ms": p50,
        "p95_ms": p95,
        "without_tuned_reorder_p50_ms": plain_p50,
        "without_tuned_reorder_p95_ms": plain_p95,
        "rss_before_open_mb": before,
        "rss_after_mb": rss_mb(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the second process's half
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(IndexLocation(args.measure))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        report = build(IndexLocation(Path(tmp)), args.passages)
        # Measured in a new process, as a server opens a built index: the writing process still has
        # Chroma's write-side work and the source index in it.
        done = subprocess.run(
            [sys.executable, "-m", "eval.scale", "--measure", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        report |= json.loads(done.stdout.strip().splitlines()[-1])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
