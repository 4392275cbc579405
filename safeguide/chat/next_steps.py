"""\"What do I do next?\": the next steps on the pathway, who does each, timed by the area's own rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ingest.lexical import tokenize
from safeguide.chat.answers import Answer, Source, says, unique, whose
from safeguide.chat.cited import closest_sentences
from safeguide.chat.pathway import Placement, Step
from safeguide.chat.timescale_answers import TODAY_WORDS, TimescaleAnswers
from safeguide.chat.verify import split_sentences
from safeguide.retrieval.citations import contains, find_passage_index
from safeguide.retrieval.hybrid import SearchResult
from safeguide.safety import CheckedInput
from safeguide.timescales.questions import FREQUENCY, events_named
from safeguide.timescales.rules import Rule, due


class NextStepAnswers(TimescaleAnswers):
    """Steps on the pathway (corpus/pathway.toml), each cited and timed where a rule says when."""

    def _step_source(self, sources: list[Source], doc: str, ref: str) -> int | None:
        reader = self.retriever.reader()
        idx = find_passage_index(reader.metas, reader.texts, doc, ref, None, "")
        if idx is None:
            idx = find_passage_index(reader.metas, reader.texts, doc, None, ref, "")
        return None if idx is None else self._add_source(sources, reader.result(idx, 0.0, None, None))

    def _own_area_first(self, cites: list[tuple[str, str]], authority: str | None) -> list[tuple[str, str]]:
        """A step's paragraphs with the user's own area's first, then the national documents', then other
        areas' (each in the pathway's order): a step is cited from two of them, and a Hampshire user
        asking about a transfer in should read Hampshire's procedure before Staffordshire's."""
        if not authority:
            return cites
        areas = self.retriever.reader().doc_authorities
        own = authority.lower()

        def rank(cite: tuple[str, str]) -> int:
            area = areas.get(cite[0])
            return 0 if area == own else 1 if area == "national" else 2

        return sorted(cites, key=rank)

    def _step_rule(
        self, step: Step, authority: str | None, edition: str | None = None, walk: Sequence[Step] = ()
    ) -> Rule | None:
        """The rule that times a step in the user's area (its own first), of the edition named if one
        is, if any. A step can be timed from several starts (a review: from the initial conference, from a
        transfer conference, from the last review); the one counted from a step that leads to it comes
        first: one before it in this answer (`walk`), then any on the pathway."""
        if not step.event:
            return None
        applicable = [
            r
            for r in self.rules.for_authority(authority)
            if r.event == step.event and (not edition or edition in r.editions)
        ]
        assert self.navigator is not None
        leading = [s for s in walk if step.id in s.next] + self.navigator.pathway.leading_to(step)
        starts = unique([s.event for s in leading if s.event and s.event != step.event])
        ranked = sorted(
            applicable,
            key=lambda r: (
                r.kind not in ("deadline", "interval"),
                starts.index(r.trigger) if r.trigger in starts else len(starts),
                r.direction != "after",
            ),
        )
        return ranked[0] if ranked else None

    def _next_steps_answer(
        self,
        checked: CheckedInput,
        placement: Placement,
        authority: str | None,
        today: date,
        notices: list[str],
        found: list[SearchResult] | None = None,
        edition: str | None = None,
    ) -> Answer | None:
        """The steps that follow on the pathway, each cited, then what the passages the question's own
        search found say about it (`found`); None when no step's paragraph is held (a deployment without
        those documents), so the question is answered from what the documents say. With an edition named,
        a step is cited and timed only from that edition's documents and rules."""
        assert self.navigator is not None
        steps = self.navigator.pathway.following(placement.step, authority)
        sources: list[Source] = []
        lines = ["Next steps:"]
        out: list[dict[str, Any]] = []
        other_areas: set[str] = set()
        for i, step in enumerate(steps):
            marks: list[int] = []
            for doc, ref in self._own_area_first(self.navigator.cites_in(step, edition), authority):
                n = self._step_source(sources, doc, ref)
                if n is not None:
                    marks.append(n)
                    source = sources[n - 1]
                    if authority and source.authority not in ("national", authority.lower()):
                        other_areas.add(source.authority)
                if len(marks) == 2:
                    break
            timing = ""
            timed = self._step_timing(step, authority, sources, edition, steps[:i])
            if timed is not None:
                rule, n, span = timed
                if n not in marks:
                    marks.append(n)
                timing = f" {span[0].upper()}{span[1:]} ({whose(rule)})."
                if (
                    rule.kind == "deadline"
                    and rule.direction == "after"
                    and self._starts_today(rule, steps[0], checked.text)
                ):
                    result = due(rule, today, self.calendar(authority))
                    trigger = self.rules.said(rule.trigger)
                    lead = (
                        f"If the {trigger} is today"
                        if rule.trigger == steps[0].event
                        else f"The {trigger} was today"
                    )
                    timing += f" {lead}: due by {result.due_text}."
                    out.append(self._timescale_out(rule, today, result))
                    notices.extend(result.warnings)
                notices.extend(self._rule_notices(rule, authority))
            if not marks:
                continue  # a step is given only with a paragraph that says so
            cite = "".join(f" [{m}]" for m in marks)
            lines.append(f"{len(lines)}. {step.name}: {step.who}.{timing}{cite}")
        if len(lines) == 1:
            return None
        lines.extend(self._guidance_says(checked.text, found or [], sources))
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
            "\n".join(lines), sources, out, False, unique(notices), self.mode, provenance, checked.text
        )

    def _guidance_says(self, question: str, found: list[SearchResult], sources: list[Source]) -> list[str]:
        """The sentence closest to the question from each of the top passages of its search that the steps
        do not already cite: the pathway places a question on a step, and the search may have found the
        paragraph about the situation's particulars (a child at their own conference, a conference with
        too few agencies). Quoted word for word under the extractive floor, or nothing."""
        cited = {s.chunk_id for s in sources}
        fresh = [r for r in found[:3] if r.chunk_id not in cited]
        lines: list[str] = []
        meaning = self.retriever.meaning_query(question)
        for s, quote, items in closest_sentences(self.retriever.embedder, meaning, fresh, self._scope()):
            n = self._add_source(sources, s)
            lines.append(f"- {says(s, quote, n, items)}")
        return ["What the guidance says about this:", *lines] if lines else []

    def _rules_asked(
        self, question: str, events: list[str], authority: str | None, edition: str | None
    ) -> list[Rule]:
        """For "how long / how often" with no date: the rules that time each event asked about, in the
        user's area (its own first, as `RuleSet.for_authority` orders them), of the edition named if one
        is. An event can be timed from several starts (a review: from the initial conference, from the
        last review, from a transfer conference); those that fit the question come first: a recurring
        rule for "how often" or "between", a rule counting from an event the question names, then the
        rule whose name shares most words with the question ("first review")."""
        applicable = self.rules.for_authority(authority)
        if edition:
            applicable = [r for r in applicable if edition in r.editions]
        recurring = FREQUENCY.search(question) is not None
        named = set(events_named(question, self.vocabulary))
        words = set(tokenize(question))
        chosen: list[Rule] = []
        for event in events:
            timed = [r for r in applicable if r.event == event and r.kind in ("deadline", "interval")]
            timed.sort(
                key=lambda r: (
                    (r.kind == "interval") != recurring,
                    r.trigger not in named,
                    -len(words & set(tokenize(r.name))),
                )
            )
            chosen.extend(r for r in timed[:2] if r not in chosen)
        return chosen

    def _timing_answer(
        self,
        checked: CheckedInput,
        rules: list[Rule],
        authority: str | None,
        notices: list[str],
        found: list[SearchResult],
    ) -> Answer | None:
        """The timescales asked about, stated from the rules (no date to count from, so no due date), each
        with whose rule it is and the paragraph that sets it, then what the question's passages say.
        None when no rule's paragraph is held: a timescale is stated only with the paragraph that sets it."""
        sources: list[Source] = []
        lines = ["Timescales:"]
        used: list[Rule] = []
        texts = self.retriever.reader().texts
        for rule in rules:
            held = self._rule_source(sources, rule)
            if held is None:
                continue
            n, idx = held
            # The sentence of the paragraph that sets it, word for word (the rule's own wording may be a
            # reviewer's paraphrase).
            evidence = rule.citation.evidence
            said = next(
                (t for t in split_sentences(" ".join(texts[idx].split())) if contains(t, evidence)), ""
            )
            quote = f" It says: “{said.strip(' -·•▶').rstrip('.')}.”" if said else ""
            lines.append(f"{len(lines)}. {rule.name}: {self._span(rule)} ({whose(rule)}).{quote} [{n}]")
            used.append(rule)
            notices.extend(self._rule_notices(rule, authority))
        if not used:
            return None
        counted = next((r for r in used if r.kind == "deadline"), None)
        if counted is not None:
            lines.append(f"Give the date of the {self.rules.said(counted.trigger)} for the date it is due.")
        lines.extend(self._guidance_says(checked.text, found, sources))
        notices.extend(self._edition_notices(sources))
        provenance = self._provenance(sources, [r.id for r in used], None)
        return Answer(
            "\n".join(lines), sources, [], False, unique(notices), self.mode, provenance, checked.text
        )

    def _step_timing(
        self,
        step: Step,
        authority: str | None,
        sources: list[Source],
        edition: str | None = None,
        walk: Sequence[Step] = (),
    ) -> tuple[Rule, int, str] | None:
        """The rule that times a step, the number of its cited paragraph, and the span in words ("10
        working days after the initial child protection conference"); None without a rule or when its
        paragraph is not held: a timescale is stated only with the paragraph that sets it."""
        rule = self._step_rule(step, authority, edition, walk)
        if rule is None:
            return None
        c = rule.citation
        n = self._step_source(sources, c.doc_id, c.paragraph or c.heading or "")
        if n is None:
            return None
        return rule, n, self._span(rule)

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

    def _append_next_steps(
        self, result: Answer, requests: list[Any], authority: str | None, edition: str | None = None
    ) -> None:
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
        for i, step in enumerate(after):
            cites = self.navigator.cites_in(step, edition)[:2]
            marks = [n for doc, ref in cites if (n := self._step_source(result.citations, doc, ref))]
            timed = self._step_timing(step, authority, result.citations, edition, [first, *after[:i]])
            if timed is not None and timed[1] not in marks:
                marks.append(timed[1])
            if not marks:
                continue  # a step is given only with a paragraph that says so
            timing = f" ({timed[2]})" if timed is not None else ""
            lines.append(f"{len(lines)}. {step.name}{timing}." + "".join(f" [{m}]" for m in marks))
        if len(lines) > 1:
            result.answer += "\n" + "\n".join(lines)
