"""`safeguide eval`: run the evaluation suites, print a table, write results and a plot.

Suites: retrieval (four systems side by side), answers (the chain on the golden questions), timescales
(hand-worked due dates), safety (refusals, 999 notice, redaction, no invented deadlines), compare (the
2010 -> 2018 comparison against hand-labelled changes), quiz (time to build 20-question quizzes, share of
candidates rejected), or all.
Results go to ``eval/results/<suite>.json`` (with ``-<backend>`` for answers and safety) and plots to
``eval/results/<suite>.png``; they are committed so every change shows up as a diff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from eval.retrieval import HERE, RESULTS, load_golden

SUITES = ("retrieval", "answers", "timescales", "safety", "compare", "quiz")
TIMESCALES = HERE / "golden" / "timescales.jsonl"


def run_timescales(progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Every hand-worked case must come out to the day (exactness must be 1.0)."""
    from safeguide.services import build_calendar, build_rules
    from safeguide.settings import get_settings
    from safeguide.timescales.questions import find_timescale_requests
    from safeguide.timescales.rules import due

    settings = get_settings()
    rules = build_rules(settings)
    cases = [json.loads(x) for x in TIMESCALES.read_text().splitlines() if x.strip()]
    wrong: list[dict[str, str]] = []
    for c in cases:
        calendar = build_calendar(settings, c.get("authority"))
        if "question" in c:
            requests = find_timescale_requests(
                c["question"], date.fromisoformat(c["today"]), rules, c.get("authority")
            )
            got = [
                (r.rule_id, due(rules.get(r.rule_id), r.start, calendar).due.isoformat()) for r in requests
            ]
            ok = (c["rule_id"], c["due"]) in got
            shown = str(got)
        else:
            shown = due(rules.get(c["rule_id"]), date.fromisoformat(c["start"]), calendar).due.isoformat()
            ok = shown == c["due"]
        if not ok:
            wrong.append({"id": c["id"], "expected": c["due"], "got": shown})
        if progress is not None:
            progress()
    return {"cases": len(cases), "exact": round(1 - len(wrong) / len(cases), 4), "wrong": wrong}


def _chain(backend: str) -> Any:
    from safeguide.models import build_model
    from safeguide.services import build_chain, build_retriever, build_rules
    from safeguide.settings import get_settings

    settings = get_settings().model_copy(update={"llm_backend": backend})
    model = build_model(settings)
    if model[2]:
        raise SystemExit(model[2])
    return build_chain(settings, build_retriever(settings), build_rules(settings), model)


def run_suite(suite: str, backend: str, limit: int | None, progress: Callable[[], None]) -> dict[str, Any]:
    if suite == "timescales":
        return run_timescales(progress)
    if suite in ("compare", "quiz"):
        from eval.compare import run_compare
        from eval.quiz import run_quiz
        from safeguide.quiz.builder import QuizBuilder

        chain = _chain(backend)
        comparer = chain.comparer
        assert comparer is not None
        if suite == "compare":
            return run_compare(comparer)
        builder = QuizBuilder(chain.retriever.reader, chain.rules, comparer, chain.model)
        return run_quiz(builder, reword=chain.model is not None, progress=progress)
    if suite == "retrieval":
        from eval.retrieval import run_all
        from ingest.store import IndexLocation
        from safeguide.services import build_embedder
        from safeguide.settings import get_settings

        settings = get_settings()
        location = IndexLocation(settings.index_root, settings.chroma_url)
        location.require_current()
        return run_all(location, settings.corpus_dir, build_embedder(settings))
    from eval.answers import TODAY, run_answers, run_safety

    chain = _chain(backend)
    if suite == "answers":
        golden = load_golden()[:limit] if limit else load_golden()
        return run_answers(chain, golden, progress)
    from eval.safety_heldout import HELDOUT_SETS, run_safety_heldout

    report = run_safety(chain, progress)
    for key, path in HELDOUT_SETS.items():
        report[key] = run_safety_heldout(chain, progress, TODAY, path)
    return report


def result_path(suite: str, backend: str) -> Path:
    name = suite if suite in ("retrieval", "timescales") else f"{suite}-{backend}"
    return RESULTS / f"{name}.json"


def table(suite: str, report: dict[str, Any]) -> str:
    if suite == "retrieval":
        from eval.retrieval import markdown_table

        return markdown_table(report)
    flat = {k: v for k, v in report.items() if not isinstance(v, (dict, list))}
    flat.update({f"{k} p50": v["p50"] for k, v in report.items() if isinstance(v, dict) and "p50" in v})
    return "\n".join(f"| {k} | {v} |" for k, v in flat.items())


def plot(suite: str) -> Path | None:
    """Systems (retrieval) or backends (answers) side by side, from the committed results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if suite == "retrieval":
        report = json.loads((RESULTS / "retrieval.json").read_text())
        metrics = ["hit@1", "hit@5", "mrr", "ndcg@10", "para_accuracy"]
        systems = [(s["name"], [s[m] for m in metrics]) for s in report["systems"]]
        title = f"Retrieval on {report['questions']} golden questions"
    elif suite == "answers":
        metrics = ["supported", "citation_precision", "cites_expected", "key_fact_recall"]
        systems = []
        for path in sorted(RESULTS.glob("answers-*.json")):
            r = json.loads(path.read_text())
            if "supported" in r:
                systems.append(
                    (
                        f"{r['mode']} ({r.get('questions', r.get('golden_questions'))} q)",
                        [r.get(m) or 0 for m in metrics],
                    )
                )
        title = "Answers by backend"
    else:
        return None
    if not systems:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(systems)
    for i, (name, values) in enumerate(systems):
        ax.bar([x + i * width for x in range(len(metrics))], values, width, label=name)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(metrics))], metrics)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(systems), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    out = RESULTS / f"{suite}.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
