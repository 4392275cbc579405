"""Building a question's options: wrong answers that are plausible (a neighbouring timescale, another
role, another edition's wording), the options shuffled with the right one recorded, and its citation."""

from __future__ import annotations

import random
import re
from typing import Literal

from safeguide.quiz.questions import EDITION_LABEL, OPTIONS, Difficulty, Question, QuizCitation
from safeguide.retrieval.citations import normalise, passage_at
from safeguide.retrieval.hybrid import IndexReader
from safeguide.timescales.rules import UNIT_WORDS

# ------------------------------------------------------------------------------------------------- helpers

_NEIGHBOUR_UNITS = {
    "working_days": ("calendar_days", "weeks"),
    "calendar_days": ("working_days", "weeks"),
    "weeks": ("working_days", "months"),
    "months": ("weeks", "years"),
    "hours": ("working_days", "minutes"),
    "minutes": ("hours",),
    "years": ("months",),
}
_PAGE_REF = re.compile(r"\s*\((?:p ?\d+[^)]*|\d+\.\d+[^)]*)\)")
_NOT_TERMS = {
    "this",
    "it",
    "there",
    "that",
    "these",
    "the plan",
    "the report",
    "the guidance",
    "this section",
}


def _duration(amount: int, unit: str) -> str:
    one, many = UNIT_WORDS[unit]
    return f"{amount} {one if amount == 1 else many}"


def _edition(edition: str) -> str:
    return EDITION_LABEL.get(edition, f"WT {edition}")


def _role_name(agent: str) -> str:
    a = re.sub(r"^(?:The|the|A|a|All|Each|Every)\s+", "", agent).strip()
    return a[0].upper() + a[1:] if a[:1].islower() else a


def _same_role(a: str, b: str) -> bool:
    """ "LSCB" and "LSCBs", "chair" and "conference chair": too close to be a fair wrong answer."""
    x, y = normalise(a).rstrip("s"), normalise(b).rstrip("s")
    return x in y or y in x


def _citation(reader: IndexReader, i: int) -> QuizCitation:
    return QuizCitation(
        **passage_at(reader.metas, reader.texts, i).public(), edition=reader.metas[i]["edition"]
    )


def _pick_wrong(
    right: str,
    near: list[tuple[str, str]],
    far: list[tuple[str, str]],
    rng: random.Random,
    difficulty: Difficulty,
) -> list[tuple[str, str]] | None:
    """Three distinct wrong answers, none equal to the right one. Hard: near misses first; easy: far ones."""
    seen = {normalise(right)}

    def unique(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for text, why in items:
            if normalise(text) not in seen and text.strip():
                seen.add(normalise(text))
                out.append((text, why))
        return out

    near_u = unique(list(near))
    far_u = unique(list(far))
    rng.shuffle(near_u)
    rng.shuffle(far_u)
    if difficulty == "hard":
        order = near_u + far_u
    elif difficulty == "easy":
        order = far_u + near_u
    else:
        order = near_u[:2] + far_u + near_u[2:]
    if len(order) < OPTIONS - 1:
        return None
    return order[: OPTIONS - 1]


def _assemble(
    kind: Literal["timescale", "responsibility", "definition", "change"],
    qid: str,
    stem: str,
    right: str,
    right_feedback: str,
    wrong: list[tuple[str, str]],
    cite: QuizCitation,
    rng: random.Random,
    evidence: str = "",
) -> Question:
    options = [(right, right_feedback)] + [(t, f"Not this: {why}.") for t, why in wrong]
    rng.shuffle(options)
    answer = next(i for i, (t, _) in enumerate(options) if t == right)
    return Question(
        id=qid,
        kind=kind,
        stem=stem,
        options=[t for t, _ in options],
        answer_index=answer,
        feedback=[f for _, f in options],
        citation=cite,
        evidence=evidence,
    )
