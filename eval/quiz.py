"""Quiz builder figures: time to build a 20-question quiz and the share of candidates the checks reject.

Five seeds, extractive (no model) or with the configured model rewording stems (each rewording checked).
Every quiz is also re-checked here question by question, so the figures count only usable questions.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from safeguide.quiz.builder import QuizBuilder
from safeguide.quiz.questions import QuizRequest, check_question

SEEDS = (1, 2, 3, 4, 5)


def run_quiz(
    builder: QuizBuilder, reword: bool, progress: Callable[[], None] | None = None
) -> dict[str, Any]:
    times: list[float] = []
    kinds: Counter[str] = Counter()
    candidates = rejected = reworded = reword_rejected = unchanged = broken = questions = 0
    for seed in SEEDS:
        started = time.perf_counter()
        qs, report = builder.build(QuizRequest(n=20, seed=seed, reword=reword))
        times.append((time.perf_counter() - started) * 1000)
        candidates += report.candidates
        rejected += report.rejected
        reworded += report.reworded
        reword_rejected += report.reword_rejected
        unchanged += report.reword_unchanged
        questions += len(qs)
        broken += sum(1 for q in qs if check_question(q))
        kinds.update(q.kind for q in qs)
        if progress is not None:
            progress()
    tried = rejected + questions
    return {
        "mode": "model" if reword and builder.model is not None else "extractive",
        "model": builder.model.name if reword and builder.model is not None else None,
        "quizzes": len(SEEDS),
        "questions_per_quiz": questions / len(SEEDS),
        "build_ms_p50": round(statistics.median(times), 1),
        "build_ms_max": round(max(times), 1),
        "candidates_in_scope": candidates // len(SEEDS),
        "candidates_tried": tried,
        "rejected_by_checks": rejected,
        "rejected_share": round(rejected / tried, 4) if tried else 0.0,
        "rewordings_kept": reworded,
        "rewordings_rejected": reword_rejected,
        "rewordings_unchanged": unchanged,
        "questions_failing_recheck": broken,
        "kinds": dict(sorted(kinds.items())),
    }
