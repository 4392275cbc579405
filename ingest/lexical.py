"""The lexical half of search: one tokenizer, and the BM25 index built at ingest and kept with the build.

Stored with the build (`build/lexical/`, with the chunk ids in index order), the BM25 index is opened by
every worker from disk (memory-mapped, so the workers share it) instead of being rebuilt in each at start.
A build made before this was kept gets its BM25 index rebuilt in memory when opened, as before.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import bm25s

LEXICAL_DIR = "lexical"
IDS_FILE = "ids.json"
PAGE = 5000  # passages read from Chroma per call

# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "may", "me", "might", "must", "my", "no", "not", "of", "on", "or", "our", "she", "should",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why",
    "will", "with", "would", "you", "your", "about", "after", "before", "being", "also", "any", "all",
    "each", "other", "some", "such", "only", "own", "same", "too", "very", "s", "t", "just", "don",
})
_UNITS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen",
]
# fmt: on
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}
NUMBER_WORDS = {w: str(i) for i, w in enumerate(_UNITS)} | {w: str(n) for w, n in _TENS.items()}


def _fold_numbers(tokens: list[str]) -> list[str]:
    """Guidance writes numbers both ways ("forty eight hours", "48 hours"); fold words to digits."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _TENS and i + 1 < len(tokens) and tokens[i + 1] in _UNITS[1:10]:
            out.append(str(_TENS[tok] + _UNITS.index(tokens[i + 1])))
            i += 2
            continue
        out.append(NUMBER_WORDS.get(tok, tok))
        i += 1
    return out


def tokenize(text: str) -> list[str]:
    out = []
    for tok in _fold_numbers(_TOKEN.findall(text.lower())):
        if tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]  # a light plural fold: "conferences" ~ "conference"
        out.append(tok)
    return out


def passage_tokens(text: str, meta: dict[str, Any]) -> list[str]:
    """What BM25 indexes of a passage: its document title, heading, paragraph number and text."""
    return tokenize(f"{meta['title']} {meta['heading']} {meta['paragraph']} {text}")


def read_collection(collection: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Every passage's id, text and metadata, in pages (one `get` of 100,000 overflows SQLite)."""
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    while True:
        page = collection.get(include=["documents", "metadatas"], limit=PAGE, offset=len(ids))
        if not page["ids"]:
            return ids, texts, metas
        ids += page["ids"]
        texts += page["documents"]
        metas += [dict(m) for m in page["metadatas"]]


def build_lexical(ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index([passage_tokens(t, m) for t, m in zip(texts, metas, strict=True)], show_progress=False)
    return index


def save_lexical(build: Path, ids: list[str], index: bm25s.BM25) -> None:
    """Written beside the collection, before the build is switched to (a build is complete or unused)."""
    target = build / LEXICAL_DIR
    shutil.rmtree(target, ignore_errors=True)
    index.save(str(target))
    (target / IDS_FILE).write_text(json.dumps(ids), encoding="utf-8")


def load_lexical(build: Path) -> tuple[list[str], bm25s.BM25] | None:
    """The stored index and its chunk ids, or None for a build that has none."""
    target = build / LEXICAL_DIR
    if not (target / IDS_FILE).exists():
        return None
    ids = json.loads((target / IDS_FILE).read_text(encoding="utf-8"))
    return [str(i) for i in ids], bm25s.BM25.load(str(target), mmap=True)
