"""The edition comparison against hand-labelled changes (eval/golden/changes.jsonl).

Each label is a real change between WT 2010 and WT 2018 written from the corpus, with `match`: groups of
phrases, and a reported change matches a label when, for every group, one of its phrases is in the
change's topic or summary (case and quotes folded). recall = labels matched by some reported change;
precision = reported changes that match some label (a second change matching an already matched label is
real, and is counted as a duplicate as well).
"""

from __future__ import annotations

import json
import time
from typing import Any

from eval.retrieval import HERE
from safeguide.compare.changes import Change
from safeguide.compare.comparer import Comparer
from safeguide.retrieval.citations import normalise

LABELS = HERE / "golden" / "changes.jsonl"


def load_labels() -> list[dict[str, Any]]:
    return [json.loads(x) for x in LABELS.read_text(encoding="utf-8").splitlines() if x.strip()]


def matches(change: Change, label: dict[str, Any]) -> bool:
    text = normalise(f"{change.topic} {change.summary}")
    return all(any(normalise(p) in text for p in group) for group in label["match"])


def score(changes: list[Change], labels: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, list[str]] = {lab["id"]: [] for lab in labels}
    unmatched: list[str] = []
    for ch in changes:
        hits = [lab["id"] for lab in labels if matches(ch, lab)]
        for h in hits:
            found[h].append(ch.id)
        if not hits:
            unmatched.append(f"{ch.id}: {ch.summary[:100]}")
    real = len(changes) - len(unmatched)
    return {
        "labels": len(labels),
        "reported": len(changes),
        "recall": round(sum(1 for v in found.values() if v) / len(labels), 4),
        "precision": round(real / len(changes), 4) if changes else 0.0,
        "duplicates": sum(max(0, len(v) - 1) for v in found.values()),
        "missed": [lab["id"] + ": " + lab["change"] for lab in labels if not found[lab["id"]]],
        "not_in_labels": unmatched,
    }


def run_compare(comparer: Comparer) -> dict[str, Any]:
    """The full 2010 -> 2018 comparison from a cold cache; with a model, its summaries too."""
    labels = load_labels()
    comparer._cache.clear()
    comparer._summaries.clear()
    started = time.perf_counter()
    comparison = comparer.compare("2010", "2018", summaries="model" if comparer.model else "source")
    took = (time.perf_counter() - started) * 1000
    by_origin: dict[str, int] = {}
    for ch in comparison.changes:
        by_origin[ch.origin] = by_origin.get(ch.origin, 0) + 1
    by_summary: dict[str, int] = {}
    for ch in comparison.changes:
        by_summary[ch.summary_by] = by_summary.get(ch.summary_by, 0) + 1
    return {
        "from": "2010",
        "to": "2018",
        "summaries": comparer.model.name if comparer.model else "source",
        "summary_by": by_summary,
        "unsupported_summaries": sum(1 for ch in comparison.changes if ch.words_supported()),
        "build_ms": round(took, 1),
        "changes": len(comparison.changes),
        "by_origin": by_origin,
        "with_before": sum(1 for ch in comparison.changes if ch.before is not None),
        "before_aligned": sum(1 for ch in comparison.changes if ch.aligned),
        "earlier": len(comparison.earlier),
        **score(comparison.changes, labels),
    }
