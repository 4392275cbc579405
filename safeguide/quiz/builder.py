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
from functools import partial
from typing import Any

from safeguide.chat.prompts import load_prompt
from safeguide.chat.verify import split_sentences
from safeguide.compare.changes import one_line, stable_id
from safeguide.compare.comparer import Comparer
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.models import ChatModel
from safeguide.quiz.options import (
    _NEIGHBOUR_UNITS,
    _NOT_TERMS,
    _PAGE_REF,
    _assemble,
    _citation,
    _duration,
    _edition,
    _pick_wrong,
    _role_name,
    _same_role,
)
from safeguide.quiz.questions import (
    OPTION_CHARS,
    Difficulty,
    Question,
    QuizCitation,
    QuizError,
    QuizRequest,
    check_question,
    supports,
)
from safeguide.retrieval.citations import find_passage_index, normalise
from safeguide.retrieval.hybrid import IndexReader, tokenize
from safeguide.timescales.rules import UNIT_WORDS, Rule, RuleSet

# Roles and agencies a "who does this?" question may ask about, and offer as wrong answers.
# fmt: off
ROLES = (
    "social worker", "lead social worker", "team manager", "conference chair", "chair", "core group",
    "local authority", "LSCB", "LSCBs", "police", "health visitor", "school", "schools", "GP",
    "safeguarding partners", "child death review partners", "Panel", "LADO", "Designated Professionals",
    "PCTs", "Children's Trust Board", "Early years settings", "YOTs", "Probation", "supervisors",
    "independent LSCB chair", "Local Authority Designated Officer", "referrer", "the registrar",
)
# fmt: on
_ROLE = re.compile(
    r"^(?P<agent>(?:The |the |A |a |All |Each |Every )?(?:"
    + "|".join(re.escape(r) for r in sorted(ROLES, key=len, reverse=True))
    + r"))\s+(?P<verb>should|must|will|is responsible for|are responsible for|has a responsibility to)\s+"
    r"(?P<rest>[^.;:]{15,200})[.;]?$",
)
_DEFINITION = re.compile(
    r"^(?P<term>[A-Z][\w' -]{2,60}?)\s+(?:is defined as|are those|means|refers to)\s*:?\s+"
    r"(?P<what>.{20,220}?)\.?$"
)


# ---------------------------------------------------------------------------------------------- the builder


@dataclass
class Candidate:
    kind: str
    key: str  # what makes two candidates the same question
    make: Callable[[random.Random, Difficulty], Question | None]
    text: str  # the cited text, for the topic filter


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
        pool = self.candidates(req)
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
        pool = self.candidates(req)
        rng.shuffle(pool)
        for cand in pool:
            q, _ = _made(cand, seed, req.difficulty)
            if q is not None and q.id not in have and normalise(q.stem) not in have:
                return q
        raise QuizError("no other question can be made from this quiz's scope")

    # -------------------------------------------------------------------------------------------- candidates

    def candidates(self, req: QuizRequest) -> list[Candidate]:
        reader = self.reader()
        for e in [req.edition] if req.edition else []:
            if e not in reader.editions:
                raise InvalidQuery(f"unknown edition {e!r}; the index holds {', '.join(reader.editions)}")
        if req.authority and req.authority not in reader.authorities:
            raise InvalidQuery(
                f"unknown area {req.authority!r}; the index holds {', '.join(reader.authorities)}"
            )
        for d in req.doc_ids or []:
            if d not in reader.doc_ids:
                raise InvalidQuery(f"unknown document {d!r}; the index holds {', '.join(reader.doc_ids)}")

        def in_scope(meta: dict[str, Any]) -> bool:
            return (
                (not req.edition or meta["edition"] == req.edition)
                and (not req.authority or meta["authority"] == req.authority)
                and (not req.doc_ids or meta["doc_id"] in req.doc_ids)
            )

        pool = self._timescale_candidates(reader, in_scope)
        pool += self._sentence_candidates(reader, in_scope)
        if self.comparer is not None and req.edition in (None, "2018") and not req.authority:
            pool += self._change_candidates(req)
        if req.topic and req.topic.strip():
            wanted = set(tokenize(req.topic))
            pool = [c for c in pool if wanted <= set(tokenize(c.text))]
        pool.sort(key=lambda c: c.key)  # a stable order, so the seed alone decides the quiz
        return pool

    def _timescale_candidates(
        self, reader: IndexReader, in_scope: Callable[[dict[str, Any]], bool]
    ) -> list[Candidate]:
        out: list[Candidate] = []
        rules = [r for r in self.rules.rules.values() if not r.ambiguous]
        for rule in rules:
            c = rule.citation
            i = find_passage_index(reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence)
            if i is None or not in_scope(reader.metas[i]):
                continue
            cite = _citation(reader, i)
            out.append(
                Candidate(
                    "timescale",
                    f"timescale:{rule.id}",
                    partial(self._timescale_question, rule, rules, cite),
                    f"{cite.heading} {cite.text} {rule.name}",
                )
            )
        return out

    def _timescale_question(
        self, rule: Rule, rules: list[Rule], cite: QuizCitation, rng: random.Random, difficulty: Difficulty
    ) -> Question | None:
        right = rule.duration_text()
        area = "" if rule.authority == "national" else ", " + rule.authority.title()
        where = f"{cite.label} ({_edition(cite.edition)}{area})"
        verb = "at least how long before" if rule.direction == "before" else "within how long of"
        name = rule.name if rule.name[1:2].isupper() else rule.name[0].lower() + rule.name[1:]  # "LADO"
        stem = f"According to {where}, {name}: {verb} the {rule.trigger.replace('-', ' ')}?"
        near: list[tuple[str, str]] = []  # (option, why it is wrong)
        for other_unit in UNIT_WORDS:
            if other_unit != rule.unit and other_unit in _NEIGHBOUR_UNITS.get(rule.unit, ()):
                near.append((_duration(rule.amount, other_unit), "the right number in the wrong unit"))
        for other_id in rule.conflicts_with:
            other = self.rules.get(other_id)
            near.append(
                (
                    other.duration_text(),
                    f"what {_edition(other.editions[0])} / {other.authority} sets ({other.name})",
                )
            )
        for other in rules:
            if other.id != rule.id and other.trigger == rule.trigger and other.amount > 0:
                near.append((other.duration_text(), f"the timescale for another step: {other.name}"))
        far = [
            (o.duration_text(), f"the timescale for another step: {o.name}") for o in rules if o.id != rule.id
        ]
        wrong = _pick_wrong(right, near, far, rng, difficulty)
        if wrong is None:
            return None
        return _assemble(
            "timescale", f"t-{rule.id}", stem, right, f"Right: {rule.as_written} ({cite.label}).", wrong,
            cite, rng,
            evidence=rule.citation.evidence,  # the duration as the paragraph writes it
        )  # fmt: skip

    def _sentence_candidates(
        self, reader: IndexReader, in_scope: Callable[[dict[str, Any]], bool]
    ) -> list[Candidate]:
        roles: list[tuple[int, str, str, str]] = []
        definitions: list[tuple[int, str, str]] = []
        for i, (meta, text) in enumerate(zip(reader.metas, reader.texts, strict=True)):
            if not in_scope(meta) or meta.get("kind") == "comparison":
                continue
            for sentence in split_sentences(text):
                sentence = re.sub(r"\s+", " ", sentence.strip(" -▶•")).strip()
                m = _ROLE.match(sentence)
                if m:
                    roles.append((i, m.group("agent"), m.group("verb"), m.group("rest").strip()))
                    continue
                d = _DEFINITION.match(sentence)
                if d and len(d.group("term").split()) <= 5 and d.group("term").lower() not in _NOT_TERMS:
                    definitions.append((i, d.group("term").strip(), d.group("what").strip()))
        agents_by_edition: dict[str, set[str]] = {}
        for i, a, _, _ in roles:
            agents_by_edition.setdefault(reader.metas[i]["edition"], set()).add(_role_name(a))
        out: list[Candidate] = []
        for i, agent, verb, rest in roles:
            cite = _citation(reader, i)
            agents = sorted(agents_by_edition[cite.edition])  # wrong answers from the same edition
            out.append(
                Candidate(
                    "responsibility",
                    f"role:{reader.ids[i]}:{normalise(rest)[:60]}",
                    partial(self._role_question, cite, agent, verb, rest, agents),
                    f"{cite.heading} {cite.text}",
                )
            )
        meanings = [(t, w) for _, t, w in definitions]
        for i, term, what in definitions:
            cite = _citation(reader, i)
            out.append(
                Candidate(
                    "definition",
                    f"def:{reader.ids[i]}:{normalise(term)}",
                    partial(self._definition_question, cite, term, what, meanings),
                    f"{cite.heading} {cite.text}",
                )
            )
        return out

    def _role_question(
        self, cite: QuizCitation, agent: str, verb: str, rest: str, agents: list[str], rng: random.Random,
        difficulty: Difficulty,
    ) -> Question | None:  # fmt: skip
        right = _role_name(agent)
        stem = f"According to {cite.label} ({_edition(cite.edition)}), who {verb} {rest.rstrip('.')}?"
        others: list[str] = []
        for a in agents:
            if not _same_role(a, right) and not any(_same_role(a, o) for o in others):
                others.append(a)
        wrong = _pick_wrong(
            right,
            [],
            [(a, f"not the role the guidance gives this to ({right})") for a in others],
            rng,
            difficulty,
        )
        if wrong is None:
            return None
        return _assemble(
            "responsibility", f"r-{stable_id(cite.label, rest)}", stem, right,
            f"Right: “{agent} {verb} {rest}” ({cite.label}).", wrong, cite, rng, evidence=agent,
        )  # fmt: skip

    def _definition_question(
        self, cite: QuizCitation, term: str, what: str, meanings: list[tuple[str, str]], rng: random.Random,
        difficulty: Difficulty,
    ) -> Question | None:  # fmt: skip
        stem = f"In {cite.label} ({_edition(cite.edition)}), what does “{term}” describe?"
        right = one_line(what, OPTION_CHARS)
        far = [
            (one_line(w, OPTION_CHARS), f"that describes {t}")
            for t, w in meanings
            if normalise(t) != normalise(term)
        ]
        wrong = _pick_wrong(right, [], far, rng, difficulty)
        if wrong is None:
            return None
        return _assemble(
            "definition", f"d-{stable_id(cite.label, term)}", stem, right,
            f"Right: {term}: {what} ({cite.label}).",
            wrong, cite, rng, evidence=right.rstrip(" …"),
        )  # fmt: skip

    def _change_candidates(self, req: QuizRequest) -> list[Candidate]:
        assert self.comparer is not None
        try:
            comparison = self.comparer.compare("2010", "2018")
        except SafeguideError:
            return []
        earlier = [
            (
                one_line(_PAGE_REF.sub("", c.summary).strip(), OPTION_CHARS),
                "a change WT 2010 made, not one of 2018",
            )
            for c in comparison.earlier
            if len(c.summary.split()) >= 8 and not c.summary.rstrip().endswith(":")
        ]
        out: list[Candidate] = []
        for ch in comparison.changes:
            side = ch.after
            if (
                side is None
                or ch.origin not in ("curated", "statement")
                or (req.doc_ids and side.doc_id not in req.doc_ids)
            ):
                continue
            cite = QuizCitation(
                doc_id=side.doc_id, paragraph=side.paragraph, label=side.citation, text=side.text,
                heading=side.heading, edition=side.edition,
            )  # fmt: skip
            summary = one_line(ch.summary, OPTION_CHARS)
            out.append(
                Candidate(
                    "change",
                    f"change:{ch.id}",
                    partial(self._change_question, ch.id, summary, cite, earlier),
                    f"{ch.topic} {ch.summary} {side.text}",
                )
            )
        return out

    def _change_question(
        self, cid: str, summary: str, cite: QuizCitation, earlier: list[tuple[str, str]], rng: random.Random,
        difficulty: Difficulty,
    ) -> Question | None:  # fmt: skip
        stem = "Which of these is a change made by Working Together 2018 (compared with the 2010 guidance)?"
        wrong = _pick_wrong(summary, [], earlier, rng, difficulty)
        if wrong is None:
            return None
        return _assemble(
            "change", f"c-{cid}", stem, summary, f"Right: a 2018 change ({cite.label}).", wrong, cite, rng,
            evidence=summary.rstrip(" …") if supports(summary.rstrip(" …"), cite.text) else "",
        )  # fmt: skip

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
