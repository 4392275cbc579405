"""\"What changed about X between 2010 and 2018?\" answered from the edition comparison, each change cited."""

from __future__ import annotations

import re
from typing import Any

from ingest.lexical import tokenize
from safeguide.chat.answers import COMPARE, EDITION_NAMES, YEARS, Answer, ChainCore, Source, trim, unique
from safeguide.chat.verify import split_sentences
from safeguide.errors import SafeguideError
from safeguide.safety import CheckedInput

COMPARE_MAX_LINES = 6

COMPARE_FILLER = frozenset(
    tokenize(
        "what how has have changed change changes between from since in the edition editions working "
        "together wt guidance about for regarding tell me please difference differences new compare "
        "did does do replaced replace wording"
    )
)


class ComparisonAnswer(ChainCore):
    """An edition question answered from the comparison module."""

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
                text, [], [], False, unique(notices + comparison.notes), self.mode,
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
                shown = f"“{trim(first, 200).removesuffix(' …')}”" + (" …" if len(first) > 200 else "")
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
            "\n".join(lines), sources, [], False, unique(notices), self.mode, provenance, checked.text
        )
