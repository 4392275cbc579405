"""'What do I do next?' situations (issue 13): does the answer give a correct next step, cited?

`eval/golden/next_steps.jsonl` holds practitioner situations written before the pathway was built, each
with the paragraphs a correct answer may cite and, where the situation gives a date, the deadlines that
must be right; `next_steps_heldout2.jsonl` holds 28 more in other voices, written before the second round
of work, and `next_steps_set3.jsonl` 30 more (2026-12-07), its odd rows for development (dev3) and its even
rows held out (heldout3). Reported separately for the development rows, the held-out rows (every third of
the first file), held-out set 2 and set 3's two halves:

- answered with a cited correct next step: the answer is not a refusal or "does not answer", and a
  paragraph it cites ([n] in its text) is one of the expected ones;
- wrong or uncited deadlines: an expected deadline missing or different, or a deadline given without a
  citation (target 0);
- another edition cited: the situation names one edition ("under WT 2010") and does not ask what
  changed, and the answer cites a document of another edition (target 0).

    python -m eval.next_steps        # extractive mode; writes eval/results/next_steps-extractive.json
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from safeguide.chat.answers import COMPARE, NOT_ANSWERED, YEARS, Answer, Source
from safeguide.chat.chain import AnswerChain

GOLDEN = Path(__file__).resolve().parent / "golden" / "next_steps.jsonl"
HELDOUT2 = GOLDEN.with_name("next_steps_heldout2.jsonl")
SET3 = GOLDEN.with_name("next_steps_set3.jsonl")
SPLITS = ("dev", "heldout", "heldout2", "dev3", "heldout3")
RESULTS = Path(__file__).resolve().parent / "results"


def load() -> list[dict[str, Any]]:
    rows = [
        json.loads(x)
        for path in (GOLDEN, HELDOUT2, SET3)
        for x in path.read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    return [r for r in rows if "id" in r]


def _used(answer: Answer) -> list[Source]:
    """The sources the answer's text cites ([n] in it)."""
    used = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    return [s for s in answer.citations if s.n in used]


def cited(answer: Answer) -> list[tuple[str, str | None, str]]:
    """(document, paragraph, heading) of each source the answer's text cites."""
    return [(s.doc_id, s.paragraph, s.heading) for s in _used(answer)]


def _matches(source: tuple[str, str | None, str], expected: list[list[str]]) -> bool:
    doc, paragraph, heading = source
    return any(doc == d and (ref == paragraph or ref in heading.split(" › ")) for d, ref in expected)


def other_editions(situation: str, answer: Answer) -> list[str]:
    """The cited documents of another edition than the one the situation names (none named, or a
    question about what changed: nothing to check)."""
    named = set(YEARS.findall(situation))
    if len(named) != 1 or COMPARE.search(situation):
        return []
    return sorted({s.doc_id for s in _used(answer) if s.edition not in named})


def judge(row: dict[str, Any], answer: Answer) -> dict[str, Any]:
    expect = row["expect"]
    sources = cited(answer)
    answered = not answer.refused and not answer.answer.startswith(NOT_ANSWERED)
    right = answered and any(_matches(s, expect["cites"]) for s in sources)
    deadline_problems: list[str] = []
    for want in expect["deadlines"]:
        got = [t["due"] for t in answer.timescales if want["event"] in (t.get("event"), t["rule_id"])]
        if want["due"] not in got:
            deadline_problems.append(f"{want['event']}: expected {want['due']}, got {got or 'none'}")
    for t in answer.timescales:
        if not t.get("citation"):
            deadline_problems.append(f"{t['rule_id']}: due {t['due']} without a citation")
    return {
        "id": row["id"],
        "split": row["split"],
        "answered": answered,
        "cited_correct_step": right,
        "deadline_problems": deadline_problems,
        "other_editions": other_editions(row["situation"], answer),
        "cited": [f"{d} {p or h}" for d, p, h in sources],
        "timescales": [f"{t['rule_id']} {t['due']}" for t in answer.timescales],
    }


def run(chain: AnswerChain) -> dict[str, Any]:
    judged = []
    for row in load():
        answer = chain.answer(row["situation"], authority=row["area"], today=date.fromisoformat(row["today"]))
        judged.append(judge(row, answer))
    report: dict[str, Any] = {}
    for split in SPLITS:
        part = [j for j in judged if j["split"] == split]
        report[split] = {
            "situations": len(part),
            "answered": round(sum(j["answered"] for j in part) / len(part), 3),
            "cited_correct_step": round(sum(j["cited_correct_step"] for j in part) / len(part), 3),
            "wrong_or_uncited_deadlines": sum(len(j["deadline_problems"]) for j in part),
            "another_edition_cited": sum(bool(j["other_editions"]) for j in part),
        }
    report["rows"] = judged
    return report


def main() -> None:
    from eval.run import _chain

    report = run(_chain("extractive"))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "next_steps-extractive.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for split in SPLITS:
        print(split, report[split])


if __name__ == "__main__":
    main()
