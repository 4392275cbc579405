"""Quiz builder: multiple-choice questions, each grounded in one cited paragraph.

Question sources (each candidate names the passage that backs its right answer):

- timescales: "how long after the strategy discussion is the conference due?" from the timescale rules;
  the wrong answers are other rules' durations and the same number in another unit ("15 days" vs
  "15 working days"); a rule that another source sets differently gives its version as a wrong answer;
- responsibilities: "who should ...?" from sentences whose subject is a known role or agency; the wrong
  answers are other roles and agencies the guidance names;
- definitions: "which describes X?" from sentences that define a term;
- changes: "which of these changed in WT 2018?" from the edition comparison; the wrong answers are changes
  that WT 2010 itself introduced (true, but not a 2018 change).

Every kept question passes `check_question`: four or more distinct options, exactly one right answer, and
the right answer's words in the cited text. With a model, stems may be reworded; a rewording is kept only
when it still fits the cited text and does not give the answer away. Same seed, same scope: same quiz.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.lexical import tokenize
from safeguide.chat.prompts import load_prompt
from safeguide.compare.comparer import Comparer
from safeguide.models import ChatModel

# Roles and agencies a "who does this?" question may ask about, and offer as wrong answers.
# fmt: off
from safeguide.quiz.candidates import Candidate, CandidateMaker
from safeguide.quiz.questions import (
    Difficulty,
    Question,
    QuizError,
    QuizRequest,
    check_question,
)
from safeguide.retrieval.citations import normalise
from safeguide.retrieval.hybrid import IndexReader
from safeguide.timescales.rules import RuleSet


@dataclass
class BuildReport:
    candidates: int = 0
    rejected: int = 0
    reworded: int = 0
    reword_rejected: int = 0
    reword_unchanged: int = 0
    seed: int = 0  # the seed used: the request's, or a random one drawn here
    took_ms: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class QuizBuilder:
    reader: Callable[[], IndexReader]
    rules: RuleSet
    comparer: Comparer | None = None
    model: ChatModel | None = None

    def build(self, req: QuizRequest) -> tuple[list[Question], BuildReport]:
        started = time.perf_counter()
        report = BuildReport()
        seed = req.seed if req.seed is not None else random.SystemRandom().randrange(2**31)
        report.seed = seed
        rng = random.Random(seed)
        pool = CandidateMaker(self.rules, self.comparer).candidates(self.reader(), req)
        report.candidates = len(pool)
        rng.shuffle(pool)
        pool = _interleave(pool)  # a mix of kinds, not ten timescales in a row
        out: list[Question] = []
        seen: set[str] = set()
        for cand in pool:
            if len(out) >= req.n:
                break
            if cand.key in seen:
                continue
            q, problems = _made(cand, seed, req.difficulty)
            if q is None:
                report.rejected += 1
                for p in problems:
                    report.reasons[p] = report.reasons.get(p, 0) + 1
                continue
            seen.add(cand.key)
            if req.reword and self.model is not None:
                q = self._reword(q, report)
            out.append(q)
        if not out:
            raise QuizError(
                "no question could be built from that scope: widen it (fewer filters, another topic)"
            )
        report.took_ms = round((time.perf_counter() - started) * 1000, 1)
        return out, report

    def regenerate(self, req: QuizRequest, existing: list[Question], seed: int) -> Question:
        """A new question for the same scope, different from every question already in the quiz."""
        have = {normalise(q.stem) for q in existing} | {q.id for q in existing}
        rng = random.Random(seed)
        pool = CandidateMaker(self.rules, self.comparer).candidates(self.reader(), req)
        rng.shuffle(pool)
        for cand in pool:
            q, _ = _made(cand, seed, req.difficulty)
            if q is not None and q.id not in have and normalise(q.stem) not in have:
                return q
        raise QuizError("no other question can be made from this quiz's scope")

    # -------------------------------------------------------------------------------------------- candidates









    # -------------------------------------------------------------------------------------------- rewording

    def _reword(self, q: Question, report: BuildReport) -> Question:
        """Ask the model to reword the stem; keep the rewording only if it passes the checks."""
        assert self.model is not None
        prompt = load_prompt("quiz_reword").render(stem=q.stem)
        try:
            reply = self.model.complete([{"role": "user", "content": prompt}], max_tokens=90).strip()
        except Exception:  # a model failure keeps the checked original
            reply = ""
        reply = reply.splitlines()[0].strip().strip('"') if reply else ""
        right = q.options[q.answer_index]
        keep = (
            reply.endswith("?")
            and 15 <= len(reply) <= 300
            and normalise(right) not in normalise(reply)
            and len(set(tokenize(reply)) - set(tokenize(q.stem + " " + q.citation.text))) <= 2
            and all(n in reply for n in re.findall(r"\d+", q.stem))
        )
        if keep and normalise(reply) == normalise(q.stem):
            report.reword_unchanged += 1  # the model gave the question back as it was
            return q
        if not keep:
            report.reword_rejected += 1
            return q
        report.reworded += 1
        return q.model_copy(update={"stem": reply, "reworded": True})


def _made(cand: Candidate, seed: int, difficulty: Difficulty) -> tuple[Question | None, list[str]]:
    """The candidate's question (its own random stream, so the seed alone decides it) if it passes
    every check; else None and why not."""
    q = cand.make(random.Random(f"{seed}:{cand.key}"), difficulty)
    if q is None:
        return None, ["no plausible wrong answers"]
    problems = check_question(q)
    return (None, problems) if problems else (q, [])


def _interleave(pool: list[Candidate]) -> list[Candidate]:
    by_kind: dict[str, list[Candidate]] = {}
    for c in pool:
        by_kind.setdefault(c.kind, []).append(c)
    out: list[Candidate] = []
    queues = [by_kind[k] for k in sorted(by_kind)]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out
