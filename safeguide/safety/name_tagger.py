"""Names that are also words, told apart by what the sentence means around them.

The rules of `name_roles.py` find a name from cues (a relation word, an age, a title) and from the part
spaCy's parse gives it. Where the cue is missing or the small parser misreads a lower-case name ("ocean
has been off school", "worried about sage"), the words around the name still say it is a person. The
tagger reads that from MiniLM: the packaged all-MiniLM-L6-v2's contextual vector for the word (the mean
of its word pieces after the third of its six layers) and a few facts about its spelling go into a
logistic regression trained by `train` below (`safeguide safety train`).

Training data is made, not collected. The person contexts in `safety_data/name_contexts.txt` (written
for safeguide) are filled with names drawn at random from the names lexicon, most of them names that are
also words ("grace", "hunter", and names given lately such as "ocean"), half in lower case, so only the
context can tell. Negatives are the same kind of words used as words: the quoted example sentences of
WordNet 3.0 (Princeton licence, in the `wn` package), our own practitioner questions and safety training
lines, and every other name-like word of the filled contexts. The held-out sets in eval/golden/ are
never used. Thresholds are chosen by cross-validation grouped by context (judged on contexts it has not
seen): for words the names lists hold, recall RECALL_TARGET; for words only the wide list holds, at most
WIDE_FALSE_FLAGS of their uses as words may be taken for names.

Only candidates are scored: words some names list holds that are not excluded (stop words, relation words,
titles, days and months, acronyms). A word no list holds ("strategy", "referral") is never removed by the
tagger; a word only the wide list holds ("house", "meet") is removed only past the stricter bar.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.errors import ModelUnavailable
from safeguide.safety.name_cues import DETERMINERS as _DETERMINERS
from safeguide.safety.name_cues import starts_sentence
from safeguide.safety.name_roles import _NOT_NAMES, _TOKEN, PUBLIC_NAMES, RELATION_CUES, TITLES
from safeguide.safety.names import Lexicon, lexicon

DATA = Path(str(files("safeguide") / "safety_data"))
CONTEXTS = DATA / "name_contexts.txt"
WEIGHTS = DATA / "name_tagger.json"
# Out-of-fold recall the threshold must reach on names in contexts the model was not trained on.
RECALL_TARGET = 0.98
# The share of words used as words that only the wide names list holds which may be taken for names.
WIDE_FALSE_FLAGS = 0.01
MAX_THRESHOLD = 0.5
SEED = 20261201
FILLS_PER_CONTEXT = 8
MAX_TOKENS = 128
# MiniLM's first three layers of six: measured by grouped cross-validation on the training data, they
# tell names from words better than all six (precision 0.87 against 0.74 at recall 0.98: the lower layers
# keep more of the word itself beside its context) and take half the time.
LAYERS = 3

_PUBLIC_PHRASES = sorted(p for p in PUBLIC_NAMES if " " in p)


# ------------------------------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    lower: str


def candidates(
    text: str, lex: Lexicon, protected: frozenset[str] = frozenset(), places: Sequence[tuple[int, int]] = ()
) -> list[Candidate]:
    """The words of `text` the tagger may call a name (hyphenated names whole, a trailing 's dropped): given
    names only (a surname alone, "Hampshire", is left to the rules, which want a title or a given name
    before it), no capitalised word inside `places` (spans spaCy calls a place or an organisation) unless
    it is a common given name ("Tyler"), nor a plural acronym ("GPs")."""
    out: list[Candidate] = []
    lowered = text.lower()
    public = [  # the words of a public figure's full name ("Eileen Munro") are not a person written about
        (m.start(), m.end())
        for phrase in _PUBLIC_PHRASES
        for m in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", lowered)
    ]
    tokens = list(_TOKEN.finditer(text))
    for k, m in enumerate(tokens):
        word = m.group()
        end = m.end() - 2 if re.search(r"['’]s$", word) else m.end()
        lower = text[m.start() : end].lower().replace("’", "'")
        if (
            len(lower) < 2
            or any(s <= m.start() < e for s, e in public)
            or _in_title(tokens, k, lex)
            or re.fullmatch(r"[A-Z]{2,}s", word) is not None
            or (
                word[0].isupper()  # spaCy's entities of lower-case words are guesses ("ocean said")
                and any(s <= m.start() < e for s, e in places)
                and not lex.is_given(lower, common=True)
            )
            or lower in STOP_WORDS
            or lower in RELATION_CUES
            or lower in TITLES
            or lower in _NOT_NAMES
            or lower in PUBLIC_NAMES
            or lower in protected
            or (word.isupper() and len(word) <= 4)  # DSL, LADO, MASH
            or not (lex.is_given(lower) or lower in lex.first_wide)
        ):
            continue
        out.append(Candidate(m.start(), end, lower))
    return out


def _in_title(tokens: list[re.Match[str]], k: int, lex: Lexicon) -> bool:
    """A capitalised word beside a capitalised word that is no name: part of a title or an organisation
    ("the Children's Trust Board", "Hope Street Project"), not a person."""
    if not tokens[k].group()[0].isupper():
        return False
    for j in (k - 1, k + 1):
        if 0 <= j < len(tokens):
            other = tokens[j].group()
            plain = re.sub(r"['’]s$", "", other).lower()
            adjacent = (
                not tokens[k]
                .string[min(tokens[j].end(), tokens[k].end()) : max(tokens[j].start(), tokens[k].start())]
                .strip()
            )
            if (
                adjacent
                and other[0].isupper()
                and not other.isupper()
                and not _listed(plain, lex)
                and plain not in TITLES
            ):
                return True
    return False


def _listed(lower: str, lex: Lexicon) -> bool:
    """A given name of the names lists (not only of the wide one)."""
    return lex.is_given(lower)


def spelling_features(text: str, c: Candidate, lex: Lexicon) -> list[float]:
    """What the spelling says, beside the meaning: capitalised mid-sentence, a common given name, no
    English word, a surname, straight after a determiner ("the rose")."""
    before = text[: c.start].rstrip()
    sentence_start = starts_sentence(text, c.start)
    prev = re.findall(r"[A-Za-z']+$", before)
    return [
        float(text[c.start].isupper() and not sentence_start),
        float(sentence_start),
        float(lex.is_given(c.lower, common=True)),
        float(not lex.is_word(c.lower)),
        float(c.lower in lex.last and not lex.is_given(c.lower)),
        float(bool(prev) and prev[-1].lower() in _DETERMINERS),
    ]


# ----------------------------------------------------------------------------------- contextual vectors


# One worker for readings begun ahead (`TokenVectors.read_ahead`); the model's lock serialises the rest.
_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="name-tagger")


class TokenVectors:
    """MiniLM's vector after LAYERS layers for each character span, one forward pass per text (CPU).

    The same model's remaining layers are kept too: the safety check needs the message's sentence
    embedding, and when the message is left unchanged by redaction, `embedding` finishes the pass the
    tagger began instead of reading the message again from the first layer (what retrieval's
    sentence-transformers model computes: the mean of the last layer over the word pieces, unit length).
    """

    def __init__(self, model_path: Path | None = None) -> None:
        from ingest.embedder import packaged_model_path

        path = model_path or packaged_model_path()
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
            self._upper = list(model.encoder.layer[LAYERS:])
            model.encoder.layer = model.encoder.layer[:LAYERS]
            self._model = model
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"cannot load the name tagger's model from {path}: {exc}") from exc
        self.path = path.resolve()
        self._torch = torch
        self._lock = threading.Lock()
        # The last single, untruncated text this thread read, with its hidden states after LAYERS layers,
        # until `embedding` takes it (it is the raw message: held in memory only, for one check).
        self._begun = threading.local()

    def read_ahead(self, text: str) -> None:
        """Begin reading `text` on a worker thread while this thread does other work (spaCy's pass over
        the same message): `spans` and `embedding` for exactly this text, in this thread, then use it.
        The two share the two cores; read one after the other they would each wait for the other."""
        self._begun.read = None
        self._begun.ahead = (text, _READER.submit(self._read, text))

    def _read(self, text: str) -> tuple[np.ndarray, Any]:
        """One text's word-piece offsets and hidden states after LAYERS layers."""
        enc = self._tokenizer(
            [text], return_offsets_mapping=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        offsets = enc.pop("offset_mapping").numpy()
        with self._lock, self._torch.inference_mode():
            return offsets, self._model(**enc).last_hidden_state

    def _ahead(self, text: str) -> tuple[np.ndarray, Any] | None:
        """The reading begun by `read_ahead` if it was of `text` (let go either way)."""
        ahead, self._begun.ahead = getattr(self._begun, "ahead", None), None
        if ahead is None or ahead[0] != text:
            return None
        return ahead[1].result()  # type: ignore[no-any-return]

    def spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> list[np.ndarray]:
        """For each text, an array (len(spans), dim): the mean vector of the word pieces in each span."""
        if len(texts) == 1:  # a message: the reading begun ahead of it, or one of its own
            offsets, states = self._ahead(texts[0]) or self._read(texts[0])
        else:  # training batches
            self._begun.ahead = None
            enc = self._tokenizer(
                list(texts),
                return_offsets_mapping=True,
                truncation=True,
                max_length=MAX_TOKENS,
                padding=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping").numpy()
            with self._lock, self._torch.inference_mode():
                states = self._model(**enc).last_hidden_state
        self._begun.read = None
        if len(texts) == 1 and states.shape[1] < MAX_TOKENS:  # one text, all of it read: no padding
            self._begun.read = (texts[0], states)
        hidden = states.numpy()
        out: list[np.ndarray] = []
        for k, wanted in enumerate(spans):
            rows = []
            for s, e in wanted:
                pieces = [i for i, (a, b) in enumerate(offsets[k]) if b > a and a < e and b > s]
                rows.append(hidden[k, pieces].mean(axis=0) if pieces else np.zeros(hidden.shape[2]))
            out.append(np.asarray(rows, dtype=np.float32).reshape(len(wanted), hidden.shape[2]))
        return out

    def embedding(self, text: str) -> np.ndarray | None:
        """The sentence embedding of `text` if this thread's last `spans` read exactly it (or a reading
        begun ahead was of it), else None. Either way what was kept is let go: a message is held no longer
        than its own check."""
        begun, self._begun.read = getattr(self._begun, "read", None), None
        if begun is None or begun[0] != text:
            ready = self._ahead(text)
            if ready is None or ready[1].shape[1] >= MAX_TOKENS:
                return None
            begun = (text, ready[1])
        states = begun[1]
        with self._lock, self._torch.inference_mode():
            for layer in self._upper:  # one text without padding: no attention mask is needed
                states = layer(states, None)
            pooled = states[0].mean(dim=0)
            vector: np.ndarray = (pooled / pooled.norm()).numpy().astype(np.float32)
        return vector

    def forget(self) -> None:
        """Let go of this thread's begun reading (the check ended before it needed the embedding)."""
        self._begun.read = None
        self._begun.ahead = None


# ----------------------------------------------------------------------------------------- the tagger


@dataclass(frozen=True)
class NameTagger:
    weights: np.ndarray
    bias: float
    threshold: float  # for words the names lists hold as given names or surnames
    wide_threshold: float  # for words only the wide list holds ("ocean", "fade"): far fewer are names

    def threshold_for(self, c: Candidate, lex: Lexicon) -> float:
        return self.threshold if _listed(c.lower, lex) else self.wide_threshold

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = features @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def featurise(
    texts: Sequence[str], found: Sequence[Sequence[Candidate]], vectors: TokenVectors, lex: Lexicon
) -> list[np.ndarray]:
    """Feature rows per text: contextual vector (unit length) then the spelling features."""
    out: list[np.ndarray] = []
    vecs = vectors.spans(texts, [[(c.start, c.end) for c in cs] for cs in found])
    for text, cs, v in zip(texts, found, vecs, strict=True):
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        v = v / np.where(norms == 0, 1.0, norms)
        spelling = np.asarray([spelling_features(text, c, lex) for c in cs], dtype=np.float32)
        out.append(np.hstack([v, spelling.reshape(len(cs), -1)]) if cs else np.zeros((0, v.shape[1] + 6)))
    return out


class Tagger:
    """Loads the model and the weights once; `spans(text)` gives the candidate words it calls names."""

    def __init__(self, vectors: TokenVectors | None = None, path: Path = WEIGHTS) -> None:
        self.lex = lexicon()
        self.model = load(path)
        self.vectors = vectors or TokenVectors()

    def scored(
        self, text: str, protected: frozenset[str] = frozenset(), places: Sequence[tuple[int, int]] = ()
    ) -> list[tuple[Candidate, float]]:
        found = candidates(text[: MAX_TOKENS * 4], self.lex, protected, places)
        if not found:
            return []  # no word that could be a name: no forward pass
        (features,) = featurise([text], [found], self.vectors, self.lex)
        return list(zip(found, (float(p) for p in self.model.probabilities(features)), strict=True))

    def spans(
        self, text: str, protected: frozenset[str] = frozenset(), places: Sequence[tuple[int, int]] = ()
    ) -> list[tuple[int, int]]:
        return [
            (c.start, c.end)
            for c, p in self.scored(text, protected, places)
            if p >= self.model.threshold_for(c, self.lex)
        ]


# --------------------------------------------------------------------------------------- training data


@dataclass(frozen=True)
class Example:
    text: str
    names: tuple[tuple[int, int], ...]  # character spans that are people's names
    group: str  # the context it came from, so cross-validation holds whole contexts out
    lower_only: bool = False  # a found sentence: only its lower-case words are known not to be names


def read_contexts(path: Path = CONTEXTS) -> list[str]:
    lines = [x.strip() for x in path.read_text(encoding="utf-8").splitlines()]
    out = [x for x in lines if x and not x.startswith("#")]
    for x in out:
        if not re.search(r"\{[cas]\}", x) or re.search(r"\{(?![cas]\})", x):
            raise ValueError(f"name_contexts.txt: a context needs {{c}}, {{a}} or {{s}} slots: {x!r}")
    return out


def _pools(lex: Lexicon) -> dict[str, list[str]]:
    simple = sorted(n for n in lex.first if n.isalpha() and n not in STOP_WORDS and n not in _NOT_NAMES)
    wide = sorted(n for n in lex.first_wide - lex.first if n.isalpha() and n not in STOP_WORDS)
    return {
        "wordy": [n for n in simple if lex.is_word(n)],
        "wide": [n for n in wide if lex.is_word(n) and n not in _NOT_NAMES and n not in RELATION_CUES],
        "given": simple,
        "last": sorted(n for n in lex.last if n.isalpha() and n not in STOP_WORDS and not lex.is_word(n)),
    }


def _cased(name: str, rng: random.Random) -> str:
    return name if rng.random() < 0.5 else name.capitalize()


def filled_contexts(contexts: Sequence[str], lex: Lexicon, seed: int = SEED) -> list[Example]:
    """Each context filled FILLS_PER_CONTEXT times: most given names drawn are also words, a quarter of
    them words given as names only lately or rarely ("ocean", "sage"), so only the context can tell."""
    rng = random.Random(seed)
    pools = _pools(lex)
    out: list[Example] = []
    for k, context in enumerate(contexts):
        for _ in range(FILLS_PER_CONTEXT):
            text, names, pos = "", [], 0
            for m in re.finditer(r"\{([cas])\}", context):
                text += context[pos : m.start()]
                if m.group(1) == "s":
                    name = rng.choice(pools["last"]).capitalize()
                else:
                    draw = rng.random()
                    pool = pools["wordy"] if draw < 0.45 else pools["wide"] if draw < 0.7 else pools["given"]
                    name = _cased(rng.choice(pool), rng)
                names.append((len(text), len(text) + len(name)))
                text += name
                pos = m.end()
            text += context[pos:]
            if rng.random() < 0.3:
                text = text[0].upper() + text[1:]
            out.append(Example(text, tuple(names), f"context{k}"))
    return out


def wordnet_examples() -> list[str]:
    """Every quoted usage example in WordNet 3.0's glosses."""
    from safeguide.safety.names import _wordnet_dir

    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        with (_wordnet_dir() / f"data.{pos}").open(encoding="latin-1") as f:
            for line in f:
                if line.startswith(" ") or " | " not in line:
                    continue
                out.extend(x.strip() for x in re.findall(r'"([^"]{12,300})"', line.split(" | ", 1)[1]))
    return out


def word_uses(sentences: Iterable[str], lex: Lexicon, per_word: int = 4, seed: int = SEED) -> list[Example]:
    """Sentences in which a name-like word appears in lower case, as a word: negatives, at most
    `per_word` for each word so that "will" and "may" do not crowd out "ocean" and "legend"."""
    rng = random.Random(seed)
    pool = list(dict.fromkeys(sentences))
    rng.shuffle(pool)
    count: dict[str, int] = {}
    out: list[Example] = []
    for text in pool:
        # Lower-case English words only: a lower-case word that is no English word may be a name.
        found = [c for c in candidates(text, lex) if text[c.start].islower() and lex.is_word(c.lower)]
        if found and any(count.get(c.lower, 0) < per_word for c in found):
            for c in found:
                count[c.lower] = count.get(c.lower, 0) + 1
            out.append(Example(text, (), f"use{len(out)}", lower_only=True))
    return out


def training_examples(lex: Lexicon, questions: Sequence[str] = ()) -> list[Example]:
    """Filled person contexts, and word uses from WordNet and from our own (never held-out) practitioner
    questions and safety training lines, which are in the register people type in."""
    return filled_contexts(read_contexts(), lex) + word_uses(
        wordnet_examples() + list(questions) + safety_lines(), lex
    )


def safety_lines() -> list[str]:
    out: list[str] = []
    for name in ("danger", "harmful"):
        for line in (DATA / f"{name}.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append(line.partition("\t")[2].strip())
    return out


def data_fingerprint(questions: Sequence[str] = ()) -> str:
    """sha256 over what training reads (WordNet and the names lexicon are pinned packages)."""
    h = hashlib.sha256()
    h.update(CONTEXTS.read_bytes())
    for name in ("danger", "harmful"):
        h.update((DATA / f"{name}.tsv").read_bytes())
    h.update("\n".join(questions).encode())
    h.update(f"{SEED}:{FILLS_PER_CONTEXT}:{RECALL_TARGET}:{WIDE_FALSE_FLAGS}:{LAYERS}".encode())
    return h.hexdigest()


# -------------------------------------------------------------------------------------------- training


def labelled_rows(
    examples: Sequence[Example], vectors: TokenVectors, lex: Lexicon, batch: int = 64
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Feature rows for every candidate in every example, its label, its group and its word."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    groups: list[str] = []
    words: list[str] = []
    for i in range(0, len(examples), batch):
        chunk = examples[i : i + batch]
        found = [
            [
                c
                for c in candidates(e.text, lex)
                if not e.lower_only or (e.text[c.start].islower() and lex.is_word(c.lower))
            ]
            for e in chunk
        ]
        # A name slot is a candidate even when the lexicon would not offer it (it always does here).
        for e, cs in zip(chunk, found, strict=True):
            have = {(c.start, c.end) for c in cs}
            for s, t in e.names:
                if (s, t) not in have:
                    cs.append(Candidate(s, t, e.text[s:t].lower()))
        for e, cs, f in zip(
            chunk, found, featurise([e.text for e in chunk], found, vectors, lex), strict=True
        ):
            for c, row in zip(cs, f, strict=True):
                xs.append(row)
                ys.append(int(any(s <= c.start and c.end <= t for s, t in e.names)))
                groups.append(e.group)
                words.append(c.lower)
    return np.vstack(xs), np.asarray(ys), groups, words


def train(
    examples: Sequence[Example], vectors: TokenVectors, lex: Lexicon, progress: Callable[[str], None] = print
) -> tuple[NameTagger, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    x, y, groups, words = labelled_rows(examples, vectors, lex)
    progress(f"name tagger: {len(y)} candidate words ({int(y.sum())} names) from {len(examples)} sentences")

    def fit(idx: np.ndarray) -> Any:
        return LogisticRegression(C=2.0, class_weight="balanced", max_iter=5000).fit(x[idx], y[idx])

    out_of_fold = np.zeros(len(y))
    for train_idx, test_idx in GroupKFold(5).split(x, y, groups):
        out_of_fold[test_idx] = fit(train_idx).predict_proba(x[test_idx])[:, 1]
    listed = np.asarray([_listed(w, lex) for w in words])
    positives = np.sort(out_of_fold[(y == 1) & listed])
    keep = max(1, math.ceil(RECALL_TARGET * len(positives)))
    threshold = min(MAX_THRESHOLD, float(positives[len(positives) - keep]) - 1e-6)
    # A word only the wide list holds is rarely anyone's name: its bar is where at most WIDE_FALSE_FLAGS
    # of such words used as words would be taken for names (and never below the listed names' bar).
    wide_uses = np.sort(out_of_fold[(y == 0) & ~listed])
    wide_threshold = max(threshold, float(wide_uses[math.floor((1 - WIDE_FALSE_FLAGS) * len(wide_uses))]))
    model = fit(np.arange(len(y)))
    tagger = NameTagger(
        model.coef_[0].astype(np.float32), float(model.intercept_[0]), threshold, wide_threshold
    )
    flagged = out_of_fold >= np.where(listed, threshold, wide_threshold)
    wide_names = (y == 1) & ~listed
    report = {
        "sentences": len(examples),
        "candidates": len(y),
        "names": int(y.sum()),
        "threshold": round(threshold, 4),
        "wide_threshold": round(wide_threshold, 4),
        "cv_wide_recall": round(float(flagged[wide_names].mean()), 4) if wide_names.any() else None,
        "cv_recall": round(float(flagged[y == 1].mean()), 4),
        "cv_precision": round(float(y[flagged].mean()), 4) if flagged.any() else None,
        "cv_word_uses_flagged": round(float(flagged[y == 0].mean()), 4),
        "cv_words_flagged_sample": sorted({words[i] for i in np.flatnonzero(flagged & (y == 0))})[:40],
    }
    return tagger, report


def save(tagger: NameTagger, report: dict[str, Any], fingerprint: str, path: Path = WEIGHTS) -> Path:
    payload = {
        "data_sha256": fingerprint,
        "bias": tagger.bias,
        "threshold": tagger.threshold,
        "wide_threshold": tagger.wide_threshold,
        "weights": [round(float(v), 6) for v in tagger.weights],
        "training": report,
    }
    path.write_text(json.dumps(payload, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load(path: Path = WEIGHTS) -> NameTagger:
    payload = json.loads(path.read_text(encoding="utf-8"))
    return NameTagger(
        np.asarray(payload["weights"], dtype=np.float32),
        float(payload["bias"]),
        float(payload["threshold"]),
        float(payload["wide_threshold"]),
    )


def stored_fingerprint(path: Path = WEIGHTS) -> str:
    return str(json.loads(path.read_text(encoding="utf-8"))["data_sha256"])
