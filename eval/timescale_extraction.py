"""How well timescales are read from documents (issue 13): extraction precision and recall against
hand-labelled statements, and how often the trigger and event map onto the right ids.

Documents: the five seeds (corpus/; labels are the reviewed rules of corpus/timescales.toml) and the
two Westmarsh documents (a PDF and a Word file; hand-labelled) are the development set, looked at
while the extractor was built. The Eastbrook document and its labels were committed before the
extractor was first run on it and are reported apart, as held-out.

A found statement matches a label with the same document, paragraph (or heading, for unnumbered
documents), amount and unit; each label matches once.

    python -m eval.timescale_extraction    # prints figures; writes eval/results/timescale_extraction.json
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ingest.loaders import load_lines
from ingest.manifest import CorpusDocument, describe, document_files
from ingest.paragraphs import parse_paragraphs
from ingest.timescale_extract import Statement, Vocabulary, find_statements, whole_paragraphs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
AREA_DOCS = ROOT / "eval" / "area_docs"
GOLDEN = ROOT / "eval" / "golden"
RESULTS = ROOT / "eval" / "results" / "timescale_extraction.json"
HELDOUT_DOCS = ("eastbrook-procedures-2026",)


def documents() -> list[CorpusDocument]:
    """The seeds and the made-up areas' documents, with their manifests, as ingest reads them."""
    return [describe(p) for p in document_files([CORPUS, AREA_DOCS])]


def labels() -> list[dict[str, Any]]:
    rows = []
    for name in ("timescale_statements.jsonl", "timescale_statements_heldout.jsonl"):
        for line in (GOLDEN / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if "doc_id" in row:
                rows.append(row)
    return rows


def _where(s: Statement) -> str:
    return s.paragraph or s.heading or ""


def _score(found: list[Statement], wanted: list[dict[str, Any]]) -> dict[str, Any]:
    unmatched = list(wanted)
    matched: list[tuple[Statement, dict[str, Any]]] = []
    extra: list[Statement] = []
    for s in found:
        hit = next(
            (
                w
                for w in unmatched
                if (w["doc_id"], str(w["paragraph"]), w["amount"], w["unit"])
                == (s.doc_id, _where(s), s.amount, s.unit)
            ),
            None,
        )
        if hit is None:
            extra.append(s)
        else:
            unmatched.remove(hit)
            matched.append((s, hit))
    mapped = [(s, w) for s, w in matched if not s.problems]
    right = [(s, w) for s, w in mapped if (s.trigger, s.event) == (w["trigger"], w["event"])]
    shape = [(s, w) for s, w in matched if (s.kind, s.direction) == (w["kind"], w["direction"])]
    return {
        "labelled": len(wanted),
        "found": len(found),
        "precision": round(len(matched) / len(found), 3) if found else None,
        "recall": round(len(matched) / len(wanted), 3) if wanted else None,
        "mapped_share": round(len(mapped) / len(matched), 3) if matched else None,
        "trigger_and_event_right": round(len(right) / len(mapped), 3) if mapped else None,
        "kind_and_direction_right": round(len(shape) / len(matched), 3) if matched else None,
        "missed": [f"{w['doc_id']} {w['paragraph']}: {w['evidence']}" for w in unmatched],
        "extra": [f"{s.doc_id} {_where(s)}: {s.as_written}" for s in extra],
        "mapped_wrong": [
            f"{s.doc_id} {_where(s)}: {s.trigger}->{s.event} (labelled {w['trigger']}->{w['event']})"
            for s, w in mapped
            if (s, w) not in right
        ],
        "unmapped": [f"{s.doc_id} {_where(s)}: {'; '.join(s.problems)}" for s, _ in matched if s.problems],
    }


def run() -> dict[str, Any]:
    vocab = Vocabulary.load(CORPUS / "events.toml")
    found: list[Statement] = []
    per_doc: Counter[str] = Counter()
    for document in documents():
        paragraphs = parse_paragraphs(load_lines(document.path, max_bytes=50_000_000)).paragraphs
        # As ingest reads them: a long paragraph split into parts is read once, whole.
        statements = find_statements(document.manifest.id, whole_paragraphs(paragraphs), vocab)
        found.extend(statements)
        per_doc[document.manifest.id] += len(statements)
    wanted = labels()
    held = set(HELDOUT_DOCS)
    return {
        "development": _score(
            [s for s in found if s.doc_id not in held], [w for w in wanted if w["doc_id"] not in held]
        ),
        "heldout": _score([s for s in found if s.doc_id in held], [w for w in wanted if w["doc_id"] in held]),
        "statements_per_document": dict(sorted(per_doc.items())),
    }


def main() -> None:
    report = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for part in ("development", "heldout"):
        r = report[part]
        print(
            f"{part}: precision {r['precision']} recall {r['recall']} (labelled {r['labelled']}, found "
            f"{r['found']}); mapped {r['mapped_share']}, trigger+event right {r['trigger_and_event_right']}, "
            f"kind+direction right {r['kind_and_direction_right']}"
        )


if __name__ == "__main__":
    main()
