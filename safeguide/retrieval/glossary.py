"""Words that mean the same thing in safeguarding: "LADO" and "designated officer", "s47" and "section 47
enquiry", "key worker" and "lead social worker". Search adds the other words of a group to a question
that uses one (query expansion, in both the lexical and the meaning search).

Two sources, both data: `corpus/glossary.toml` (groups written by people), and the terms each document
defines for itself ("Local Safeguarding Children Boards (LSCBs)"), read at ingest by `defined_terms`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safeguide.wordlists import claim

_SMALL = frozenset({"of", "for", "and", "the", "in", "on", "to", "a", "an", "with", "by", "at"})
# Up to nine words, then an acronym in brackets: "Child Death Overview Panel (CDOP)".
_DEFINITION = re.compile(r"((?:[\w'’-]+\s+){0,8}[\w'’-]+)\s*\(\s*([A-Z][A-Za-z]{1,7})\s*\)")


def normalise(text: str) -> str:
    """Lower case; hyphens and slashes as spaces; apostrophes dropped; runs of spaces as one."""
    text = re.sub(r"[’'`]", "", text.lower())
    return " ".join(re.sub(r"[-/]", " ", text).split())


def _initials(words: Sequence[str]) -> str:
    return "".join(part[0] for w in words if w.lower() not in _SMALL for part in w.split("-") if part)


def defined_terms(text: str) -> list[tuple[str, str]]:
    """(acronym, long form) for each "Long Form (LF)" whose words' initials spell the acronym."""
    found: list[tuple[str, str]] = []
    for m in _DEFINITION.finditer(text):
        words, acronym = m.group(1).split(), m.group(2)
        letters = acronym[:-1] if acronym.endswith("s") and acronym[:-1].isupper() else acronym
        if not letters.isupper() and not letters[:-1].isupper():
            continue
        for start in range(len(words) - 1, -1, -1):
            tail = words[start:]
            if tail[0].lower() in _SMALL:
                continue
            if _initials(tail).upper() == letters.upper():
                found.append((letters, " ".join(tail)))
                break
    return found


@dataclass
class Glossary:
    """Groups of equivalent terms. `expand(question)` gives the words to add to it."""

    groups: list[tuple[str, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # (normalised term, group), longest first: "cp plan" claims its words before "cp" can.
        self._terms = sorted(
            ((normalise(t), g) for g, group in enumerate(self.groups) for t in group),
            key=lambda x: -len(x[0]),
        )

    @classmethod
    def load(cls, path: Path) -> Glossary:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the glossary: {exc}") from exc
        groups = data.get("groups", [])
        if not isinstance(groups, list) or not all(
            isinstance(g, list) and len(g) >= 2 and all(isinstance(t, str) and t.strip() for t in g)
            for g in groups
        ):
            raise ValueError(f"{path}: `groups` must be a list of lists of two or more terms")
        return cls([tuple(g) for g in groups])

    def with_terms(self, pairs: Iterable[tuple[str, str]]) -> Glossary:
        """This glossary plus (acronym, long form) pairs a document defines; a pair joins the group that
        already holds either of its terms."""
        groups = [list(g) for g in self.groups]
        where = {normalise(t): i for i, g in enumerate(groups) for t in g}
        for pair in pairs:
            i = next((where[k] for k in map(normalise, pair) if k in where), None)
            if i is None:
                groups.append([])
                i = len(groups) - 1
            for term in pair:
                if normalise(term) not in where:
                    groups[i].append(term)
                    where[normalise(term)] = i
        return Glossary([tuple(g) for g in groups])

    def expand(self, question: str) -> list[Expansion]:
        """For every group the question uses: the term it used, and the group's other terms."""
        matches = claim(normalise(question), self._terms)
        found: dict[int, str] = {}
        for _, group, term in matches:
            found.setdefault(group, term)
        present = {term for _, _, term in matches}
        return [
            Expansion(found[g], tuple(t for t in self.groups[g] if normalise(t) not in present))
            for g in sorted(found)
        ]


@dataclass(frozen=True)
class Expansion:
    used: str  # the term as the question has it (normalised)
    others: tuple[str, ...]

    @property
    def spelled_out(self) -> str | None:
        """The group's first long form when the question used an abbreviation ("s47", "LADO", "staffs",
        "CP plan"): the meaning search does not know abbreviations, and one long form is enough. A long
        form is written out in words: "section 47 enquiry", not "s 47"; "child protection plan", not
        "CPP" or "CP plan"."""
        if not _abbreviated(self.used):
            return None
        return next((t for t in self.others if not _abbreviated(normalise(t))), None)


def _abbreviated(term: str) -> bool:
    """Whether a (normalised) term is, or holds, an abbreviation: one short word ("lado", "staffs"), or a
    word of one or two letters that is not a small word, or of letters with no vowel ("cp plan", "s 47",
    "uk border agency"; not "key worker" or "at least two agencies")."""
    words = term.split()
    if len(words) == 1:
        return len(term) <= 6
    return any(w.isalpha() and w not in _SMALL and (len(w) <= 2 or not set(w) & set("aeiouy")) for w in words)
