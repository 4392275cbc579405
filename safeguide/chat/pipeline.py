"""The chat as a LangChain runnable pipeline of named stages, each a ``RunnableLambda`` over one ``Turn``:

    checks → understand → route → compose → verify → notices

- **checks**: danger first (the fixed 999 notice), harmful requests, instruction overrides, personal
  details removed; nothing later can drop the notice;
- **understand**: the area and edition the question names, the timescales it asks about, where a "what
  do I do next?" question sits on the pathway; the one search of the guidance, made when first needed
  and shared by every later stage;
- **route**: a refusal (harmful, instruction override, off-topic), timescales, an edition comparison,
  next steps, or a cited answer from the passages found;
- **compose**: the answer for that route (for a cited answer: the model's draft, or quotations);
- **verify**: every sentence checked against the passage it cites (the model judges where there is one);
- **notices**: which edition and area the answer rests on, what was removed, timings and provenance.

Streaming is the pipeline's own event stream: the stages dispatch LangChain custom events ("checked",
"sources", "token") that any callback handler receives; ``stream_answer`` turns them into the events
the web app sends. The answer is whatever the last stage returns.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from spacy.lang.en.stop_words import STOP_WORDS

from ingest.lexical import tokenize
from safeguide.chat.pathway import ASKS_NEXT, Placement
from safeguide.chat.verify import Verified
from safeguide.errors import ModelUnavailable, SafeguideError
from safeguide.retrieval.hybrid import Filters, SearchResult
from safeguide.safety import DANGER_NO_GUIDANCE, HARM_REFUSAL, CheckedInput
from safeguide.timescales.questions import find_timescale_requests, timing_asked

if TYPE_CHECKING:
    from safeguide.chat.answers import Answer, Source
    from safeguide.chat.chain import AnswerChain
    from safeguide.timescales.rules import Rule

STAGES = ("checks", "understand", "route", "compose", "verify", "notices")
EVENTS = ("checked", "sources", "token")
HELP = (
    "I can help with child safeguarding procedures in England: what to do next in a case, who does "
    "it, deadlines worked out to the date, and what changed between editions of Working Together, "
    "always with the paragraph it comes from."
)
# A "what next" question is placed on the pathway only when it is this close to a step (cosine, MiniLM);
# below it the ordinary cited answer is given.
NEXT_STEP_MIN_SCORE = 0.25
DOMAIN_WORDS = frozenset(
    tokenize(
        "child children safeguarding safeguard protection protect conference icpc referral refer "
        "assessment social worker core group plan review lscb lado abuse neglect harm strategy discussion "
        "section 47 s47 "
        "police health school nursery visit seen death died serious case partner partners guidance working "
        "together procedure procedures key-worker parent parents family carer allegation register timescale "
        "deadline minutes chair cdop scr panel training induction exploitation trafficking disabled domestic "
        "violence missing assessment emergency risk welfare early looked after fostering custody "
        "practitioner manager supervision threshold edition 2010 2013 2015 2018 2023 hampshire staffordshire "
        "secret confidential consent information sharing record report"
    )
)
# A short question that leans on the one before ("what about Hampshire?").
FOLLOW_UP = re.compile(
    r"^\s*(?:and|what about|how about|what if|also|then|same)\b|\b(?:that|this|it|they|them|there|those)\b",
    re.IGNORECASE,
)


@dataclass
class Turn:
    """One question on its way through the stages: each reads what earlier ones left and adds its own."""

    question: str
    edition: str | None = None
    authority: str | None = None
    today: date = field(default_factory=date.today)
    history: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    checked: CheckedInput | None = None
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)
    placement: Placement | None = None
    timing: list[Rule] = field(default_factory=list)  # rules for "how long / how often", no date given
    route: str = ""
    answer: Answer | None = None
    sources: list[Source] = field(default_factory=list)
    draft: str = ""
    verified: Verified | None = None
    mode: str = ""
    found: list[SearchResult] | None = None  # the one search, once made
    searches: int = 0

    @property
    def text(self) -> str:
        assert self.checked is not None, "the checks stage runs first"
        return self.checked.text


class _Events(BaseCallbackHandler):
    """Hands the pipeline's custom events to plain callables (the streaming endpoint, the evaluation)."""

    raise_error = True

    def __init__(self, listeners: dict[str, Callable[[Any], None]]) -> None:
        self.listeners = listeners

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        listener = self.listeners.get(name)
        if listener is not None:
            listener(data)


_WORD = re.compile(r"[A-Za-z]+")


def names_a_person(text: str) -> bool:
    """Whether the message names a kind of person ("teenager", "trainee", "stepdaughter", "lodgers"): a
    question about people is not refused as off-topic for lacking a safeguarding word ("how do I
    recognise grooming in a teenager?"); the guidance may still not answer it, and then says so.

    WordNet's nouns with a person among their two commonest senses (as the personal-detail check reads
    them), less the words that are also verbs, adjectives or adverbs ("tell me a joke", "the best
    recipe", "help me write") and capitalised words after the first ("the capital of France")."""
    from safeguide.safety.names import lexicon

    lex = lexicon()
    for k, m in enumerate(_WORD.finditer(text)):
        word = m.group()
        if k and word[0].isupper():
            continue
        lower = word.lower()
        forms = [lower] + ([lower[:-1], lower[:-2]] if len(lower) > 4 and lower.endswith("s") else [])
        for w in forms:
            if (
                w in lex.person_nouns
                and w not in STOP_WORDS
                and w not in lex.verbs
                and w not in lex.describing
            ):
                return True
    return False


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


class Pipeline:
    """The stages over one ``AnswerChain`` (which holds the retriever, rules, model and route logic)."""

    def __init__(self, chain: AnswerChain) -> None:
        self.chain = chain
        stages = [RunnableLambda(getattr(self, name), name=name) for name in STAGES]
        first, *rest = stages
        self.runnable: Runnable[Turn, Turn] = first
        for stage in rest:
            self.runnable = self.runnable | stage
        self.runnable = self.runnable.with_config(run_name="safeguide-answer")

    # ---------------------------------------------------------------------------------------- running

    def invoke(self, turn: Turn, listeners: dict[str, Callable[[Any], None]] | None = None) -> Answer:
        config: RunnableConfig = {"callbacks": [_Events(listeners)] if listeners else []}
        done = self.runnable.invoke(turn, config=config)
        assert done.answer is not None
        return done.answer

    def search(self, turn: Turn) -> list[SearchResult]:
        """The one search of the guidance for this question (its placeholders removed; a short follow-up
        leans on the previous question), filtered by the area and edition understood; made once."""
        if turn.found is None:
            chain = self.chain
            query = chain._search_text(turn.text)
            if turn.history and FOLLOW_UP.search(query) and len(tokenize(query)) < 8:
                query = chain._search_text(f"{query} {turn.history[-1]}")
            filters = Filters(edition=turn.edition, authority=turn.authority)
            turn.found = chain.retriever.search(query, k=max(chain.k, 5), filters=filters)
            turn.searches += 1
        return turn.found

    # ---------------------------------------------------------------------------------------- stages

    def checks(self, turn: Turn, config: RunnableConfig) -> Turn:
        # Danger is looked for first, inside the guard; an error raised there already carries the notice.
        turn.checked = self.chain.safety().check(turn.question)
        dispatch_custom_event("checked", turn.checked, config=config)
        turn.timings = dict(turn.checked.timings_ms)
        turn.notices = list(turn.checked.notices)
        if self.chain.fallback_notice:
            turn.notices.append(self.chain.fallback_notice)
        turn.mode = self.chain.mode
        return turn

    def understand(self, turn: Turn) -> Turn:
        chain, text = self.chain, turn.text
        reader = chain.retriever.reader()
        turn.authority = turn.authority or chain._named(text, reader.authorities)
        turn.edition = turn.edition or chain._named_edition(text)
        turn.requests = find_timescale_requests(text, turn.today, chain.rules, turn.authority)
        if chain.navigator is not None and ASKS_NEXT.search(text):
            # Placed by meaning, so with the question's abbreviations spelled out ("s47", "CP plan").
            meaning = chain.retriever.meaning_query(text)
            placement = chain.navigator.place(meaning, turn.authority, turn.edition)
            if placement is not None and placement.score >= NEXT_STEP_MIN_SCORE:
                turn.placement = placement
        if not turn.requests and turn.placement is None:
            # "How long / how often" with no date is stated from the rules in every mode, never drafted by a
            # model: the local model's drafts gave another step's deadline ("how long to hold the initial
            # conference?": the first review's three months) or "does not answer".
            turn.timing = chain._rules_asked(
                text, timing_asked(text, chain.vocabulary), turn.authority, turn.edition
            )
        turn.timings["checks_ms"] = _ms(turn.started)
        return turn

    def route(self, turn: Turn) -> Turn:
        chain, checked = self.chain, turn.checked
        assert checked is not None
        if checked.harmful:
            turn.route, turn.answer = (
                "refused",
                chain._refusal(checked, turn.notices, HARM_REFUSAL, "harmful"),
            )
        elif checked.injection:
            text = "It looks like the message asks me to change how I work. " + HELP
            turn.route, turn.answer = "refused", chain._refusal(checked, turn.notices, text, "injection")
        elif (
            turn.placement
            is None  # a "what do I do next?" placed on the child-protection pathway is on topic
            and not (set(tokenize(turn.text)) & DOMAIN_WORDS)
            and not names_a_person(turn.text)
            and not chain._guidance_speaks_to(turn.text, self.search(turn))
        ):
            if not checked.emergency:
                text = "That is outside what I can help with. " + HELP
                turn.route, turn.answer = "refused", chain._refusal(checked, turn.notices, text, "off-topic")
            elif "danger:pattern" not in checked.why:
                # Danger read from meaning alone, and no guidance speaks to the message: the notice (first)
                # and a fixed line, not passages chosen for words the message does not contain.
                refusal = chain._refusal(checked, turn.notices, DANGER_NO_GUIDANCE, "off-topic")
                turn.route, turn.answer = "refused", refusal
        if turn.route:
            return turn
        if turn.requests:
            turn.route = "timescales"
        elif (comparison := chain._comparison_answer(checked, turn.authority, turn.notices)) is not None:
            turn.route, turn.answer = "comparison", comparison
        elif turn.placement is not None:
            turn.route = "next-steps"
        elif turn.timing:
            turn.route = "timing"
        else:
            turn.route = "retrieval"
        return turn

    def compose(self, turn: Turn, config: RunnableConfig) -> Turn:
        chain, checked = self.chain, turn.checked
        assert checked is not None
        if turn.route == "timescales":
            turn.answer = chain._timescale_answer(checked, turn.requests, turn.authority, turn.notices)
            if turn.placement is not None:
                chain._append_next_steps(turn.answer, turn.requests, turn.authority, turn.edition)
        elif turn.route == "next-steps":
            assert turn.placement is not None
            answer = chain._next_steps_answer(
                checked,
                turn.placement,
                turn.authority,
                turn.today,
                turn.notices,
                self.search(turn),
                turn.edition,
            )
            if answer is not None:
                turn.answer = answer
            else:  # no step of the pathway is in the documents held: answer from what they say
                turn.route = "retrieval"
        elif turn.route == "timing":
            timing = chain._timing_answer(
                checked, turn.timing, turn.authority, turn.notices, self.search(turn)
            )
            if timing is not None:
                turn.answer = timing
            else:  # no rule's paragraph is held
                turn.route = "retrieval"
        if turn.route != "retrieval":
            return turn
        started = time.perf_counter()
        turn.sources = chain._sources(turn, lambda: self.search(turn))
        turn.timings["retrieval_ms"] = _ms(started)
        dispatch_custom_event("sources", turn.sources, config=config)
        started = time.perf_counter()

        def token(piece: str) -> None:
            dispatch_custom_event("token", piece, config=config)

        try:
            if chain.model is None:
                turn.draft, turn.verified = chain._quoted(turn.text, turn.sources, token)
            else:
                turn.draft = chain._generate(turn.text, turn.sources, token)
        except ModelUnavailable as exc:
            self._quote_instead(turn, exc, token)
        turn.timings["generation_ms"] = _ms(started)
        return turn

    def verify(self, turn: Turn, config: RunnableConfig) -> Turn:
        if turn.route != "retrieval" or turn.verified is not None:
            return turn
        started = time.perf_counter()
        try:
            turn.verified = self.chain._checked_draft(turn.text, turn.draft, turn.sources, turn.notices)
        except ModelUnavailable as exc:  # the model failed while judging
            self._quote_instead(turn, exc, lambda piece: dispatch_custom_event("token", piece, config=config))
        turn.timings["verification_ms"] = _ms(started)
        return turn

    def notices(self, turn: Turn) -> Turn:
        checked = turn.checked
        assert checked is not None
        if turn.route == "retrieval":
            assert turn.verified is not None
            turn.answer = self.chain._cited_answer(turn, turn.verified)
        assert turn.answer is not None
        if turn.route != "refused":
            turn.answer.provenance["timings_ms"] = {**turn.timings, "total_ms": _ms(turn.started)}
            turn.answer.provenance["searches"] = turn.searches
        turn.answer.provenance["safety"] = {"fired": checked.why, "removed": checked.personal_data}
        return turn

    def _quote_instead(self, turn: Turn, exc: ModelUnavailable, token: Callable[[str], None]) -> None:
        """The model died, hung, timed out or is restarting: answer from the guidance, and say so."""
        turn.mode = "extractive"
        turn.notices.append(model_down_notice(exc))
        turn.draft, turn.verified = self.chain._quoted(turn.text, turn.sources, token)


def model_down_notice(exc: Exception) -> str:
    return f"The model did not answer ({exc}), so this answer quotes the guidance instead (extractive mode)."


def answer_turn(
    chain: AnswerChain, turn: Turn, listeners: dict[str, Callable[[Any], None]] | None = None
) -> Answer:
    """Run the pipeline; whatever fails after the checks (retrieval, the model, a bug), the notices the
    checks found (the 999 notice above all) stand on the error."""
    try:
        return chain.pipeline.invoke(turn, listeners)
    except Exception as exc:
        notices = list(turn.checked.notices) if turn.checked is not None else []
        if isinstance(exc, SafeguideError):
            exc.notices = notices + [n for n in exc.notices if n not in notices]
            raise
        if notices:
            raise SafeguideError("Something went wrong while answering.", notices=notices) from exc
        raise


def stream_answer(chain: AnswerChain, question: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """Events for the streaming endpoint, from the pipeline's event stream: ("checked", CheckedInput) first
    (the redacted question and the 999 notice, before anything slow), ("sources", [...]), ("token",
    str)..., then ("answer", Answer) or ("error", exception). The pipeline runs in a thread of its own."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        try:
            listeners: dict[str, Callable[[Any], None]] = {
                name: functools.partial(lambda name, data: events.put((name, data)), name) for name in EVENTS
            }
            result = answer_turn(chain, Turn(question, **kwargs), listeners)
            events.put(("answer", result))
        except Exception as exc:  # handed to the caller, which turns typed errors into messages
            events.put(("error", exc))

    threading.Thread(target=run, daemon=True).start()
    while True:
        kind, value = events.get()
        yield kind, value
        if kind in ("answer", "error"):
            return
