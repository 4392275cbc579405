"""The meaning half of the input checks: two small classifiers over the packaged MiniLM embeddings.

- `danger`: a child may be in immediate danger (weapons, violence happening now, a child alone, an
  overdose, self-harm intent, abduction, a medical emergency, threats for tonight), against hard
  negatives written to look alike (past events, procedure questions, training scenarios);
- `harmful`: a request for help to hurt a child or to get round safeguarding, against questions about
  recognising harm, which must still be answered.

Each is a logistic regression over two views of the redacted message: its MiniLM embedding (what it is
about) and TF-IDF weights of its words and word pairs (the few words that turn a question about abuse
into a request to hide it: "so nobody finds out", "without leaving marks"). It is trained on
`safety_data/<name>.tsv` and `<name>_*.tsv` (written for safeguide; the held-out
set in eval/golden/ is never used) plus our own development questions as further negatives. Its
threshold is chosen on five-fold cross-validation of the training data alone, for recall: a false alarm
costs a notice, a miss can cost a life. `safeguide safety train` retrains and writes
`safety_data/classifiers.json`; a test fails when the training data has changed since.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(str(files("safeguide") / "safety_data"))
WEIGHTS = DATA / "classifiers.json"
# Out-of-fold recall the threshold must reach on the training data, per classifier.
# Danger: every training example (a false alarm costs a notice). Harmful requests: a refusal costs a
# practitioner their answer, so the threshold may leave out the last 2% of training examples.
RECALL_TARGET = {"danger": 1.0, "harmful": 0.98}
# Never above this: a threshold fitted to the last positive of a small set is too high for new wording.
MAX_THRESHOLD = 0.5


_WORDS = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class MeaningClassifier:
    name: str
    weights: np.ndarray  # over the embedding
    bias: float
    threshold: float
    vocabulary: dict[str, int]  # word or word pair -> column of `idf` and `word_weights`
    idf: np.ndarray
    word_weights: np.ndarray

    def word_features(self, text: str) -> np.ndarray:
        """TF-IDF as scikit-learn computes it (sublinear tf, l2 norm), over our stored vocabulary."""
        words = _WORDS.findall(text.lower())
        counts: dict[int, int] = {}
        for gram in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            col = self.vocabulary.get(gram)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        out = np.zeros(len(self.idf), dtype=np.float32)
        for col, n in counts.items():
            out[col] = (1.0 + math.log(n)) * self.idf[col]
        norm = float(np.linalg.norm(out))
        return out / norm if norm else out

    def probability(self, vector: np.ndarray, text: str) -> float:
        z = float(np.dot(self.weights, vector)) + float(np.dot(self.word_weights, self.word_features(text)))
        return 1.0 / (1.0 + math.exp(-(z + self.bias)))

    def flags(self, vector: np.ndarray, text: str) -> bool:
        return self.probability(vector, text) >= self.threshold


def data_files(name: str) -> list[Path]:
    """A classifier's training files: `<name>.tsv`, then any `<name>_*.tsv` (more examples that the name
    tagger, which samples word uses from `<name>.tsv`, does not read)."""
    return [DATA / f"{name}.tsv", *sorted(DATA.glob(f"{name}_*.tsv"))]


def read_examples(name: str) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for path in data_files(name):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            label, _, text = line.partition("\t")
            if label not in ("0", "1") or not text.strip():
                raise ValueError(f"{path.name}: bad line {line!r}")
            rows.append((int(label), text.strip()))
    return rows


def data_fingerprint() -> str:
    """sha256 over the training files, so committed weights can be checked against the data."""
    h = hashlib.sha256()
    for name in sorted(RECALL_TARGET):
        for path in data_files(name):
            h.update(path.read_bytes())
    return h.hexdigest()


def training_rows(name: str, extra_negatives: Sequence[str]) -> list[tuple[int, str]]:
    """A classifier's own examples; the other's examples that are negatives for it; our dev questions."""
    rows = read_examples(name)
    for other in RECALL_TARGET:
        if other == name:
            continue
        for label, text in read_examples(other):
            # A harmful request is not itself an emergency, and an emergency is not a harmful request;
            # but the other set's positives are kept out of the danger set (some are both).
            if name == "harmful" or label == 0:
                rows.append((0, text))
    rows.extend((0, q) for q in extra_negatives)
    seen: dict[str, int] = {}
    for label, text in rows:
        seen[text] = max(label, seen.get(text, 0))
    return sorted((label, text) for text, label in seen.items())


def train(
    name: str,
    rows: Sequence[tuple[int, str]],
    embed: Callable[[list[str]], np.ndarray],
    redact: Callable[[str], str] = lambda t: t,
    seed: int = 13,
    refused: Callable[[MeaningClassifier], list[tuple[float, str]]] | None = None,
) -> tuple[MeaningClassifier, dict[str, Any]]:
    """A classifier and its training report. The threshold is the highest that keeps RECALL_TARGET of the
    positives out of fold (never above MAX_THRESHOLD). Then, when `refused` is given, it is raised just
    enough for each message `refused` names until it names none: `refused(clf)` runs the product's own
    check, with `clf` in place, over questions of ours that must never be refused by it, and gives, for
    each it refuses, the threshold from which it would not be, and the message."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    texts = [redact(text) for _, text in rows]
    y = np.array([label for label, _ in rows])
    x = embed(texts)

    def fit(idx: np.ndarray) -> tuple[Any, Any]:
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=_WORDS.pattern)
        features = hstack([csr_matrix(x[idx]), words.fit_transform([texts[i] for i in idx])]).tocsr()
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=5000).fit(features, y[idx])
        return words, model

    def predict(words: Any, model: Any, idx: np.ndarray) -> np.ndarray:
        features = hstack([csr_matrix(x[idx]), words.transform([texts[i] for i in idx])]).tocsr()
        return np.asarray(model.predict_proba(features)[:, 1])

    out_of_fold = np.zeros(len(rows))
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        out_of_fold[test_idx] = predict(*fit(train_idx), test_idx)
    positives = np.sort(out_of_fold[y == 1])
    keep = max(1, math.ceil(RECALL_TARGET[name] * len(positives)))
    recall_threshold = min(MAX_THRESHOLD, float(positives[len(positives) - keep]) - 1e-6)
    words, model = fit(np.arange(len(rows)))
    dims = x.shape[1]
    coef = model.coef_[0]
    clf = MeaningClassifier(
        name,
        coef[:dims].astype(np.float32),
        float(model.intercept_[0]),
        recall_threshold,
        {k: int(v) for k, v in words.vocabulary_.items()},
        words.idf_.astype(np.float32),
        coef[dims:].astype(np.float32),
    )
    raised_for: list[list[Any]] = []
    while refused is not None and clf.threshold < MAX_THRESHOLD:
        hits = refused(clf)
        if not hits:
            break
        needed, message = max(hits)
        clf = dataclasses.replace(clf, threshold=min(MAX_THRESHOLD, max(clf.threshold, needed) + 1e-6))
        raised_for.append([round(needed, 4), message])
    threshold = clf.threshold
    negatives = out_of_fold[y == 0]
    report = {
        "examples": len(rows),
        "positives": int(y.sum()),
        "recall_target": RECALL_TARGET[name],
        "threshold": round(threshold, 4),
        "recall_threshold": round(recall_threshold, 4),
        "raised_for": raised_for,
        "cv_recall": round(float((positives >= threshold).mean()), 4),
        "cv_false_alarm_rate": round(float((negatives >= threshold).mean()), 4),
        "cv_missed": [rows[int(i)][1] for i in np.flatnonzero((out_of_fold < threshold) & (y == 1))],
        "cv_false_alarms": [rows[int(i)][1] for i in np.flatnonzero((out_of_fold >= threshold) & (y == 0))][
            :30
        ],
    }
    return clf, report


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def save(classifiers: dict[str, MeaningClassifier], reports: dict[str, Any], model: str) -> Path:
    payload = {
        "embedding_model": model,
        "data_sha256": data_fingerprint(),
        "classifiers": {
            n: {
                "bias": c.bias,
                "threshold": c.threshold,
                "weights": _floats(c.weights),
                "vocabulary": c.vocabulary,
                "idf": _floats(c.idf),
                "word_weights": _floats(c.word_weights),
            }
            for n, c in classifiers.items()
        },
        "training": reports,
    }
    WEIGHTS.write_text(json.dumps(payload, sort_keys=True) + "\n", encoding="utf-8")
    return WEIGHTS


def load(path: Path = WEIGHTS) -> dict[str, MeaningClassifier]:
    payload = json.loads(path.read_text(encoding="utf-8"))
    return {
        n: MeaningClassifier(
            n,
            np.asarray(c["weights"], dtype=np.float32),
            float(c["bias"]),
            float(c["threshold"]),
            {str(k): int(v) for k, v in c["vocabulary"].items()},
            np.asarray(c["idf"], dtype=np.float32),
            np.asarray(c["word_weights"], dtype=np.float32),
        )
        for n, c in payload["classifiers"].items()
    }


def stored_fingerprint(path: Path = WEIGHTS) -> str:
    return str(json.loads(path.read_text(encoding="utf-8"))["data_sha256"])
