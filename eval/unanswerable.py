"""Questions the documents do not answer (eval/golden/not_in_guidance.jsonl): how many get a quotation.

The extractive composer quotes a sentence only when it is close in meaning to the question and shares a
key word with it; neither test knows what the documents cover, so some of these still get a sentence
about something else. Reported, not gated: the figure is a weakness to watch, not a target met.

    python -m eval.unanswerable      # extractive mode
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safeguide.chat.answers import NOT_ANSWERED
from safeguide.chat.chain import AnswerChain

GOLDEN = Path(__file__).resolve().parent / "golden" / "not_in_guidance.jsonl"


def run(chain: AnswerChain) -> dict[str, Any]:
    rows = [json.loads(x) for x in GOLDEN.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if "id" in r]
    quoted: list[str] = []
    refused: list[str] = []
    for r in rows:
        answer = chain.answer(r["question"])
        if answer.refused:
            refused.append(r["id"])
        elif not answer.answer.startswith(NOT_ANSWERED):
            quoted.append(r["id"])
    return {"questions": len(rows), "given_a_quotation": len(quoted), "quoted": quoted, "refused": refused}


def main() -> None:
    from eval.run import _chain

    print(json.dumps(run(_chain("extractive"))))


if __name__ == "__main__":
    main()
