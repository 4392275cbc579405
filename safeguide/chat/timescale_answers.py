"""Deadline answers: each date from the timescales module, under the rule of the user's own area,
with the paragraph it comes from."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from safeguide.chat.answers import EDITION_NAMES, Answer, ChainCore, Source, unique, whose
from safeguide.retrieval.citations import find_passage_index, passage_at
from safeguide.safety import CheckedInput
from safeguide.timescales.calendar import CONVENTIONS, long_date
from safeguide.timescales.rules import Rule, due

TODAY_WORDS = re.compile(
    r"\b(?:today|this\s+(?:morning|afternoon|evening)|just\s+now|an\s+hour\s+ago)\b", re.I
)


class TimescaleAnswers(ChainCore):
    """A deadline question answered from the timescales module."""

    def _timescale_answer(
        self, checked: CheckedInput, requests: list[Any], authority: str | None, notices: list[str]
    ) -> Answer:
        sources: list[Source] = []
        lines: list[str] = []
        out: list[dict[str, Any]] = []
        for req in requests:
            rule = self.rules.get(req.rule_id)
            result = due(rule, req.start, self.calendar(authority))
            found = self._rule_source(sources, rule)
            n = found[0] if found else None
            marker = f" [{n}]" if n else ""
            verb = "is due by" if rule.direction == "after" else "must be done by"
            lines.append(
                f"{rule.name} {verb} {result.due_text}: {self._counted(rule)} on {long_date(req.start)}, "
                f"under {whose(rule, own=True)}.{marker}"
            )
            notices.extend(self._rule_notices(rule, authority))
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
            unique(notices),
            self.mode,
            self._provenance(sources, [t["rule_id"] for t in out], None),
            checked.text,
        )

    def _rule_source(self, sources: list[Source], rule: Rule) -> tuple[int, int] | None:
        """The paragraph that sets a rule (found by its evidence), added to `sources`: (its number there,
        its row in the index); None when the index does not hold it."""
        reader = self.retriever.reader()
        c = rule.citation
        idx = find_passage_index(reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence)
        return None if idx is None else (self._add_source(sources, reader.result(idx, 0.0, None, None)), idx)

    def _span(self, rule: Rule) -> str:
        """A rule's timescale in words: "at least every 6 weeks", "10 working days after the initial child
        protection conference"."""
        if rule.kind == "interval":
            return f"at least every {rule.duration_text()}"
        return self._counted(rule)

    def _counted(self, rule: Rule) -> str:
        """How long, which way and from what: "15 working days after the strategy discussion"; a rule of no
        time ("will immediately follow an initial conference") is "the same day as" what it counts from."""
        start = self.rules.said(rule.trigger)
        if rule.amount == 0 and rule.minimum is None:
            return f"the same day as the {start}" if rule.direction == "after" else f"by the {start}"
        return f"{rule.duration_text()} {rule.direction} the {start}"

    def _rule_notices(self, rule: Rule, authority: str | None = None) -> list[str]:
        """What an answer using `rule` must also say: not yet reviewed, which other rules differ, and, when
        the user's area has no rule of its own for the step, the area's statements that name the step but
        were matched to none (a statement the reader could not map must not pass silently)."""
        c = rule.citation
        out = []
        if authority and authority.lower() != rule.authority:
            for u in self.rules.unmapped_for(authority, rule.event)[:2]:
                where = u["citation"].get("paragraph") or u["citation"].get("heading") or ""
                out.append(
                    f"{authority.title()}'s own documents state a timescale here that is not yet matched to "
                    f"a step: “{u['citation']['evidence']}” ({u['citation']['doc_id']} {where}). It may set "
                    "a different time: check it before relying on this date (a reviewer can match it with "
                    "`safeguide timescales review`)."
                )
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
