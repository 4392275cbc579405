"""The answer chain: what the pipeline's stages (``safeguide.chat.pipeline``) run on. Its routes live
one per module: deadlines (``timescale_answers``), next steps (``next_steps``), edition comparison
(``comparison_answer``) and cited answers from the passages (``cited``); what they share is in ``answers``.

Every answer says which edition and authority it rests on and flags superseded guidance (fixed text
from document metadata, never from a model). Dates come only from the timescales module. A child in
immediate danger always gets the fixed 999 notice. Personal details are removed before anything is
logged, stored or sent to a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from ingest.timescale_extract import Vocabulary
from safeguide.chat.answers import Answer, Source
from safeguide.chat.cited import CitedAnswers
from safeguide.chat.comparison_answer import ComparisonAnswer
from safeguide.chat.next_steps import NextStepAnswers
from safeguide.chat.pathway import Navigator
from safeguide.chat.pipeline import Pipeline, Turn, answer_turn
from safeguide.compare.comparer import Comparer
from safeguide.models import ChatModel
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.safety import CheckedInput, SafetyGuard
from safeguide.timescales.calendar import WorkingCalendar
from safeguide.timescales.questions import timing_asked
from safeguide.timescales.rules import RuleSet


@dataclass
class AnswerChain(NextStepAnswers, ComparisonAnswer, CitedAnswers):
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
    vocabulary: Vocabulary | None = None  # the events timing questions name (corpus/events.toml)

    def safety(self) -> SafetyGuard:
        """The input checks (built on first use, sharing the retriever's embedder and its cache)."""
        if self.guard is None:
            self.guard = SafetyGuard(
                self.retriever.embedder,
                max_chars=self.max_chars,
                phrases=lambda: self.retriever.reader().phrases,
                process_timing=lambda text: timing_asked(text, self.vocabulary),
            )
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
