"""The paragraph parser on the real seeds (pinned paragraphs and counts) and on small made-up texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.lines import Line, Paragraph, Style
from ingest.loaders import load_lines
from ingest.paragraphs import detect_style, parse_paragraphs

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
S0, S1, S2, S3, S4 = (
    "000_4753dfd468e4d45e.txt",
    "001_22d50fc10ed8a991.txt",
    "002_a86e30c528fa11a4.txt",
    "003_a2ea61cae8fecd8a.txt",
    "004_da39fd33e650c75b.txt",
)


def parse(name: str) -> list[Paragraph]:
    return parse_paragraphs(load_lines(CORPUS / name, max_bytes=10**8)).paragraphs


def lines(text: str) -> list[Line]:
    return [Line(t) for t in text.splitlines()]


def by_number(paragraphs: list[Paragraph], number: str) -> list[Paragraph]:
    return [p for p in paragraphs if p.number == number]


@pytest.mark.parametrize(
    ("name", "style"),
    [
        (S0, Style.HEADINGS),
        (S1, Style.BRACKETED),
        (S2, Style.HIERARCHICAL),
        (S3, Style.PLAIN),
        (S4, Style.HEADINGS),
    ],
)
def test_style_is_read_from_the_text(name: str, style: Style) -> None:
    assert detect_style(load_lines(CORPUS / name, max_bytes=10**8)) is style


def test_counts_per_document() -> None:
    # S0: 164 paragraphs under chapter headings, one split in two (a long list of references).
    # S1: 214 bullet points; 150 carry a WT 2010 reference, 64 (the "Key changes include" points) do not.
    # S2: 342 numbered paragraphs + 24 unnumbered (front matter, chapter introductions); 13 extra parts
    #     from long paragraphs split with their number kept (11.1.1 alone makes three parts).
    # S3: 73 numbered paragraphs (1-74 less the empty "- 7.") + the NB after 37; ¶3 and ¶17 split in two.
    # S4: 33 slide paragraphs after dropping a repeated slide and the "5 CHAPTERS" contents slide.
    assert [len(parse(n)) for n in (S0, S1, S2, S3, S4)] == [165, 214, 379, 76, 33]


def test_s2_number_alone_then_text() -> None:
    ps = parse(S2)
    (p,) = by_number(ps, "7.1.3")
    assert p.text.startswith("All referrals will be seen by a manager")
    assert "within one working day of receipt" in p.text
    assert p.heading_path[-1] == "7.1 REFERRAL"
    (icpc,) = by_number(ps, "8.2.6")
    assert "within 15 working days of the strategy discussion" in icpc.text
    assert icpc.heading_path[-1] == "8.2 INITIAL CONFERENCES"


def test_s2_heading_never_printed_does_not_leak_previous_section() -> None:
    (p,) = by_number(parse(S2), "5.15")
    assert "first Rapid Response meeting within 1-5 days" in p.text
    assert p.heading_path[-1] == "5 Notifications of all child deaths"


def test_s2_bullets_and_agenda_stay_with_their_paragraph() -> None:
    parts = by_number(parse(S2), "8.10.6")
    text = "\n".join(p.text for p in parts)
    assert "AGENDA FOR CHILD PROTECTION CONFERENCES" in text
    assert "16. Date of next conference." in text
    assert all(p.parts == len(parts) for p in parts)


def test_s2_long_paragraph_is_split_with_its_number_on_every_part() -> None:
    parts = by_number(parse(S2), "11.1.1")
    assert len(parts) == 3
    assert [p.part for p in parts] == [1, 2, 3]
    assert all(len(p.text) <= 1200 for p in parts)
    assert "within 10 working days" in parts[-1].text


def test_s3_plain_numbers_and_nb() -> None:
    ps = parse(S3)
    (p23,) = by_number(ps, "23")
    assert "three weekly" in p23.text
    (nb,) = [p for p in ps if p.kind == "nb"]
    assert nb.after == "37" and nb.number is None
    assert "neglect" in nb.text
    assert not by_number(ps, "7")  # "- 7." has no text
    (p8,) = by_number(ps, "8")
    assert "within ten working days of the initial child protection conference" in p8.text
    assert p8.heading_path[-1] == "Core Group Processes"


def test_s3_table_of_contents_is_not_a_paragraph() -> None:
    first = parse(S3)[0]
    assert first.number == "1"
    assert first.text.startswith("When a child protection conference decides")


def test_s3_page_break_continuation_joins_its_paragraph() -> None:
    (p9,) = by_number(parse(S3), "9")
    assert "resource implications in co-ordinating the work of the core group" in p9.text


def test_s1_reference_into_wt2010_is_the_paragraph_number() -> None:
    ps = parse(S1)
    (p,) = [p for p in ps if p.text.startswith("Initial assessment timescale changes to 10 working days")]
    assert (p.number, p.ref_page) == ("5.39", 145)
    assert p.heading_path[1] == "Chapter 5: Managing Individual Cases"
    (icpc,) = by_number(ps, "5.83")
    assert "within 15 days of the strategy discussion" in icpc.text and icpc.ref_page == 162


def test_s1_sub_bullets_join_the_point_that_introduces_them() -> None:
    (p,) = by_number(parse(S1), "3.8")
    assert p.text.startswith("The scope in relation to universal safeguarding")
    assert "work to prevent accidents" in p.text and "bullying" in p.text


def test_s0_heading_path_keeps_the_chapter() -> None:
    ps = parse(S0)
    (p,) = [p for p in ps if "extended from seven to ten working days" in p.text]
    assert p.heading_path == ("Chapter 5", "Referrals and assessments")
    (d,) = [
        p for p in ps if p.text.startswith("The information presented to the child protection conference")
    ]
    assert d.heading_path == ("Chapter 5", "Decisions")


def test_s0_furniture_is_dropped() -> None:
    text = "\n".join(p.text for p in parse(S0))
    assert "improving services for children" not in text.splitlines()[0]
    assert "01895 204861" not in text and "research@reconstruct.co.uk" not in text


def test_s4_before_and_now_stay_together() -> None:
    ps = parse(S4)
    pairs = [p for p in ps if p.kind == "comparison"]
    assert len(pairs) == 5
    for p in pairs:
        assert p.text.startswith("Before: ") and "\nNow: " in p.text and p.parts == 1
    (strategy,) = [p for p in pairs if p.heading_path == ("Attending a strategy discussion",)]
    assert "social worker and their manager" in strategy.text.split("Now:")[0]
    assert "their manager" not in strategy.text.split("Now:")[1]
    (table,) = [p for p in pairs if "agree a plan of action" in p.text]
    assert "<p>" not in table.text and "<b>" not in table.text


def test_s4_repeated_slide_and_contents_slide_are_dropped() -> None:
    ps = parse(S4)
    panel = [p for p in ps if "A copy of the rapid review should be sent to the Panel" in p.text]
    assert len(panel) == 1
    assert not any("5 CHAPTERS" in " ".join(p.heading_path) for p in ps)


def test_s4_slide_list_running_onto_next_slide_stays_with_its_intro() -> None:
    (p,) = [p for p in parse(S4) if "alert to the potential need for early help" in p.text]
    assert "is a privately fostered child" in p.text


def test_hierarchical_rules_on_a_longer_document() -> None:
    body = "\n".join(f"3.{i}\nRule number {i} says something useful about practice." for i in range(1, 12))
    text = "3\nPROCEDURES\n" + body + "\n3.12 LIST\n3.12.1 The list:\n- a\n- b\n"
    result = parse_paragraphs(lines(text), min_fragment_chars=0)
    assert result.style is Style.HIERARCHICAL
    last = result.paragraphs[-1]
    assert last.number == "3.12.1" and last.text == "The list:\n- a\n- b"
    assert last.heading_path == ("3 PROCEDURES", "3.12 LIST")


def test_tiny_fragment_merges_into_its_neighbour() -> None:
    text = "# Slide\n\nA paragraph long enough to stand on its own as a real paragraph.\n\nLabel\n"
    result = parse_paragraphs(lines(text), min_fragment_chars=40)
    assert len(result.paragraphs) == 1
    assert result.paragraphs[0].text.endswith("Label")


# ---------------------------------------------------------------------------------- printed documents
AREA_DOCS = Path(__file__).resolve().parent.parent / "eval" / "area_docs"


def _page(number: int, body: list[str], header: str = "Anytown SCP · Procedures Manual") -> list[Line]:
    lines = [Line(header, number), *(Line(t, number) for t in body)]
    return [*lines, Line(f"Page {number} of 3", number), Line("", number)]


def _section(n: int, title: str) -> list[str]:
    return [
        f"{n} {title}",
        *(f"{n}.{k} Paragraph {k} of {title.lower()} says what to do." for k in (1, 2, 3, 4)),
    ]


def test_running_headers_footers_and_page_numbers_are_removed() -> None:
    lines = (
        _page(1, _section(1, "Referrals"))
        + _page(2, [*_section(2, "Strategy discussions"), "7"])
        + _page(3, _section(3, "Conferences"))
    )
    result = parse_paragraphs(lines)
    text = "\n".join(p.text for p in result.paragraphs)
    assert "Anytown SCP" not in text and "Page" not in text and "\n7" not in text, text
    assert [p.number for p in result.paragraphs] == [f"{n}.{k}" for n in (1, 2, 3) for k in (1, 2, 3, 4)]
    assert result.dropped["running header or footer"] == 6


def test_a_header_on_one_page_only_is_text() -> None:
    lines = _page(1, _section(1, "Referrals"), header="A unique opening line") + _page(
        2, _section(2, "Conferences")
    )
    kept = "\n".join(p.text for p in parse_paragraphs(lines).paragraphs)
    assert "A unique opening line" in kept


def test_contents_lines_are_removed_but_the_sections_they_list_stay() -> None:
    lines = _page(1, ["Contents", "1 Referrals 2", "2 Conferences 2", "3 Plans .......... 3"]) + _page(
        2, _section(1, "Referrals") + _section(2, "Conferences") + _section(3, "Plans")
    )
    result = parse_paragraphs(lines)
    assert {p.heading_path for p in result.paragraphs} == {("1 Referrals",), ("2 Conferences",), ("3 Plans",)}
    assert len(result.paragraphs) == 12
    assert result.dropped["table of contents"] == 4


def test_the_printed_area_manual_has_no_page_furniture_left() -> None:
    """The Westmarsh test manual: printed by Chromium with a running header, "Page N of M" footers, a
    title page and a contents page (eval/area_docs)."""
    result = parse_paragraphs(load_lines(AREA_DOCS / "westmarsh_procedures.pdf", max_bytes=10**7))
    furniture = [
        p.text
        for p in result.paragraphs
        if "Procedures Manual" in p.text
        or "Page " in p.text
        or "Version 3.2" in p.text
        or "Contents" in p.text
    ]
    assert furniture == []
    assert [p.number for p in result.paragraphs][:3] == ["1.1", "1.2", "2.1"]
    assert len(result.paragraphs) == 20
    five_one = next(p for p in result.paragraphs if p.number == "5.1")
    assert five_one.heading_path == ("5 Initial child protection conferences",)
    assert "12 working days of the strategy" in " ".join(five_one.text.split())


def test_paragraph_labels_in_a_word_document_are_their_numbers() -> None:
    result = parse_paragraphs(load_lines(AREA_DOCS / "westmarsh_thresholds.docx", max_bytes=10**7))
    assert [p.number for p in result.paragraphs] == [
        "A1",
        "A2",
        "A3",
        "A4",
        "B1",
        "B2",
        "B3",
        "C1",
        "C2",
        "C3",
    ]
    assert result.paragraphs[4].text.startswith("Any allegation")
