"""The input checks in their order. Danger comes first and nothing after it can take the notice away.

1. Hidden characters are removed; empty input is refused.
2. Immediate danger by pattern, on the text as typed, before any limit is applied or anything can fail.
3. Over-long input is refused, carrying the 999 notice if step 2 or 5 found danger.
4. Personal details are replaced (`pii.py`): from here on only the redacted text exists. The name
   tagger's MiniLM reading of the message is begun on a worker thread while spaCy reads it.
5. Immediate danger and harmful requests by meaning (`meaning.py`), on the redacted text's embedding
   (the same vector retrieval uses: the embedder caches it). If this step fails, the notice is shown.
6. Harmful requests by pattern; instruction overrides by pattern.
7. A refusal for harm found by meaning alone is held to a higher bar when the message's parse reads as
   protecting a child (`stance.py`): "how can we make sure the abuser cannot find out the child's new
   school" shares its words with a request to hide, not its structure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.safety import meaning, stance
from safeguide.safety.patterns import (
    EMERGENCY_NOTICE,
    PERSONAL_DATA_NOTICE,
    asks_how_to_report,
    asks_to_harm,
    has_pretext,
    in_immediate_danger,
    looks_like_injection,
    strip_hidden,
)
from safeguide.safety.pii import Redactor, shared_redactor

# How sure the harmful-request classifier must be to refuse a message that asks what to do or whom to
# tell (its own threshold, set for recall, is about 0.2).
REPORTING_HARM_BAR = 0.6
# How sure it must be to refuse a message that asks when or how often a step of the child-protection
# process happens ("how often am I meant to be seeing the children on my CP plans?" scored 0.26). Lower
# than the reporting bar: a timing question can carry a request ("how long until the review conference, I
# want to make sure the kids know what to say" scored 0.56).
PROCESS_TIMING_HARM_BAR = 0.4
# How sure it must be to refuse a message whose structure reads as protecting a child.
PROTECTIVE_HARM_BAR = 0.97
# A message whose parse asks to keep a protector from knowing or acting, or to stop a child telling one
# ("so the school nurse wouldn't notice", "stop her telling her teacher"), or that wraps its request in a
# pretext (fiction, role play) and names a child, is refused from this fraction of the classifier's own
# threshold: on the training data the protector reading held for 33 requests and 2 questions.
LOWER_BAR_SHARE = 0.5
PROTECTOR_FRAMES = frozenset({"keeps-protector-from-knowing-or-acting", "stops-telling-protector"})

log = logging.getLogger(__name__)


@dataclass
class CheckedInput:
    text: str  # hidden characters removed and personal details replaced: the only form used from here on
    personal_data: list[str] = field(default_factory=list)
    hidden_removed: int = 0
    emergency: bool = False
    harmful: bool = False
    injection: bool = False
    notices: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)  # which checks fired: "danger:pattern", "harmful:meaning"
    timings_ms: dict[str, float] = field(default_factory=dict)


class SafetyGuard:
    def __init__(
        self,
        embedder: Any,
        redactor: Redactor | None = None,
        classifiers: dict[str, meaning.MeaningClassifier] | None = None,
        max_chars: int = 2000,
        phrases: Callable[[], frozenset[tuple[str, str]]] | None = None,
        process_timing: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.embedder = embedder
        self.phrases = phrases  # the lower-case word pairs of the indexed documents (`IndexReader.phrases`)
        # The child-protection events whose timing a message asks about ("how often ... seeing the children
        # on my CP plans": a visit), read with the event vocabulary (`timescales.questions.timing_asked`).
        self.process_timing = process_timing
        self.redactor = redactor or shared_redactor()
        self.classifiers = classifiers if classifiers is not None else meaning.load()
        self.max_chars = max_chars
        # The tagger reads each message with the first layers of the same MiniLM retrieval embeds with:
        # when both are the packaged model, the message's embedding finishes that reading.
        path = getattr(embedder, "model_path", None)
        self._shares_model = path is not None and path == getattr(self.redactor, "model_path", None)

    def check(self, raw: str | None) -> CheckedInput:
        try:
            return self._check(raw)
        finally:
            self._forget()

    def _forget(self) -> None:
        forget = getattr(self.redactor, "forget_reading", None)
        if forget is not None:
            forget()

    def _check(self, raw: str | None) -> CheckedInput:
        started = time.perf_counter()
        if raw is None or not raw.strip():
            raise InvalidQuery("the question is empty: type a question")
        text, hidden = strip_hidden(raw)
        if not text.strip():
            raise InvalidQuery("the question has no visible text")
        why = ["danger:pattern"] if in_immediate_danger(text) else []
        if len(text) > self.max_chars:
            # The long message is refused, but not before danger has been looked for in all of it.
            emergency = bool(why) or self._danger_by_meaning(text[: self.max_chars], why)
            raise InvalidQuery(
                f"the question is {len(text)} characters; the limit is {self.max_chars}: shorten it",
                notices=[EMERGENCY_NOTICE] if emergency else [],
            )
        try:
            if self._shares_model:
                self.redactor.read_ahead(text)  # MiniLM reads the message while spaCy does
            redacted, findings = self.redactor.redact(text, self._phrases())
        except Exception as exc:
            raise _with_notice(exc, bool(why)) from exc
        t_redact = time.perf_counter()
        scores: dict[str, float] = {}
        vector = self._embed(redacted, why, read=text)
        for name, clf in self.classifiers.items():
            if vector is not None:
                scores[name] = round(clf.probability(vector, redacted), 4)
                if scores[name] >= clf.threshold:
                    why.append(f"{name}:meaning")
        if asks_to_harm(text):
            why.append("harmful:pattern")
        elif "harmful:meaning" not in why and (reading := self._lower_bar_reading(text, scores)):
            why.append(f"harmful:{reading}")
        emergency = any(w.startswith("danger") for w in why)
        # When both classifiers fire, the one further past its threshold decides: a report of danger that
        # reads a little like a request ("he put his hands round the baby's neck") gets guidance with the
        # notice; a request that reads a little like danger is refused (with the notice too).
        harmful = "harmful:pattern" in why or (
            any(w in why for w in ("harmful:meaning", "harmful:frame", "harmful:pretext"))
            and self._harm_outweighs(scores)
            and not self._reports(text, scores)
            and not self._asks_process_timing(text, scores, why)
            and not self._protects(text, scores, why)
        )
        kinds = sorted({k for f in findings for k in f.kinds})
        notices: list[str] = []
        if emergency or harmful:
            notices.append(EMERGENCY_NOTICE)
        if kinds:
            notices.append(PERSONAL_DATA_NOTICE.format(kinds=", ".join(kinds)))
        done = time.perf_counter()
        return CheckedInput(
            text=redacted,
            personal_data=kinds,
            hidden_removed=hidden,
            emergency=emergency,
            harmful=harmful,
            injection=looks_like_injection(text),
            notices=notices,
            scores=scores,
            why=why,
            timings_ms={
                "redact_ms": round((t_redact - started) * 1000, 2),
                "classify_ms": round((done - t_redact) * 1000, 2),
                "safety_ms": round((done - started) * 1000, 2),
            },
        )

    def _phrases(self) -> frozenset[tuple[str, str]]:
        """The documents' phrases; none if the index cannot be read (more words removed, never fewer)."""
        if self.phrases is None:
            return frozenset()
        try:
            return self.phrases()
        except Exception:
            log.warning("safety: the documents' phrases could not be read; checking without them")
            return frozenset()

    def _reports(self, text: str, scores: dict[str, float]) -> bool:
        """A practitioner asking what to do or whom to tell is refused as harmful only when the classifier
        is sure (REPORTING_HARM_BAR): a wrong refusal there stops a child-protection step being taken."""
        return asks_how_to_report(text) and scores.get("harmful", 0.0) < REPORTING_HARM_BAR

    def _asks_process_timing(self, text: str, scores: dict[str, float], why: list[str]) -> bool:
        """A message that asks when or how often a step of the child-protection process happens (a visit,
        a core group, a review) is a practitioner's question about procedure: refused as harmful only when
        the classifier is past PROCESS_TIMING_HARM_BAR, twice its own threshold. None of the harmful
        requests the classifier is trained on asks the timing of a process step; they ask how long marks
        take to fade or a child can be left. If the reading fails, the refusal stands."""
        if self.process_timing is None or scores.get("harmful", 1.0) >= PROCESS_TIMING_HARM_BAR:
            return False
        try:
            events = self.process_timing(text)
        except Exception:
            log.exception("safety: the timing reading failed; the refusal stands")
            return False
        if not events:
            return False
        why.append("procedure:timing")
        return True

    def _protects(self, text: str, scores: dict[str, float], why: list[str]) -> bool:
        """A message whose structure reads as protecting a child (`stance.protective_frame`: stopping an
        abuser, asking how to report, asking what to do about what a child said) is refused as harmful only
        when the classifier is all but certain (PROTECTIVE_HARM_BAR): its words are about secrets and
        hiding, which is what the classifier weighs. Never when the message asks to keep a protector,
        a family or everyone from knowing (`stance.harm_frame`). If the parse fails, the refusal stands."""
        if scores.get("harmful", 1.0) >= PROTECTIVE_HARM_BAR:
            return False
        try:
            frame = stance.protective_frame(self.redactor.parsed(text))
        except Exception:
            log.exception("safety: the protective reading failed; the refusal stands")
            return False
        if frame is None:
            return False
        why.append(f"protective:{frame}")
        return True

    def _lower_bar_reading(self, text: str, scores: dict[str, float]) -> str | None:
        """Below the classifier's threshold but within LOWER_BAR_SHARE of it, a message is still a request
        to harm when it reads as one another way (None if it does not):

        - "frame": its structure asks to keep a protector out (`stance.harm_frame`); the classifier weighs
          words, and "a school nurse wouldn't notice" weighs less than "hide". If the parse fails, the
          classifier's judgement stands.
        - "pretext": it comes wrapped in fiction, role play or a hypothetical (`has_pretext`) and names a
          child ("a story about a lost puppy" is not such a request); the wrapping moves the request into
          the third person, where the classifier reads a question about abuse.

        The rest of the checks still apply (a protective reading can let it through)."""
        harm = self.classifiers.get("harmful")
        if harm is None or scores.get("harmful", 0.0) < LOWER_BAR_SHARE * harm.threshold:
            return None
        if has_pretext(text) and stance.names_a_child(text):
            return "pretext"
        try:
            frame = stance.harm_frame(self.redactor.parsed(text))
        except Exception:
            log.exception("safety: the harm reading failed; the classifier's judgement stands")
            return None
        return "frame" if frame in PROTECTOR_FRAMES else None

    def _harm_outweighs(self, scores: dict[str, float]) -> bool:
        danger, harm = self.classifiers.get("danger"), self.classifiers.get("harmful")
        if danger is None or harm is None or "danger" not in scores:
            return True
        if scores["danger"] < danger.threshold:
            return True
        return scores["harmful"] / harm.threshold >= scores["danger"] / danger.threshold

    def danger_notices(self, raw: str | None) -> list[str]:
        """The 999 notice, if `raw` shows danger: for requests refused before the full check can run
        (an unknown conversation, a malformed date). Never raises."""
        if not raw or not raw.strip():
            return []
        try:
            text, _ = strip_hidden(raw)
            why = ["danger:pattern"] if in_immediate_danger(text) else []
            return [EMERGENCY_NOTICE] if why or self._danger_by_meaning(text[: self.max_chars], why) else []
        except Exception:
            log.exception("safety: danger check failed; showing the 999 notice")
            return [EMERGENCY_NOTICE]
        finally:
            self._forget()

    def _embed(self, redacted: str, why: list[str], read: str | None = None) -> np.ndarray | None:
        """The redacted message's embedding. `read` is the text the redactor's name tagger just read:
        when redaction left it unchanged, the tagger's pass is finished rather than a new one begun, and
        the vector is handed to the embedder for retrieval to use."""
        try:
            if read is not None and read == redacted and self._shares_model:
                finished = self.redactor.finish_reading(read)
                if finished is not None:
                    return np.asarray(self.embedder.remember(redacted, finished), dtype=np.float32)
            return np.asarray(self.embedder.embed_query(redacted), dtype=np.float32)
        except Exception:
            log.exception("safety: the embedding for the danger check failed; showing the 999 notice")
            why.append("danger:check-failed")
            return None

    def _danger_by_meaning(self, text: str, why: list[str]) -> bool:
        try:
            redacted, _ = self.redactor.redact(text)
        except Exception:
            log.exception("safety: redaction failed on an over-long message; showing the 999 notice")
            return True
        vector = self._embed(redacted, why)
        clf = self.classifiers.get("danger")
        return vector is None or (clf is not None and clf.flags(vector, redacted))


def _with_notice(exc: Exception, emergency: bool) -> Exception:
    """The error to raise, carrying the 999 notice when danger was already found."""
    notices = [EMERGENCY_NOTICE] if emergency else []
    if isinstance(exc, SafeguideError):
        exc.notices = notices + [n for n in exc.notices if n not in notices]
        return exc
    return SafeguideError("the personal-detail check failed, so the message was not used", notices=notices)
