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
    import torch
    from sentence_transformers import SentenceTransformer

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
