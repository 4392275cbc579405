"""Every supported format reaches the parser with its structure; bad files get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_lines
from ingest.manifest import check_unique, describe, read_manifest
from ingest.paragraphs import parse_paragraphs
from safeguide.errors import InvalidManifest, MissingManifest, UnsupportedDocument

MANIFEST = """id = "{id}"
title = "Test procedure"
label = "Test procedure"
kind = "local procedure"
edition = "2018"
authority = "testshire"
"""

NUMBERED = [
    f"4.{i} Practitioners must record decision number {i} in the case file promptly." for i in range(1, 13)
]


def make_pdf(path: Path, pages: list[list[str]]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for page in pages:
        y = 800
        for line in page:
            c.drawString(40, y, line)
            y -= 16
        c.showPage()
    c.save()


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    pdf = tmp_path / "proc.pdf"
    make_pdf(pdf, [NUMBERED[:6], NUMBERED[6:]])
    result = parse_paragraphs(load_lines(pdf, max_bytes=10**7))
    pages = {p.number: p.page for p in result.paragraphs}
    assert pages["4.1"] == 1 and pages["4.6"] == 1
    assert pages["4.7"] == 2 and pages["4.12"] == 2


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, [NUMBERED])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as fh:
        writer.write(fh)
    with pytest.raises(UnsupportedDocument, match="encrypted"):
        load_lines(locked, max_bytes=10**7)


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\n this is not really a pdf \x00\x01\x02")
    with pytest.raises(UnsupportedDocument, match=r"could not be read|no text"):
        load_lines(bad, max_bytes=10**7)


def test_docx_headings_and_lists(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Referrals", level=1)
    d.add_paragraph("A manager decides on every referral within one working day of receipt.")
    d.add_paragraph("The decision covers:")
    d.add_paragraph("whether to assess", style="List Bullet")
    d.add_paragraph("whether to hold a strategy discussion", style="List Bullet")
    path = tmp_path / "proc.docx"
    d.save(str(path))
    result = parse_paragraphs(load_lines(path, max_bytes=10**7), min_fragment_chars=0)
    texts = [p.text for p in result.paragraphs]
    assert result.paragraphs[0].heading_path == ("Referrals",)
    assert any("whether to assess" in t and t.startswith("The decision covers:") for t in texts)


def test_markdown_is_read(tmp_path: Path) -> None:
    md = tmp_path / "notes.md"
    md.write_text("# Core groups\n\nThe first core group meets within ten working days of the conference.\n")
    (p,) = parse_paragraphs(load_lines(md, max_bytes=10**7)).paragraphs
    assert p.heading_path == ("Core groups",) and "ten working days" in p.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"   \n\n  \n", "no text"),
        ("binary.txt", bytes(range(256)) * 10, "binary"),
        ("image.png", b"\x89PNG\r\n", "unsupported format"),
        ("noext", b"hello", "unsupported format"),
    ],
)
def test_bad_files_are_refused(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedDocument, match=message):
        load_lines(path, max_bytes=10**7)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("x" * 2000)
    with pytest.raises(UnsupportedDocument, match="over the limit"):
        load_lines(path, max_bytes=1000)


def test_missing_manifest_says_what_to_add(tmp_path: Path) -> None:
    doc = tmp_path / "Our Procedure.txt"
    doc.write_text("text")
    with pytest.raises(MissingManifest) as info:
        read_manifest(doc)
    message = str(info.value)
    assert "Our Procedure.toml" in message and 'id = "our-procedure"' in message and "edition" in message


def test_manifest_problems_are_named(tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("text")
    (tmp_path / "a.toml").write_text('id = "a-doc"\ntitle = "T"\n')
    with pytest.raises(InvalidManifest, match="label"):
        read_manifest(doc)
    (tmp_path / "a.toml").write_text(MANIFEST.format(id="a-doc").replace("local procedure", "poster"))
    with pytest.raises(InvalidManifest, match="kind"):
        read_manifest(doc)
    (tmp_path / "a.toml").write_text("id = [unclosed")
    with pytest.raises(InvalidManifest, match="not valid TOML"):
        read_manifest(doc)


def test_duplicate_document_id_is_refused(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.txt").write_text("text")
        (tmp_path / f"{name}.toml").write_text(MANIFEST.format(id="same-id"))
    docs = [describe(tmp_path / "one.txt"), describe(tmp_path / "two.txt")]
    with pytest.raises(InvalidManifest, match="duplicate document id 'same-id'"):
        check_unique(docs)
