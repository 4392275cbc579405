"""What the answer pipeline's stages (``safeguide.chat.pipeline``) call on: each route's answer (refusals,
timescales, next steps, edition comparison, a cited answer from the passages), drafting, quoting and
checking, and the notices and provenance every answer carries.

Every answer says which edition and authority it rests on and flags superseded guidance (fixed text
from document metadata, never from a model). Dates come only from the timescales module. A child in
immediate danger always gets the fixed 999 notice. Personal details are removed before anything is
logged, stored or sent to a model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from safeguide.chat.pathway import Navigator, Placement, Step
from safeguide.chat.pipeline import Pipeline, Turn, answer_turn
from safeguide.chat.prompts import load_prompt
from safeguide.chat.verify import Verified, judge_answer, split_sentences, verify
from safeguide.compare.comparer import Comparer
from safeguide.errors import SafeguideError
from safeguide.models import ChatModel
from safeguide.retrieval.citations import find_passage_index, passage_at
from safeguide.retrieval.hybrid import Filters, HybridRetriever, PassageOut, SearchResult, tokenize
from safeguide.safety import CheckedInput, SafetyGuard
from safeguide.timescales.calendar import CONVENTIONS, WorkingCalendar, long_date
from safeguide.timescales.rules import Rule, RuleSet, due

EDITION_NAMES = {
    "pre-2010": "guidance before WT 2010",
    "2010": "WT 2010",
    "2013": "WT 2013",
    "2015": "WT 2015",
    "2018": "WT 2018",
    "2023": "WT 2023",
}
SUPERSEDED_BY = {"pre-2010": "2010", "2010": "2013", "2013": "2015", "2015": "2018", "2018": "2023"}
CURRENT = "2023"
NOT_ANSWERED = "The guidance held does not answer this. The closest passages are listed below."
TODAY_WORDS = re.compile(
    r"\b(?:today|this\s+(?:morning|afternoon|evening)|just\s+now|an\s+hour\s+ago)\b", re.I
)
GENERIC = frozenset(
    tokenize(
        "child children young people person social care worker work safeguarding welfare "
        "protection guidance procedure staff practitioner should must"
    )
)
EXTRACT_MIN_COSINE = 0.5
RELEVANCE_MIN_COSINE = 0.4
OFF_TOPIC_MAX_COSINE = 0.4
ECHO = re.compile(r"^\s*(?:sources:|question:|answer:|\[\d+\]\s*\()", re.IGNORECASE)
COMPARE = re.compile(r"\b(?:chang\w*|differen\w*|compare\w*|new\s+in|replac\w*)\b", re.IGNORECASE)
YEARS = re.compile(r"\b(2010|2013|2015|2018|2023)\b")
COMPARE_MAX_LINES = 6
COMPARE_FILLER = frozenset(
    tokenize(
        "what how has have changed change changes between from since in the edition editions working "
        "together wt guidance about for regarding tell me please difference differences new compare "
        "did does do replaced replace wording"
    )
)
PLACEHOLDER = re.compile(r"\[[a-zA-Z ]+ removed\]")


class Source(SearchResult):
    """A retrieved passage as an answer cites it: [n]."""

    n: int

    def public(self) -> dict[str, Any]:
        return {"n": self.n, **self.model_dump(include=set(PassageOut.model_fields) - {"score"})}


@dataclass
class Answer:
    answer: str
    citations: list[Source]
    timescales: list[dict[str, Any]]
    refused: bool
    notices: list[str]
    mode: str
    provenance: dict[str, Any]
    question: str  # the redacted question, the only form ever stored
    draft: str = ""
    verified: Verified | None = None

    def public(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [s.public() for s in self.citations],
            "timescales": self.timescales,
            "refused": self.refused,
            "notices": self.notices,
            "mode": self.mode,
            "provenance": self.provenance,
        }


@dataclass
class AnswerChain:
    retriever: HybridRetriever
    rules: RuleSet
    calendar: Callable[[str | None], WorkingCalendar]
    model: ChatModel | None = None
    mode: str = "extractive"
    k: int = 4
    max_chars: int = 2000
    doc_hashes: dict[str, str] = field(default_factory=dict)
    fallback_notice: str | None = None
    comparer: Comparer | None = None
    model_sources: int = 3
    model_source_chars: int = 700
    guard: SafetyGuard | None = None
    navigator: Navigator | None = None  # "what do I do next?" on the pathway (corpus/pathway.toml)

    def safety(self) -> SafetyGuard:
        """The input checks (built on first use, sharing the retriever's embedder and its cache)."""
        if self.guard is None:
            self.guard = SafetyGuard(self.retriever.embedder, max_chars=self.max_chars)
        return self.guard

    # -------------------------------------------------------------------------------------------- entry

    @cached_property
    def pipeline(self) -> Pipeline:
        """The stages as a LangChain runnable (``safeguide.chat.pipeline``)."""
        return Pipeline(self)

    def answer(
        self,
        question: str,
        edition: str | None = None,
        authority: str | None = None,
        today: date | None = None,
        history: list[str] | None = None,
        on_sources: Callable[[list[Source]], None] | None = None,
        on_token: Callable[[str], None] | None = None,
        on_checked: Callable[[CheckedInput], None] | None = None,
    ) -> Answer:
        listeners = {
            name: listener
            for name, listener in (("checked", on_checked), ("sources", on_sources), ("token", on_token))
            if listener is not None
        }
        turn = Turn(question, edition, authority, today or date.today(), list(history or []))
        return answer_turn(self, turn, listeners)

    # -------------------------------------------------------------------------------------------- routes

    def _refusal(self, checked: CheckedInput, notices: list[str], text: str, reason: str) -> Answer:
        provenance = self._provenance([], [], None)
        provenance["safety"] = {"fired": checked.why, "removed": checked.personal_data}
        provenance["refusal"] = reason
        return Answer(text, [], [], True, notices, self.mode, provenance, checked.text)

    def _timescale_answer(
        self, checked: CheckedInput, requests: list[Any], authority: str | None, notices: list[str]
    ) -> Answer:
        reader = self.retriever.reader()
        sources: list[Source] = []
        lines: list[str] = []
        out: list[dict[str, Any]] = []
        for req in requests:
            rule = self.rules.get(req.rule_id)
            result = due(rule, req.start, self.calendar(authority))
            c = rule.citation
            idx = find_passage_index(reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence)
            n = None if idx is None else self._add_source(sources, reader.result(idx, 0.0, None, None))
            marker = f" [{n}]" if n else ""
            verb = "is due by" if rule.direction == "after" else "must be done by"
            lines.append(
                f"{rule.name} {verb} {result.due_text}: {rule.duration_text()} "
                f"{rule.direction} the {req.trigger.replace('-', ' ')} on {long_date(req.start)}, "
                f"under {_whose(rule, own=True)}.{marker}"
            )
            notices.extend(self._rule_notices(rule))
            notices.extend(result.warnings)
            out.append(self._timescale_out(rule, req.start, result))
            for other in rule.conflicts_with:
                o = self.rules.get(other)
                notices.append(
                    f"Another source sets this differently: {o.name}, {o.duration_text()} "
                    f"({o.authority}, {'/'.join(EDITION_NAMES.get(e, e) for e in o.editions)})."
                )
        notices.append("Counted as: " + CONVENTIONS["working_day"] + "; " + CONVENTIONS["day_zero"] + ".")
        notices.extend(self._edition_notices(sources))
        return Answer(
            " ".join(lines),
            sources,
            out,
            False,
            _unique(notices),
            self.mode,
            self._provenance(sources, [t["rule_id"] for t in out], None),
            checked.text,
        )

    # ----------------------------------------------------------------------------------- next steps

    def _step_source(self, sources: list[Source], doc: str, ref: str) -> int | None:
        reader = self.retriever.reader()
        idx = find_passage_index(reader.metas, reader.texts, doc, ref, None, "")
        if idx is None:
            idx = find_passage_index(reader.metas, reader.texts, doc, None, ref, "")
        return None if idx is None else self._add_source(sources, reader.result(idx, 0.0, None, None))

    def _step_rule(self, step: Step, authority: str | None) -> Rule | None:
        """The rule that times a step in the user's area (its own first), if any."""
        if not step.event:
            return None
        applicable = [r for r in self.rules.for_authority(authority) if r.event == step.event]
        ranked = sorted(
            applicable, key=lambda r: (r.kind not in ("deadline", "interval"), r.direction != "after")
        )
        return ranked[0] if ranked else None

    def _next_steps_answer(
        self,
        checked: CheckedInput,
        placement: Placement,
        authority: str | None,
        today: date,
        notices: list[str],
    ) -> Answer:
        assert self.navigator is not None
        steps = self.navigator.pathway.following(placement.step, authority)
        sources: list[Source] = []
        lines = ["Next steps:"]
        out: list[dict[str, Any]] = []
        other_areas: set[str] = set()
        for step in steps:
            marks: list[int] = []
            for doc, ref in step.cites:
                n = self._step_source(sources, doc, ref)
                if n is not None:
                    marks.append(n)
                    source = sources[n - 1]
                    if authority and source.authority not in ("national", authority.lower()):
                        other_areas.add(source.authority)
                if len(marks) == 2:
                    break
            timing = ""
            timed = self._step_timing(step, authority, sources)
            if timed is not None:
                rule, n, span = timed
                if n not in marks:
                    marks.append(n)
                timing = f" {span[0].upper()}{span[1:]} ({_whose(rule)})."
                if (
                    rule.kind == "deadline"
                    and rule.direction == "after"
                    and self._starts_today(rule, steps[0], checked.text)
                ):
                    result = due(rule, today, self.calendar(authority))
                    trigger = rule.trigger.replace("-", " ")
                    lead = (
                        f"If the {trigger} is today"
                        if rule.trigger == steps[0].event
                        else f"The {trigger} was today"
                    )
                    timing += f" {lead}: due by {result.due_text}."
                    out.append(self._timescale_out(rule, today, result))
                    notices.extend(result.warnings)
                notices.extend(self._rule_notices(rule))
            if not marks:
                continue  # a step is given only with a paragraph that says so
            cite = "".join(f" [{m}]" for m in marks)
            lines.append(f"{len(lines)}. {step.name}: {step.who}.{timing}{cite}")
        if other_areas:
            notices.append(
                "Some steps cite another area's procedure ("
                + ", ".join(sorted(a.title() for a in other_areas))
                + "): check your own area's procedure for the same step."
            )
        notices.extend(self._edition_notices(sources))
        provenance = self._provenance(sources, [t["rule_id"] for t in out], None)
        provenance["pathway"] = {"step": placement.step.id, "score": round(placement.score, 3)}
        return Answer(
            "\n".join(lines), sources, out, False, _unique(notices), self.mode, provenance, checked.text
        )

    def _rule_notices(self, rule: Rule) -> list[str]:
        """What an answer using `rule` must also say: not yet reviewed, and which other rules differ."""
        c = rule.citation
        out = []
        if rule.status == "extracted":
            out.append(
                f"{rule.name}: read from the document ({c.doc_id} {c.paragraph or c.heading}), not yet "
                "reviewed. Check the paragraph before relying on this date."
            )
        for differs in self.rules.differing(rule):
            if differs.id in rule.conflicts_with:
                continue  # the conflict notice says it
            whose = (
                "The national rule" if differs.authority == "national" else f"{differs.authority.title()}'s"
            )
            out.append(
                f"{whose} differs: {differs.duration_text()} ({differs.citation.doc_id} "
                f"{differs.citation.paragraph or differs.citation.heading}"
                f"{', not yet reviewed' if differs.status == 'extracted' else ''})."
            )
        return out

    def _step_timing(
        self, step: Step, authority: str | None, sources: list[Source]
    ) -> tuple[Rule, int, str] | None:
        """The rule that times a step, the number of its cited paragraph, and the span in words ("10
        working days after the icpc"); None without a rule or when its paragraph is not held: a timescale
        is stated only with the paragraph that sets it."""
        rule = self._step_rule(step, authority)
        if rule is None:
            return None
        c = rule.citation
        n = self._step_source(sources, c.doc_id, c.paragraph or c.heading or "")
        if n is None:
            return None
        if rule.kind == "interval":
            return rule, n, f"at least every {rule.duration_text()}"
        return rule, n, f"{rule.duration_text()} {rule.direction} the {rule.trigger.replace('-', ' ')}"

    @staticmethod
    def _starts_today(rule: Rule, now: Step, question: str) -> bool:
        """Whether a step's timescale starts today: it counts from the step being taken now, or the
        question says its trigger happened today ("I phoned the referral in this morning")."""
        if rule.trigger == now.event:
            return True
        trigger_named = rule.trigger.replace("-", " ") in question.lower() or (
            rule.trigger == "referral" and "referr" in question.lower()
        )
        return trigger_named and TODAY_WORDS.search(question) is not None

    def _timescale_out(self, rule: Rule, start: date, result: Any) -> dict[str, Any]:
        reader = self.retriever.reader()
        c = rule.citation
        idx = find_passage_index(reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence)
        passage = None if idx is None else passage_at(reader.metas, reader.texts, idx)
        return {
            "rule_id": rule.id,
            "trigger": rule.trigger,
            "event": rule.event,
            "start": start.isoformat(),
            "start_text": long_date(start),
            "due": result.due.isoformat(),
            "due_text": result.due_text,
            "weekday": result.weekday,
            "explanation": result.explanation,
            "citation": passage.public() if passage else None,
            "conflicts_with": rule.conflicts_with,
            "authority": rule.authority,
            "status": rule.status,
            "differs": [o.id for o in self.rules.differing(rule)],
        }

    def _append_next_steps(self, result: Answer, requests: list[Any], authority: str | None) -> None:
        """ "... and what comes after?": the steps after the deadline asked about, with their timescales
        but no dates (they count from the event actually held, not from its deadline)."""
        assert self.navigator is not None
        asked = {self.rules.get(r.rule_id).event for r in requests}
        first = next((s for s in self.navigator.pathway.steps.values() if s.event in asked), None)
        if first is None:
            return
        after = [s for s in self.navigator.pathway.following(first, authority) if s.id != first.id]
        if not after:
            return
        lines = ["After that:"]
        for number, step in enumerate(after, start=1):
            marks = [n for doc, ref in step.cites[:2] if (n := self._step_source(result.citations, doc, ref))]
            timed = self._step_timing(step, authority, result.citations)
            if timed is not None and timed[1] not in marks:
                marks.append(timed[1])
            timing = f" ({timed[2]})" if timed is not None else ""
            lines.append(f"{number}. {step.name}{timing}." + "".join(f" [{m}]" for m in marks))
        result.answer += "\n" + "\n".join(lines)

    def _comparison_answer(
        self, checked: CheckedInput, authority: str | None, notices: list[str]
    ) -> Answer | None:
        """ "What changed about X between 2010 and 2018?" from the comparison module, each change cited.
        None (ordinary retrieval instead) when it is not such a question or no change is about X."""
        years = sorted(set(YEARS.findall(checked.text)))
        if self.comparer is None or not COMPARE.search(checked.text) or len(years) not in (1, 2):
            return None
        single = len(years) == 1
        if single:
            # "What replaced LSCBs in 2018?": compared with the edition before it that the index holds.
            order = self.comparer.editions
            held = set(self.retriever.reader().editions)
            if years[0] not in order:
                return None
            older = [e for e in order[: order.index(years[0])] if e in held]
            if not older:
                return None
            years = [older[-1], years[0]]
        words = re.findall(r"[A-Za-z][A-Za-z'-]*", COMPARE.sub(" ", YEARS.sub(" ", checked.text)))
        topic = " ".join(w for w in words if set(tokenize(w)) - COMPARE_FILLER) or None
        try:
            comparison = self.comparer.compare(years[0], years[1], topic, authority, topic_share=0.66)
        except SafeguideError:
            return None
        old, new = (EDITION_NAMES.get(y, y) for y in years)
        if not comparison.changes and single:
            return None  # a one-edition question the comparison cannot answer goes to ordinary retrieval
        if not comparison.changes:
            text = (
                f"The edition comparison finds no change about “{topic}” between {old} and {new} in the "
                "documents held. The Compare tab lists every change it finds."
            )
            return Answer(
                text, [], [], False, _unique(notices + comparison.notes), self.mode,
                self._provenance([], [], None), checked.text,
            )  # fmt: skip
        reader = self.retriever.reader()
        position = reader.position
        sources: list[Source] = []
        lines = [
            f"Changes between {old} and {new}"
            + (f" about “{comparison.topic}”" if comparison.topic else "")
            + f" ({len(comparison.changes)} found; the Compare tab lists them all):"
        ]

        def cite(side: Any) -> str:
            if side is None or side.chunk_id not in position:
                return ""
            return f" [{self._add_source(sources, reader.result(position[side.chunk_id], 0.0, None, None))}]"

        # Each change on its own line citing the passage that says it; then, where there is one, the older
        # wording quoted from its own passage. Every [n] is checkable on its own.
        for ch in comparison.changes[:COMPARE_MAX_LINES]:
            lines.append(f"- {ch.kind.capitalize()}: {ch.summary.rstrip('. ')}{cite(ch.after or ch.before)}.")
            if ch.before is not None and ch.after is not None:
                first = split_sentences(ch.before.text)[0].strip(" -▶•") if ch.before.text.strip() else ""
                if ch.aligned:
                    label = f"Closest {old} passage, matched by meaning"
                elif ch.before.edition == years[0]:
                    label = f"Before ({old})"
                else:  # a briefing's "Before" quote: the wording of the edition that briefing compares with
                    label = f"Before, as {ch.before.citation.split(' › ')[0]} quotes it"
                shown = f"“{_trim(first, 200).removesuffix(' …')}”" + (" …" if len(first) > 200 else "")
                lines.append(f"  {label}: {shown}{cite(ch.before)}")
        if len(comparison.changes) > COMPARE_MAX_LINES:
            lines.append(f"- … and {len(comparison.changes) - COMPARE_MAX_LINES} more in the Compare tab.")
        notices.append(
            "From the edition comparison: each change quotes or summarises the passages it cites, and the "
            "curated changes are listed first."
        )
        notices.extend(comparison.notes)
        notices.extend(self._edition_notices(sources))
        provenance = self._provenance(sources, [], None)
        provenance["comparison"] = {
            "from": years[0],
            "to": years[1],
            "topic": comparison.topic,
            "changes": [ch.id for ch in comparison.changes[:COMPARE_MAX_LINES]],
        }
        return Answer(
            "\n".join(lines), sources, [], False, _unique(notices), self.mode, provenance, checked.text
        )

    def _sources(self, turn: Turn, found: list[SearchResult]) -> list[Source]:
        """The passages a cited answer rests on: the question's search, or for "what changed between 2010
        and 2018" with no edition chosen, the best two of each edition named."""
        years = sorted(set(YEARS.findall(turn.text)))
        results = found[: self.k]
        if bool(COMPARE.search(turn.text)) and len(years) >= 2 and not turn.edition:
            held = set(self.retriever.reader().editions)
            query = self._search_text(turn.text)
            filters = [Filters(edition=year, authority=turn.authority) for year in years if year in held]
            results = [r for f in filters for r in self.retriever.search(query, k=2, filters=f)]
            turn.notices.append(
                "This compares editions: each sentence names the edition its source belongs to."
            )
        sources: list[Source] = []
        for r in results:
            self._add_source(sources, r)
        return sources

    def _checked_draft(
        self, question: str, draft: str, sources: list[Source], notices: list[str]
    ) -> Verified:
        """The model's draft, each sentence checked against its source by the model as judge; quotations
        instead when nothing it wrote holds. Raises ModelUnavailable when the model fails while judging."""
        verified = verify(_clean_draft(draft), [s.text for s in sources], set(), self._judge)
        self._require_relevance(question, verified)
        if not verified.kept:
            # Nothing the model wrote survived the checks: quote the guidance instead, checked the same way.
            _, quotes = self._quoted(question, sources, None)
            if quotes.kept:
                for q in quotes.sentences:
                    q.cited_by = "quote"  # composed in code from the passage, checked word for word
                verified = Verified(verified.sentences + quotes.sentences)
                notices.append(
                    "The model's draft could not be checked against the guidance, so these are quotes "
                    "from the guidance itself."
                )
        return verified

    def _cited_answer(self, turn: Turn, verified: Verified) -> Answer:
        sources, notices = turn.sources, turn.notices
        kept = verified.kept
        text = verified.text() if kept else NOT_ANSWERED
        used = sorted({n for s in kept for n in s.cited})
        dropped = len(verified.sentences) - len(kept)
        if dropped and kept:
            notices.append(
                f"{dropped} sentence(s) of the draft were removed: their sources did not support them."
            )
        if len({(s.edition, s.authority) for s in sources if s.n in used}) > 1:
            notices.append(
                "The sources differ by edition or area: each sentence cites the source it rests on."
            )
        notices.extend(self._edition_notices([s for s in sources if s.n in used] or sources))
        provenance = self._provenance(sources, [], verified)
        if turn.mode != self.mode:
            provenance.update(mode=turn.mode, model=None, prompt=None, model_failed=True)
        return Answer(
            text,
            sources,
            [],
            False,
            _unique(notices),
            turn.mode,
            provenance,
            turn.text,
            draft=turn.draft,
            verified=verified,
        )

    def _quoted(
        self, question: str, sources: list[Source], on_token: Callable[[str], None] | None
    ) -> tuple[str, Verified]:
        """Extractive mode: quotations chosen in code, verified word for word."""
        draft = self._extractive(question, sources)
        if on_token is not None and draft:
            on_token(draft)  # the unverified draft, as a model's tokens would arrive
        verified = verify(draft, [s.text for s in sources], set(), None)
        self._require_relevance(question, verified)
        return draft, verified

    def _extractive(self, question: str, sources: list[Source]) -> str:
        """Quote, from each of the top passages, the sentence closest in meaning to the question; cite it.

        Closeness is the embedding cosine plus a small bonus per shared key word; a sentence must be a
        real sentence (6 words or more) and reach EXTRACT_MIN_COSINE, or nothing is quoted from it. The
        floor was set on the golden and safety questions: answerable questions reach 0.55-0.7, questions
        the guidance does not answer ("promise to keep a secret") stay below 0.5.
        """
        wanted = set(tokenize(question)) - GENERIC
        candidates = [
            (s, sentence)
            for s in sources[:3]
            for sentence in split_sentences(s.text)
            if len(sentence.split()) >= 6
        ]
        if not candidates:
            return ""
        embedder = self.retriever.embedder
        vectors = embedder.embed_documents([sentence for _, sentence in candidates])
        similarity = vectors @ embedder.embed_query(question)
        best: dict[int, tuple[float, str]] = {}
        for (s, sentence), cosine in zip(candidates, similarity, strict=True):
            if cosine < EXTRACT_MIN_COSINE:
                continue
            score = float(cosine) + 0.04 * len(wanted & set(tokenize(sentence)))
            if s.n not in best or score > best[s.n][0]:
                best[s.n] = (score, sentence)
        parts = []
        for s in sources[:3]:
            if s.n in best:
                label = f"{s.citation} ({EDITION_NAMES.get(s.edition, s.edition)}, {s.authority})"
                quote = best[s.n][1].strip(" -·•▶").rstrip(".")
                parts.append(f"{label} says: “{quote}.” [{s.n}]")
        return "\n".join(parts)

    def _generate(self, question: str, sources: list[Source], on_token: Callable[[str], None] | None) -> str:
        assert self.model is not None
        # The model reads the top passages, trimmed: on 2 CPU cores every prompt token delays the first
        # answer token (~90 tokens/s). Verification still checks against the full passages.
        shown = sources[: self.model_sources]
        prompt = load_prompt("answer").render(
            sources="\n".join(
                f"[{s.n}] ({s.citation}; {EDITION_NAMES.get(s.edition, s.edition)}; {s.authority}) "
                f"{_trim(s.text, self.model_source_chars)}"
                for s in shown
            ),
            question=question,
        )
        messages = [{"role": "user", "content": prompt}]
        if on_token is None:
            draft = self.model.complete(messages, max_tokens=220)
        else:
            pieces: list[str] = []
            for piece in self.model.stream(messages, max_tokens=220):
                pieces.append(piece)
                on_token(piece)
            draft = "".join(pieces)
        return "" if "NOT IN SOURCES" in draft else draft

    def _search_text(self, question: str) -> str:
        """What goes to search: placeholders removed ("[postcode removed]" must not steer it), and clipped
        to the search limit (a question may be longer than a search query)."""
        return PLACEHOLDER.sub(" ", question)[: self.retriever.max_query_chars]

    def _guidance_speaks_to(self, question: str, found: list[SearchResult]) -> bool:
        """For a question with none of the domain words: does any sentence of the passages its search
        found come close? ("When should DNA testing be considered?" 0.64; a lasagne recipe 0.25; the
        floor is 0.4.)"""
        sentences = [t for r in found[:5] for t in split_sentences(r.text) if len(t.split()) >= 6]
        if not sentences:
            return False
        embedder = self.retriever.embedder
        best = float((embedder.embed_documents(sentences) @ embedder.embed_query(question)).max())
        return best >= OFF_TOPIC_MAX_COSINE

    def _require_relevance(self, question: str, verified: Verified) -> None:
        """A kept sentence must be about the question, not merely true of its source."""
        kept = verified.kept
        if not kept:
            return
        embedder = self.retriever.embedder
        vectors = embedder.embed_documents([c.text for c in kept])
        for check, cosine in zip(kept, vectors @ embedder.embed_query(question), strict=True):
            if cosine < RELEVANCE_MIN_COSINE:
                check.kept = False
                check.reason = f"not about the question (similarity {float(cosine):.2f})"

    def _judge(self, passage: str, statement: str) -> str:
        assert self.model is not None
        prompt = load_prompt("judge").render(passage=passage[:1500], statement=statement)
        return judge_answer(self.model.complete([{"role": "user", "content": prompt}], max_tokens=3))

    # -------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _add_source(sources: list[Source], r: SearchResult) -> int:
        for s in sources:
            if s.chunk_id == r.chunk_id:
                return s.n
        n = len(sources) + 1
        sources.append(Source(**r.model_dump(), n=n))
        return n

    @staticmethod
    def _named(text: str, options: list[str]) -> str | None:
        words = set(re.findall(r"[a-z]+", text.lower()))
        named = [o for o in options if o != "national" and o in words]
        return named[0] if len(named) == 1 else None

    def _named_edition(self, text: str) -> str | None:
        years = set(YEARS.findall(text))
        held = set(self.retriever.reader().editions)
        if len(years) == 1 and not COMPARE.search(text):
            year = years.pop()
            return year if year in held else None
        return None

    @staticmethod
    def _edition_notices(sources: list[Source]) -> list[str]:
        out: list[str] = []
        seen = sorted({(s.edition, s.authority, s.title) for s in sources})
        if seen:
            out.append(
                "Based on: "
                + "; ".join(
                    f"{title} ({EDITION_NAMES.get(ed, ed)}, {'national' if au == 'national' else au})"
                    for ed, au, title in seen
                )
                + "."
            )
        for ed in sorted({e for e, _, _ in seen}):
            if ed in SUPERSEDED_BY:
                out.append(
                    f"{EDITION_NAMES.get(ed, ed)} has been superseded "
                    f"(by {EDITION_NAMES[SUPERSEDED_BY[ed]]}); current national guidance is "
                    f"{EDITION_NAMES[CURRENT]}, which is not in the documents held. Check the current "
                    "edition and your local procedures."
                )
        for area in sorted({au for _, au, _ in seen if au != "national"}):
            out.append(f"{area.title()}'s procedure applies in {area.title()} only.")
        return out

    def _provenance(
        self, sources: list[Source], rule_ids: list[str], verified: Verified | None
    ) -> dict[str, Any]:
        prompt = load_prompt("answer") if self.model is not None else None
        return {
            "mode": self.mode,
            "model": self.model.name if self.model is not None else None,
            "prompt": {"name": prompt.name, "sha256": prompt.sha256} if prompt else None,
            "chunks": [s.chunk_id for s in sources],
            "documents": {s.doc_id: self.doc_hashes.get(s.doc_id) for s in sources},
            "timescale_rules": rule_ids,
            "verification": [
                {
                    "sentence": c.text,
                    "cited": c.cited,
                    "lexical": c.lexical,
                    "judge": c.judge,
                    "kept": c.kept,
                    "reason": c.reason,
                    "cited_by": c.cited_by,
                }
                for c in (verified.sentences if verified else [])
            ],
        }


def _clean_draft(draft: str) -> str:
    """Drop what a small model echoes back from its prompt (the sources list, "Question:" lines)."""
    return "\n".join(line for line in draft.splitlines() if not ECHO.match(line))


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _whose(rule: Rule, own: bool = False) -> str:
    if rule.authority == "national":
        return "the national rule"
    return f"{rule.authority.title()}'s {'own ' if own else ''}rule"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
