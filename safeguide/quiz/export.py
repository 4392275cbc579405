"""Quiz exports: Moodle GIFT, Moodle XML, CSV, XLSX and a printable HTML sheet with an answer key.

Each format escapes what it must: GIFT's special characters ~ = # { } : and the backslash are escaped
with a backslash; XML text goes through the XML writer; HTML through html.escape; CSV and XLSX cells
that a spreadsheet would read as a formula (= + - @) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from html import escape
from xml.etree import ElementTree as ET

from safeguide.errors import InvalidQuery
from safeguide.quiz.questions import Question

FORMATS = {
    "gift": ("text/plain; charset=utf-8", "gift"),
    "moodle-xml": ("application/xml", "xml"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "html": ("text/html; charset=utf-8", "html"),
}
_GIFT_SPECIAL = re.compile(r"([\\~=#{}:])")


def export_quiz(title: str, questions: list[Question], fmt: str) -> tuple[bytes, str, str]:
    """(content, media type, file extension)."""
    if fmt not in FORMATS:
        raise InvalidQuery(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    media, ext = FORMATS[fmt]
    if fmt == "gift":
        data = gift(title, questions).encode()
    elif fmt == "moodle-xml":
        data = moodle_xml(title, questions)
    elif fmt == "csv":
        data = ("\ufeff" + to_csv(questions)).encode()
    elif fmt == "xlsx":
        data = to_xlsx(title, questions)
    else:
        data = to_html(title, questions).encode()
    return data, media, ext


def gift_escape(text: str) -> str:
    return _GIFT_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text).strip())


def _source(q: Question) -> str:
    return f"Source: {q.citation.label}"


def gift(title: str, questions: list[Question]) -> str:
    one_line = re.sub(r"[\r\n]+", " ", title)
    lines = [f"// {one_line}", f"$CATEGORY: {gift_escape(title)}", ""]
    for q in questions:
        lines.append(f"::{gift_escape(q.id)}::[html]{gift_escape(q.stem)} {{")
        for i, (option, feedback) in enumerate(zip(q.options, q.feedback, strict=True)):
            mark = "=" if i == q.answer_index else "~"
            lines.append(f"\t{mark}{gift_escape(option)}#{gift_escape(feedback)}")
        lines.append(f"\t####{gift_escape(_source(q) + ': ' + q.citation.text)}")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


def moodle_xml(title: str, questions: list[Question]) -> bytes:
    """Moodle's question XML: <quiz> of <question type="multichoice">, one answer at fraction 100."""
    quiz = ET.Element("quiz")
    category = ET.SubElement(quiz, "question", type="category")
    ET.SubElement(ET.SubElement(category, "category"), "text").text = f"$course$/{title}"

    def text_of(parent: ET.Element, tag: str, value: str, fmt: str = "plain_text") -> None:
        node = ET.SubElement(parent, tag, format=fmt) if fmt else ET.SubElement(parent, tag)
        ET.SubElement(node, "text").text = value

    for q in questions:
        node = ET.SubElement(quiz, "question", type="multichoice")
        name = ET.SubElement(node, "name")
        ET.SubElement(name, "text").text = q.id
        text_of(node, "questiontext", q.stem)
        text_of(node, "generalfeedback", f"{_source(q)}. {q.citation.text}")
        ET.SubElement(node, "defaultgrade").text = "1"
        ET.SubElement(node, "penalty").text = "0.3333333"
        ET.SubElement(node, "hidden").text = "0"
        ET.SubElement(node, "single").text = "true"
        ET.SubElement(node, "shuffleanswers").text = "true"
        ET.SubElement(node, "answernumbering").text = "abc"
        for i, (option, feedback) in enumerate(zip(q.options, q.feedback, strict=True)):
            answer = ET.SubElement(
                node, "answer", fraction="100" if i == q.answer_index else "0", format="plain_text"
            )
            ET.SubElement(answer, "text").text = option
            fb = ET.SubElement(answer, "feedback", format="plain_text")
            ET.SubElement(fb, "text").text = feedback
    ET.indent(quiz)
    body: str = ET.tostring(quiz, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _rows(questions: list[Question]) -> list[list[str]]:
    width = max(len(q.options) for q in questions)
    header = ["id", "question"] + [f"option_{i + 1}" for i in range(width)]
    header += ["answer", "answer_text"] + [f"feedback_{i + 1}" for i in range(width)]
    header += ["source", "source_text"]
    rows = [header]
    for q in questions:
        pad = [""] * (width - len(q.options))
        rows.append(
            [q.id, q.stem, *q.options, *pad, chr(ord("A") + q.answer_index), q.options[q.answer_index],
             *q.feedback, *pad, q.citation.label, q.citation.text]
        )  # fmt: skip
    return [[_cell(c) for c in row] for row in rows]


def to_csv(questions: list[Question]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(_rows(questions))
    return out.getvalue()


def to_xlsx(title: str, questions: list[Question]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Quiz"
    for row in _rows(questions):
        sheet.append(row)
    buffer = io.BytesIO()
    book.properties.title = title
    book.save(buffer)
    return bytes(buffer.getvalue())


def to_html(title: str, questions: list[Question]) -> str:
    items = []
    key = []
    for q in questions:
        options = "".join(f"<li>{escape(o)}</li>" for o in q.options)
        items.append(f"<li class=q><p>{escape(q.stem)}</p><ol type=A>{options}</ol></li>")
        key.append(
            f"<li><b>{chr(ord('A') + q.answer_index)}</b>: {escape(q.options[q.answer_index])}"
            f"<p class=src>{escape(q.citation.label)}: “{escape(q.citation.text)}”</p></li>"
        )
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font:11pt/1.4 system-ui,sans-serif;margin:1.5cm}}"
        ".q{margin-bottom:1em;break-inside:avoid}.src{color:#444;font-size:.9em}"
        ".key{break-before:page}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>Name: ____________________  Date: ____________</p>"
        f"<ol>{''.join(items)}</ol><section class=key><h2>Answer key, with sources</h2>"
        f"<ol>{''.join(key)}</ol></section></body></html>"
    )
