"""Read a document file into lines with page numbers. Formats: .txt, .md, .pdf (pypdf), .docx."""

from __future__ import annotations

import io
from pathlib import Path

from ingest.lines import Line
from safeguide.errors import UnsupportedDocument

SUPPORTED = (".txt", ".md", ".pdf", ".docx")


def load_lines(path: Path, *, max_bytes: int) -> list[Line]:
    """Return the document's lines. Raises UnsupportedDocument with a message a user can act on."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnsupportedDocument(
            f"{path.name}: unsupported format '{suffix or '(none)'}'; use one of {', '.join(SUPPORTED)}"
        )
    size = path.stat().st_size
    if size == 0:
        raise UnsupportedDocument(f"{path.name}: the file is empty")
    if size > max_bytes:
        raise UnsupportedDocument(f"{path.name}: {size} bytes is over the limit of {max_bytes} bytes")
    data = path.read_bytes()
    if suffix in (".txt", ".md"):
        lines = _text_lines(path.name, data)
    elif suffix == ".pdf":
        lines = _pdf_lines(path.name, data)
    else:
        lines = _docx_lines(path.name, data)
    if not any(ln.text.strip() for ln in lines):
        raise UnsupportedDocument(f"{path.name}: no text could be read from the file")
    return lines


def _text_lines(name: str, data: bytes) -> list[Line]:
    if b"\x00" in data[:8192]:
        raise UnsupportedDocument(f"{name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise UnsupportedDocument(f"{name}: not UTF-8 or Windows-1252 text ({exc.reason})") from exc
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\r\n\t\f")
    if controls > 0.01 * min(len(text), 8192):
        raise UnsupportedDocument(f"{name}: looks like a binary file, not text")
    return [Line(t) for t in text.splitlines()]


def _pdf_lines(name: str, data: bytes) -> list[Line]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnsupportedDocument(
                f"{name}: the PDF is encrypted; save an unprotected copy and ingest that instead"
            )
        lines: list[Line] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            lines.extend(Line(t, number) for t in text.splitlines())
            lines.append(Line("", number))
    except UnsupportedDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnsupportedDocument(f"{name}: the PDF could not be read ({exc})") from exc
    return lines


def _docx_lines(name: str, data: bytes) -> list[Line]:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnsupportedDocument(f"{name}: the Word file could not be read ({exc})") from exc
    lines: list[Line] = []
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text
        if style.lower().startswith("heading") and text.strip():
            digits = "".join(c for c in style if c.isdigit()) or "1"
            lines.append(Line(""))
            lines.append(Line(f"{'#' * min(int(digits), 6)} {text}"))
            lines.append(Line(""))
        elif "list" in style.lower() and text.strip():
            lines.append(Line(f"- {text}"))
        else:
            lines.append(Line(text))
            lines.append(Line(""))
    return lines
