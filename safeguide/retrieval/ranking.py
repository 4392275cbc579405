"""A learned ranking of the fused candidates (issue 14): a logistic regression over what search already
knows of each candidate (its rank in the meaning and the word search, the fused score) and a few things
about the question and the passage (the heading's words in the question, a role or an area named in both,
a timing question against a passage that states a duration). Trained on the question→passage pairs that
`tuning.make_pairs` makes from the passages themselves, never on a question a user wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from safeguide.wordlists import words

if TYPE_CHECKING:
    from safeguide.retrieval.hybrid import SearchResult

_WORD = re.compile(r"[a-z0-9]+")
_TIMING_QUESTION = re.compile(
    r"\b(when|how (?:long|soon|often|quickly|fast|many days)|by when|deadline|timescale)\b"
)
_DURATION = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty)[\s-]+"
    r"(working days?|days?|weeks?|months?|hours?|minutes?)\b|\b(weekly|monthly|fortnightly)\b"
)
ROLES = (
    "chair", "core group", "key worker", "social worker", "manager", "parents", "police", "referrer",
    "lado", "designated officer", "health visitor", "gp", "school", "child", "conference", "cdop",
    "lscb", "panel", "custodian",
)  # fmt: skip
FEATURES = (
    "dense_rr", "lexical_rr", "fused", "in_dense", "in_lexical", "heading_overlap", "text_overlap",
    "roles_shared", "roles_missing", "timing_match", "area_named", "short",
)  # fmt: skip
STOP = frozenset(
    words(
        "the a an of to in on for and or is are be do i we my our what who when how does can should must it"
    )
    + words("this that with by at from")
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP}


def _roles(text: str) -> set[str]:
    t = " " + " ".join(_WORD.findall(text.lower().replace("-", " "))) + " "
    return {r for r in ROLES if f" {r} " in t}


def features(query: str, results: Sequence[SearchResult]) -> np.ndarray:
    """One row per candidate, columns as FEATURES."""
    q_words = _words(query)
    q_roles = _roles(query)
    timing = bool(_TIMING_QUESTION.search(query.lower()))
    top = max((r.score for r in results), default=1.0) or 1.0
    rows = []
    for r in results:
        heading = _words(r.heading.split(" › ")[-1] if r.heading else "")
        text = _words(r.text)
        p_roles = _roles(r.text + " " + r.heading)
        rows.append(
            [
                1.0 / r.dense_rank if r.dense_rank else 0.0,
                1.0 / r.lexical_rank if r.lexical_rank else 0.0,
                r.score / top,
                float(r.dense_rank is not None),
                float(r.lexical_rank is not None),
                len(q_words & heading) / (len(q_words) or 1),
                len(q_words & text) / (len(q_words) or 1),
                float(len(q_roles & p_roles)),
                float(len(q_roles - p_roles)),
                float(timing and bool(_DURATION.search(r.text.lower()))) - float(timing),
                float(r.authority != "national" and r.authority in query.lower()),
                float(len(r.text) < 120),
            ]
        )
    return np.asarray(rows, dtype=np.float64)


@dataclass
class LearnedRanker:
    """Reorders the fused candidates by a logistic regression's score."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def rerank(self, query: str, results: list[SearchResult]) -> list[SearchResult]:
        if len(results) < 2:
            return results
        x = (features(query, results) - self.mean) / self.scale
        scores = x @ self.weights + self.bias
        order = sorted(range(len(results)), key=lambda i: (-scores[i], i))
        return [results[i] for i in order]

    def save(self, path: Path) -> None:
        data = {
            "features": list(FEATURES),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LearnedRanker:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("features") != list(FEATURES):
            raise ValueError(f"{path}: made for other features; train it again")
        arrays = {k: np.asarray(data[k]) for k in ("weights", "mean", "scale")}
        return cls(arrays["weights"], float(data["bias"]), arrays["mean"], arrays["scale"])


def train(
    queries: Sequence[tuple[str, str]],
    search: Callable[[str], list[SearchResult]],
    c: float = 1.0,
) -> tuple[LearnedRanker, dict[str, float]]:
    """`queries`: (question, chunk id of the passage it was made from). Candidates come from `search`;
    a question whose passage is not among them teaches nothing and is skipped."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    used = 0
    for question, chunk_id in queries:
        results = search(question)
        labels = [float(r.chunk_id == chunk_id) for r in results]
        if not any(labels):
            continue
        used += 1
        xs.append(features(question, results))
        ys.extend(labels)
    x = np.vstack(xs)
    y = np.asarray(ys)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    ranker = LearnedRanker(model.coef_[0], float(model.intercept_[0]), mean, scale)
    return ranker, {"questions": float(used), "rows": float(len(y)), "skipped": float(len(queries) - used)}


def describe(ranker: LearnedRanker) -> dict[str, float]:
    return {name: round(float(w), 3) for name, w in zip(FEATURES, ranker.weights, strict=True)}
