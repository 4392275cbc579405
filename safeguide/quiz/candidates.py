"""Candidate questions, each naming the paragraph that backs its right answer: timescales from the
reviewed rules, who does what (a role and a duty in one sentence), definitions, and edition changes."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ingest.lexical import tokenize
from safeguide.chat.verify import split_sentences
from safeguide.compare.changes import one_line, stable_id
from safeguide.compare.comparer import Comparer
from safeguide.errors import InvalidQuery, SafeguideError
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
    QuizRequest,
    supports,
)
from safeguide.retrieval.citations import find_passage_index, normalise
from safeguide.retrieval.hybrid import IndexReader
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
class CandidateMaker:
    """Every candidate question a request allows, from the index, the reviewed rules and the comparison."""

    rules: RuleSet
    comparer: Comparer | None = None

    def candidates(self, reader: IndexReader, req: QuizRequest) -> list[Candidate]:
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

        pool = self.timescale_candidates(reader, in_scope)
        pool += self.sentence_candidates(reader, in_scope)
        if self.comparer is not None and req.edition in (None, "2018") and not req.authority:
            pool += self.change_candidates(req)
        if req.topic and req.topic.strip():
            wanted = set(tokenize(req.topic))
            pool = [c for c in pool if wanted <= set(tokenize(c.text))]
        pool.sort(key=lambda c: c.key)  # a stable order, so the seed alone decides the quiz
        return pool

    def timescale_candidates(
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
                    partial(self.timescale_question, rule, rules, cite),
                    f"{cite.heading} {cite.text} {rule.name}",
                )
            )
        return out

    def timescale_question(
        self, rule: Rule, rules: list[Rule], cite: QuizCitation, rng: random.Random, difficulty: Difficulty
    ) -> Question | None:
        right = rule.duration_text()
        area = "" if rule.authority == "national" else ", " + rule.authority.title()
        where = f"{cite.label} ({_edition(cite.edition)}{area})"
        verb = "at least how long before" if rule.direction == "before" else "within how long of"
        name = rule.name if rule.name[1:2].isupper() else rule.name[0].lower() + rule.name[1:]  # "LADO"
        stem = f"According to {where}, {name}: {verb} the {self.rules.said(rule.trigger)}?"
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

    def sentence_candidates(
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
                    partial(self.role_question, cite, agent, verb, rest, agents),
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
                    partial(self.definition_question, cite, term, what, meanings),
                    f"{cite.heading} {cite.text}",
                )
            )
        return out

    def role_question(
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

    def definition_question(
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

    def change_candidates(self, req: QuizRequest) -> list[Candidate]:
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
                    partial(self.change_question, ch.id, summary, cite, earlier),
                    f"{ch.topic} {ch.summary} {side.text}",
                )
            )
        return out

    def change_question(
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
