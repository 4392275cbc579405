"""Domain adaptation of the embedder (issue 14): question→passage pairs made from the indexed passages
themselves, and a short fine-tune of the packaged all-MiniLM-L6-v2 on them, on the CPU.

No question a user wrote is used. Pairs come from what any document has:

- a sentence of a passage, cut to its content words, as the query for the rest of the passage (the
  "inverse cloze" task: a passage is recognised from one of its sentences without that sentence);
- the heading a passage sits under, when few passages share it, as a query for the passage;
- a sentence that states a duty ("the chair must …", "within 10 working days"), turned into the
  question a practitioner would ask of it ("when must the chair …", "what must the chair do").

Hard negatives: a sibling passage (same document, same heading) where there is one, so the model learns
to tell a paragraph from its neighbours, not only from other documents. Loss: in-batch softmax over
cosine similarities (multiple-negatives ranking), the sentence-transformers standard, written out here
in a few lines of torch so no training framework is needed.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunks import embed_text
from safeguide.wordlists import words

_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(])|\n+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_FILLER = frozenset(
    words("a an the of to in on for and or but is are be been being was were will shall should must may")
    + words("might can could would this that these those it its with by as at from which who whom whose")
    + words("there their they them such any all each other also into within than then so not no")
)
_DUTY = re.compile(
    r"^(?P<who>(?:the|a|an|each|all|any)\s+[\w’'-]+(?:\s+[\w’'-]+){0,4}?)\s+"
    r"(?P<modal>must|should|will|is required to|are required to|has to|have to)\s+(?P<what>.+)$",
    re.IGNORECASE,
)
_WHEN = re.compile(r"\b(within|no later than|at least|every|before|after|prior to|by)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Pair:
    query: str
    passage: str  # the text the embedder sees for the positive
    negative: str | None = None
    row: int = -1  # the passage's position in the texts it was made from


def _sentences(text: str) -> list[str]:
    parts = [s.strip(" ·-▶*\t") for s in _SENTENCE.split(text)]
    return [s for s in parts if len(_WORD.findall(s)) >= 6]


def _clip(sentence: str, rng: random.Random, keep: int = 10) -> str:
    """A sentence as a user might type it: its content words, at most `keep`, in order."""
    words = [w for w in _WORD.findall(sentence) if w.lower() not in _FILLER]
    if len(words) > keep:
        start = rng.randrange(0, len(words) - keep + 1)
        words = words[start : start + keep]
    return " ".join(words).lower()


def _duty_question(sentence: str) -> str | None:
    """ "The chair must circulate the minutes within 10 working days." -> "when must the chair circulate
    the minutes?"; without a timing word -> "must the chair circulate the minutes …?"."""
    m = _DUTY.match(sentence.strip())
    if not m:
        return None
    who = m.group("who").strip().lower()
    words = m.group("what").strip().rstrip(".;:").split()
    modal = m.group("modal").lower().split()[0]
    modal = "must" if modal in ("is", "are", "has", "have") else modal
    when = _WHEN.search(" ".join(words[:14]))
    if when:
        head = " ".join(words[:14])[: when.start()].split()
        return f"when {modal} {who} {' '.join(head)}?" if head else None
    return f"{modal} {who} {' '.join(words[:8])}?" if len(words) >= 2 else None


def make_pairs(
    texts: Sequence[str], metas: Sequence[dict[str, Any]], seed: int = 13, per_passage: int = 3
) -> list[Pair]:
    """Training pairs from the passages of an index (texts and their Chroma metadata)."""
    rng = random.Random(seed)
    embed = [embed_text(t, m["title"], m["heading"]) for t, m in zip(texts, metas, strict=True)]
    siblings: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, m in enumerate(metas):
        siblings[(m["doc_id"], m["heading"])].append(i)
    heading_count = {k: len(v) for k, v in siblings.items()}
    pairs: list[Pair] = []
    for i, (text, m) in enumerate(zip(texts, metas, strict=True)):
        near = [j for j in siblings[(m["doc_id"], m["heading"])] if j != i]
        negative = embed[rng.choice(near)] if near else None
        made: list[str] = []
        sentences = _sentences(text)
        for s in sentences:
            q = _duty_question(s)
            if q:
                made.append(q)
        rng.shuffle(sentences)
        for s in sentences[:2]:
            made.append(_clip(s, rng))
        last = m["heading"].split(" › ")[-1].strip()
        if last and heading_count[(m["doc_id"], m["heading"])] <= 3 and len(last.split()) >= 2:
            made.append(last.lower())
        for q in made[:per_passage]:
            pairs.append(Pair(q, embed[i], negative, i))
    rng.shuffle(pairs)
    return pairs


@dataclass
class TuneReport:
    pairs: int
    steps: int
    seconds: float
    final_loss: float


def fine_tune(
    base: Path,
    out: Path,
    pairs: Sequence[Pair],
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 3e-5,
    max_seq_length: int = 128,
    seed: int = 13,
) -> TuneReport:
    """Fine-tune the sentence-transformers model at `base` on `pairs`; save it to `out`."""
    from ingest.embedder import offline

    offline()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.manual_seed(seed)
    started = time.perf_counter()
    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = max_seq_length
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    total_steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    warmup = max(1, total_steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / total_steps)
    )
    loss_value = 0.0
    step = 0

    def encode(batch: list[str]) -> torch.Tensor:
        features = model.preprocess(batch)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(epochs):
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            queries = encode([p.query for p in batch])
            candidates = [p.passage for p in batch] + [p.negative for p in batch if p.negative]
            passages = encode(candidates)
            scores = queries @ passages.T * 20.0  # scale 20, as sentence-transformers' MNRL
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            loss_value = float(loss.detach())
            step += 1
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return TuneReport(len(pairs), step, round(time.perf_counter() - started, 1), round(loss_value, 4))


# --- The tuned embedder kept with a build (issue 14) --------------------------------------------------
#
# Measured (eval/retrieval.py, 2026-12-03): as a third ranking fused with the other two, the tuned
# embedder lifted hit@1 but let in candidates that pushed right ones out of the top five (held-out
# hit@5 0.92 -> 0.89). Used only to reorder the five the hybrid search ranks first, it keeps the same
# five, so hit@5 cannot fall, and the order within them improves.

TUNED_DIR = "tuned"  # in a build folder: model/, vectors.npy, ids.json, key.txt
TUNING_VERSION = "1"
MAX_PAIRS = 2000  # a bound on training time for a large index (the five documents make 1,457)


def passages_key(ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict[str, Any]]) -> str:
    """What a tuned model was trained on: the passages in order, with the context the embedder sees."""
    import hashlib

    digest = hashlib.sha256(TUNING_VERSION.encode())
    for cid, text, m in zip(ids, texts, metas, strict=True):
        digest.update(f"\x00{cid}\x01{embed_text(text, m['title'], m['heading'])}".encode())
    return digest.hexdigest()


@dataclass
class TuneOutcome:
    build: str
    key: str
    how: str  # "trained"; "reused" (the model of a build with the same passages); "up to date"
    pairs: int
    seconds: float

    def summary(self) -> str:
        """One line for the CLI and the upload job: what was done, and how long it took when it did work."""
        done = {"trained": f"trained on {self.pairs} pairs", "reused": "the same passages' model reused"}
        return (done[self.how] + f", {self.seconds:.0f} s") if self.how in done else self.how


def tune_build(
    build: Path,
    ids: Sequence[str],
    texts: Sequence[str],
    metas: Sequence[dict[str, Any]],
    base: Path,
    *,
    embed_batch: int = 32,
    max_pairs: int | None = None,
) -> TuneOutcome:
    """Fine-tune `base` on pairs made from this build's passages (at most `max_pairs`, default MAX_PAIRS)
    and keep the model and the passages' vectors in the build (`TUNED_DIR`). A build beside it with the
    same passages lends its model instead (a re-read of timescales makes a new build of unchanged
    passages). Written to a temporary folder and renamed into place, so a reader sees all of it or none
    of it. The caller holds the index's tuning lock (services.tuning_lock), so a staging folder already
    there was left by a tuning that was killed, and goes."""
    import shutil
    import uuid

    from ingest.embedder import SentenceTransformerEmbedder

    started = time.perf_counter()
    key = passages_key(ids, texts, metas)
    target = build / TUNED_DIR
    if tuned_key(target) == key:
        return TuneOutcome(build.name, key, "up to date", 0, 0.0)
    for left in build.glob(f"{TUNED_DIR}.tmp-*"):
        shutil.rmtree(left, ignore_errors=True)
    staging = build / f"{TUNED_DIR}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        others = (b / TUNED_DIR for b in sorted(build.parent.iterdir()) if b != build)
        donor = next((t for t in others if tuned_key(t) == key), None)
        pairs_used = 0
        if donor is not None:
            shutil.copytree(donor / "model", staging / "model")
        else:
            pairs = make_pairs(texts, metas)
            cap = MAX_PAIRS if max_pairs is None else max_pairs
            if len(pairs) > cap:
                pairs = random.Random(13).sample(pairs, cap)
            fine_tune(base, staging / "model", pairs)
            pairs_used = len(pairs)
        model = SentenceTransformerEmbedder(staging / "model", batch_size=embed_batch)
        vectors = model.embed_documents(
            [embed_text(t, m["title"], m["heading"]) for t, m in zip(texts, metas, strict=True)]
        )
        write_vectors(staging, ids, vectors, key)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    how = "reused" if donor is not None else "trained"
    return TuneOutcome(build.name, key, how, pairs_used, round(time.perf_counter() - started, 1))


def write_vectors(folder: Path, ids: Sequence[str], vectors: Any, key: str) -> None:
    """The passages' tuned vectors beside `folder`/model, then the key, which marks the folder complete."""
    import json

    import numpy as np

    np.save(folder / "vectors.npy", np.asarray(vectors, dtype=np.float32))
    (folder / "ids.json").write_text(json.dumps(list(ids)), encoding="utf-8")
    (folder / "key.txt").write_text(key, encoding="utf-8")


def tuned_key(folder: Path) -> str | None:
    """The key of a complete tuned folder; None when it is not there or not finished."""
    try:
        return (folder / "key.txt").read_text(encoding="utf-8").strip()
    except OSError:
        return None


@dataclass
class TunedVectors:
    """A build's tuned model and its passages' vectors, row k for the reader's row k."""

    embedder: Any
    matrix: Any  # np.ndarray (passages, dimension), float32, normalised
    key: str


def load_tuned(folder: Path, position: dict[str, int]) -> TunedVectors | None:
    """The tuned model and vectors in `folder`, rows put in the reader's order; None when the folder is not
    complete or does not hold the reader's passages (then the search keeps the hybrid order)."""
    import json

    import numpy as np

    from ingest.embedder import SentenceTransformerEmbedder

    key = tuned_key(folder)
    if key is None:
        return None
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
    vectors = np.load(folder / "vectors.npy")
    if sorted(ids) != sorted(position) or len(ids) != len(vectors):
        return None
    matrix = np.zeros_like(vectors)
    for cid, vector in zip(ids, vectors, strict=True):
        matrix[position[cid]] = vector
    return TunedVectors(SentenceTransformerEmbedder(folder / "model"), matrix, key)
