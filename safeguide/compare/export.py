"""A comparison exported for managers: Markdown, CSV or HTML, every change with its sources."""

from __future__ import annotations

import re

from safeguide.compare.changes import Change, CitedSide, Comparison
from safeguide.errors import InvalidQuery

# ------------------------------------------------------------------------------------------------ exports

EXPORT_FORMATS = ("md", "csv", "html")
_MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def export(comparison: Comparison, fmt: str) -> tuple[str, str]:
    """The comparison as Markdown, CSV or a printable HTML briefing: (text, media type)."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidQuery(f"unknown format {fmt!r}; formats are {', '.join(EXPORT_FORMATS)}")
    text = {"md": _markdown, "csv": _csv, "html": _html}[fmt](comparison)
    return text, _MEDIA[fmt]


def _title(c: Comparison) -> str:
    return f"What changed between Working Together {c.from_edition} and {c.to_edition}" + (
        f" (topic: {c.topic})" if c.topic else ""
    )


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", re.sub(r"\s+", " ", text)).strip()


def _markdown(c: Comparison) -> str:
    lines = [f"# {_md_escape(_title(c))}", ""]
    lines += [f"> {_md_escape(n)}" for n in c.notes] + ([""] if c.notes else [])
    for section, changes in (("Changes", c.changes), (f"Already new in {c.from_edition}", c.earlier)):
        if not changes:
            continue
        lines += [f"## {section}", ""]
        for ch in changes:
            lines.append(f"### {_md_escape(ch.topic)}: {ch.kind}")
            lines.append("")
            lines.append(_md_escape(ch.summary))
            lines.append("")
            for label, side in (("Before", ch.before), ("After", ch.after)):
                if side is not None:
                    lines.append(f"- **{label}** ({_md_escape(side.citation)}): {_md_escape(side.text)}")
            if ch.note:
                lines.append(f"- *{_md_escape(ch.note)}*")
            lines.append("")
    return "\n".join(lines)


def _csv(c: Comparison) -> str:
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out)
    header = "section id topic kind summary before_citation before_text after_citation after_text note"
    w.writerow(header.split())
    for section, changes in (("change", c.changes), (f"new in {c.from_edition}", c.earlier)):
        for ch in changes:
            b, a = ch.before, ch.after
            w.writerow(
                [section, ch.id, ch.topic, ch.kind, ch.summary, b.citation if b else "", b.text if b else "",
                 a.citation if a else "", a.text if a else "", ch.note]
            )  # fmt: skip
    return "\ufeff" + out.getvalue()  # a byte-order mark so spreadsheet programs read UTF-8


def _html(c: Comparison) -> str:
    from html import escape

    def side(s: CitedSide | None) -> str:
        if s is None:
            return '<td class="none">Not in the corpus</td>'
        return f'<td><p class="cite">{escape(s.citation)}</p><blockquote>{escape(s.text)}</blockquote></td>'

    def table(changes: list[Change]) -> str:
        rows = "".join(
            f'<tr><th scope="row"><span class="kind">{escape(ch.kind)}</span> {escape(ch.topic)}'
            f"<p>{escape(ch.summary)}</p>{f'<p class=note>{escape(ch.note)}</p>' if ch.note else ''}</th>"
            f"{side(ch.before)}{side(ch.after)}</tr>"
            for ch in changes
        )
        return (
            f"<table><thead><tr><th>Change</th><th>Before ({escape(c.from_edition)})</th>"
            f"<th>After ({escape(c.to_edition)})</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in c.notes)
    earlier = (
        f"<h2>Already new in {escape(c.from_edition)} (not a change between these editions)</h2>"
        + table(c.earlier)
        if c.earlier
        else ""
    )
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>{escape(_title(c))}</title><style>"
        "body{font:11pt/1.4 system-ui,sans-serif;margin:1.5cm}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:.4em;vertical-align:top;text-align:left}"
        "blockquote{margin:0}.cite{font-weight:600;margin:0 0 .3em}.kind{text-transform:uppercase;"
        "font-size:.8em;border:1px solid;padding:0 .3em}.note{font-style:italic;color:#444}"
        ".none{color:#666}@media print{tr{break-inside:avoid}}"
        f"</style></head><body><h1>{escape(_title(c))}</h1>{notes}"
        f"<p>{len(c.changes)} changes, each with the passages it rests on. Build {escape(c.build)}.</p>"
        f"<h2>Changes</h2>{table(c.changes)}{earlier}</body></html>"
    )
