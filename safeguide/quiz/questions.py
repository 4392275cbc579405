"""What a quiz question is (stem, options, the right answer, feedback, the paragraph it rests on), what a
quiz request may ask for, and the checks every question must pass against its source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ingest.lexical import tokenize
from safeguide.errors import SafeguideError
from safeguide.retrieval.citations import normalise

Difficulty = Literal["easy", "medium", "hard"]
MAX_QUESTIONS = 50
OPTIONS = 4
OPTION_CHARS = 160  # an option longer than this is cut at a word, with “ …”
EDITION_LABEL = {"pre-2010": "guidance before WT 2010"}


class QuizCitation(BaseModel):
    doc_id: str
    paragraph: str | None
    label: str
    text: str
    heading: str = ""
    edition: str = ""


class Question(BaseModel):
    id: str
    kind: Literal["timescale", "responsibility", "definition", "change"]
    stem: str
    options: list[str]
    answer_index: int
    feedback: list[str]
    citation: QuizCitation
    evidence: str = Field(default="", description="The words of the cited text that make the answer right.")
    reworded: bool = False


class QuizRequest(BaseModel):
    n: int = Field(default=10, ge=1, le=MAX_QUESTIONS)
    seed: int | None = Field(default=None, ge=0, le=2**31)
    doc_ids: list[str] | None = Field(default=None, max_length=50)
    edition: str | None = Field(default=None, max_length=20)
    authority: str | None = Field(default=None, max_length=60)
    topic: str | None = Field(default=None, max_length=200)
    difficulty: Difficulty = "medium"
    reword: bool = Field(default=False, description="With a model: reword stems (each checked).")


class QuizError(SafeguideError):
    """The scope holds too few questions, or an edit would break a question."""


# ------------------------------------------------------------------------------------------------- checks


def supports(answer: str, text: str) -> bool:
    """Are the right answer's words in the cited text? (Numbers folded: "fifteen" = "15".)"""
    want = set(tokenize(answer))
    return bool(want) and want <= set(tokenize(text))


def backed(right: str, evidence: str, text: str) -> bool:
    """The right answer is in the cited text, or the evidence phrase is, and the answer is the evidence's:
    every number of the answer and at least half its words ("6 weeks" from "six-weekly")."""
    if supports(right, text):
        return True
    if not evidence or not supports(evidence, text):
        return False
    mine, theirs = set(tokenize(right)), set(tokenize(evidence))
    numbers = {t for t in mine if t.isdigit()}
    return numbers <= theirs and len(mine & theirs) * 2 >= len(mine)


def check_question(q: Question) -> list[str]:
    """Why a question cannot be used (empty when it can)."""
    problems = []
    if not q.stem.strip():
        problems.append("the stem is empty")
    if len(q.options) < OPTIONS:
        problems.append(f"it needs at least {OPTIONS} options")
    if len({normalise(o) for o in q.options}) != len(q.options) or any(not o.strip() for o in q.options):
        problems.append("the options must be distinct and not empty")
    if not 0 <= q.answer_index < len(q.options):
        problems.append("the right answer must be one of the options")
    elif not backed(q.options[q.answer_index], q.evidence, q.citation.text):
        problems.append("the cited text does not back the right answer")
    if len(q.feedback) != len(q.options):
        problems.append("each option needs its feedback")
    return problems
