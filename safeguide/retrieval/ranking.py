"""A learned ranking of the fused candidates (issue 14): a logistic regression over what search already
knows of each candidate (its rank in the meaning and the word search, the fused score) and a few things
about the question and the passage (the heading's words in the question, a role or an area named in both,
a timing question against a passage that states a duration). Trained on the question→passage pairs that
`tuning.make_pairs` makes from the passages themselves, never on a question a user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.durations import DURATION, FREQUENCY
from ingest.lexical import tokenize
from safeguide.retrieval.glossary import normalise
from safeguide.retrieval.hybrid import SearchResult
from safeguide.wordlists import whole_words

_TIMING_QUESTION = re.compile(
    r"\b(when|how (?:long|soon|often|quickly|fast|many days)|by when|deadline|timescale)\b"
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


def _roles(text: str) -> set[str]:
    t = normalise(text)
    return {r for r in ROLES if whole_words(r).search(t)}


def _states_a_duration(text: str) -> bool:
    return bool(DURATION.search(text) or FREQUENCY.search(text))


def features(query: str, results: Sequence[SearchResult]) -> np.ndarray:
    """One row per candidate, columns as FEATURES."""
    q_words = set(tokenize(query))
    q_roles = _roles(query)
    timing = bool(_TIMING_QUESTION.search(query.lower()))
    top = max((r.score for r in results), default=1.0) or 1.0
    rows = []
    for r in results:
        heading = set(tokenize(r.heading.split(" › ")[-1]))
        text = set(tokenize(r.text))
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
                float(timing and _states_a_duration(r.text)) - float(timing),
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
