"""Build the made-up area's two test documents from their Markdown sources (written for safeguide).

- `westmarsh_procedures.pdf`: printed by Chromium with a running header, a footer with page numbers,
  a title page and a contents page, as a local authority's procedures manual usually is;
- `westmarsh_thresholds.docx`: Word, with headings and numbered paragraphs.

Run `python eval/area_docs/build.py` after editing a source; the outputs are committed so that
ingesting them needs no build step.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "Westmarsh Safeguarding Children Partnership · Child Protection Procedures Manual"
FOOTER = (
    "Version 3.2 · March 2026 · Page <span class='pageNumber'></span> of <span class='totalPages'></span>"
)


def _blocks(source: str) -> list[tuple[str, str]]:
    out = []
    for block in source.strip().split("\n\n"):
        block = block.strip()
        if block.startswith("## "):
            out.append(("h2", block[3:]))
        elif block.startswith("# "):
            out.append(("h1", block[2:]))
        else:
            out.append(("p", block))
    return out


def build_pdf() -> Path:
    from playwright.sync_api import sync_playwright

    blocks = _blocks((HERE / "sources" / "westmarsh_procedures.md").read_text(encoding="utf-8"))
    title = next(t for k, t in blocks if k == "h1")
    sections = [t for k, t in blocks if k == "h2"]
    # The printed page of each section (sections 1-5 fall on page 3, the rest on page 4).
    contents = "".join(
        f"<div class='toc'><span>{html.escape(s)}</span><span class='dots'></span>"
        f"<span>{3 if i < 5 else 4}</span></div>"
        for i, s in enumerate(sections)
    )
    body = "".join(
        f"<h2>{html.escape(t)}</h2>" if k == "h2" else f"<p>{html.escape(t)}</p>"
        for k, t in blocks
        if k != "h1"
    )
    page = f"""<html><head><style>
      body {{ font-family: serif; font-size: 12pt; }}
      .title {{ page-break-after: always; text-align: center; padding-top: 200px; }}
      .contents {{ page-break-after: always; }}
      .toc {{ display: flex; }} .toc .dots {{ flex: 1; border-bottom: 1px dotted #000; margin: 0 4px 4px; }}
      h2 {{ page-break-before: auto; }}
    </style></head><body>
      <div class="title"><h1>{html.escape(title)}</h1><p>Westmarsh Safeguarding Children Partnership</p></div>
      <div class="contents"><h2>Contents</h2>{contents}</div>
      {body}
    </body></html>"""
    out = HERE / "westmarsh_procedures.pdf"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        tab = browser.new_page()
        tab.set_content(page)
        tab.pdf(
            path=str(out),
            format="A4",
            display_header_footer=True,
            header_template=f"<div style='font-size:8pt;width:100%;text-align:center'>{HEADER}</div>",
            footer_template=f"<div style='font-size:8pt;width:100%;text-align:center'>{FOOTER}</div>",
            margin={"top": "60px", "bottom": "60px", "left": "60px", "right": "60px"},
        )
        browser.close()
    return out


def build_docx() -> Path:
    import docx

    document = docx.Document()
    for kind, text in _blocks((HERE / "sources" / "westmarsh_thresholds.md").read_text(encoding="utf-8")):
        if kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "h2":
            document.add_heading(text, level=2)
        else:
            document.add_paragraph(re.sub(r"\s+", " ", text))
    section = document.sections[0]
    section.header.paragraphs[0].text = "Westmarsh SCP · Escalation and Allegations Guidance"
    section.footer.paragraphs[0].text = "Westmarsh SCP · 2026"
    out = HERE / "westmarsh_thresholds.docx"
    document.save(str(out))
    return out


if __name__ == "__main__":
    print(build_pdf())
    print(build_docx())
