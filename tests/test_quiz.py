"""Quiz builder on the real index: grounded questions, determinism, exports read back by independent
parsers (GIFT by a parser written here from Moodle's GIFT description, XML against Moodle's question
structure, XLSX with openpyxl), the API's review cycle and the CLI."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safeguide.compare.comparer import Comparer
from safeguide.errors import InvalidQuery
from safeguide.quiz.builder import QuizBuilder
from safeguide.quiz.export import export_quiz, gift
from safeguide.quiz.questions import Question, QuizCitation, QuizError, QuizRequest, backed, check_question
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.timescales.rules import RuleSet
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow
RULES = RuleSet.load(CORPUS / "timescales.toml")
EDITIONS = ["pre-2010", "2010", "2013", "2015", "2018", "2023"]
NASTY = "Conference {day 15} = ~not~ #1: see \\ path & <b>bold</b> “quoted”"


@pytest.fixture(scope="module")
def builder(retriever: HybridRetriever) -> QuizBuilder:
    return QuizBuilder(
        retriever.reader, RULES, Comparer(retriever.reader, RULES, CORPUS / "changes.toml", EDITIONS)
    )


@pytest.fixture(scope="module")
def twenty(builder: QuizBuilder) -> list[Question]:
    return builder.build(QuizRequest(n=20, seed=7))[0]


# ------------------------------------------------------------------------- an independent GIFT reader


def parse_gift(text: str) -> list[dict[str, Any]]:
    """Multiple-choice GIFT as Moodle documents it: ::title:: stem { =right#fb ~wrong#fb ####general }.
    Backslash escapes \\~ \\= \\# \\{ \\} \\: \\\\ stand for the characters themselves."""
    placeholders: dict[str, str] = {}

    def hide(m: re.Match[str]) -> str:
        key = chr(0xE000 + len(placeholders))  # a private-use character per escape
        placeholders[key] = m.group(1)
        return key

    def show(s: str) -> str:
        for k, v in placeholders.items():
            s = s.replace(k, v)
        return s.strip()

    body = re.sub(r"\\([~=#{}:\\])", hide, text)
    body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(("//", "$CATEGORY")))
    out = []
    for m in re.finditer(r"::(?P<title>[^:]*)::(?P<stem>[^{]*)\{(?P<answers>[^}]*)\}", body):
        answers_text, _, general = m.group("answers").partition("####")
        answers = []
        for a in re.finditer(r"(?P<mark>[=~])(?P<text>[^=~#]*)(?:#(?P<fb>[^=~]*))?", answers_text):
            answers.append(
                {
                    "right": a.group("mark") == "=",
                    "text": show(a.group("text")),
                    "feedback": show(a.group("fb") or ""),
                }
            )
        stem = m.group("stem").strip()
        stem = stem[len("[html]") :] if stem.startswith("[html]") else stem
        out.append(
            {
                "title": show(m.group("title")),
                "stem": show(stem),
                "answers": answers,
                "general": show(general),
            }
        )
    return out


def _question(stem: str = NASTY, options: list[str] | None = None) -> Question:
    options = options or ["15 working days", "15 days {calendar}", "10 = ten ~ days", "#3: 5 days"]
    return Question(
        id="q:1", kind="timescale", stem=stem, options=options, answer_index=0,
        feedback=[f"fb {o}" for o in options],
        citation=QuizCitation(
            doc_id="d", paragraph="1.1", label="Doc 1.1", text="Held within 15 working days."
        ),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------- generation


def test_every_question_is_grounded_and_well_formed(twenty: list[Question]) -> None:
    assert len(twenty) == 20
    assert len({q.id for q in twenty}) == 20
    assert {q.kind for q in twenty} >= {"timescale", "responsibility", "change"}
    for q in twenty:
        assert check_question(q) == [], (q.id, check_question(q))
        assert len(q.options) >= 4 and len(set(q.options)) == len(q.options)
        assert backed(q.options[q.answer_index], q.evidence, q.citation.text)


def test_timescale_distractors_are_plausible(builder: QuizBuilder) -> None:
    qs = builder.build(QuizRequest(n=50, seed=3, difficulty="hard", topic="conference"))[0]
    icpc = [q for q in qs if q.kind == "timescale" and "working day" in q.options[q.answer_index]]
    assert icpc
    q = icpc[0]
    amount = q.options[q.answer_index].split()[0]
    # "15 working days" invites "15 days": the same number in another unit, or another step's timescale.
    assert any(o.split()[0] == amount for i, o in enumerate(q.options) if i != q.answer_index) or all(
        "another step" in f or "sets" in f for i, f in enumerate(q.feedback) if i != q.answer_index
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**31), n=st.integers(1, 12), difficulty=st.sampled_from(["easy", "medium", "hard"])
)
def test_property_one_right_answer_distinct_options_backed(
    builder: QuizBuilder, seed: int, n: int, difficulty: str
) -> None:
    qs, _ = builder.build(QuizRequest(n=n, seed=seed, difficulty=difficulty))  # type: ignore[arg-type]
    for q in qs:
        assert 0 <= q.answer_index < len(q.options)
        assert len({o.lower() for o in q.options}) == len(q.options) >= 4
        assert backed(q.options[q.answer_index], q.evidence, q.citation.text)
        wrong_backed_as_right = [
            o for i, o in enumerate(q.options) if i != q.answer_index and o == q.evidence
        ]
        assert not wrong_backed_as_right


def test_same_seed_same_quiz_and_scope_filters(builder: QuizBuilder) -> None:
    a = builder.build(QuizRequest(n=8, seed=11))[0]
    b = builder.build(QuizRequest(n=8, seed=11))[0]
    c = builder.build(QuizRequest(n=8, seed=12))[0]
    assert [q.model_dump() for q in a] == [q.model_dump() for q in b]
    assert [q.id for q in a] != [q.id for q in c]
    staffs = builder.build(QuizRequest(n=5, seed=1, authority="staffordshire"))[0]
    assert {q.citation.doc_id for q in staffs} == {"staffordshire-part6"}
    only = builder.build(QuizRequest(n=5, seed=1, edition="2018"))[0]
    assert {q.citation.edition for q in only} == {"2018"}


def test_bad_scope_is_a_clear_error(builder: QuizBuilder) -> None:
    with pytest.raises(InvalidQuery, match="unknown edition"):
        builder.build(QuizRequest(n=3, edition="1999"))
    with pytest.raises(InvalidQuery, match="unknown document"):
        builder.build(QuizRequest(n=3, doc_ids=["nope"]))
    with pytest.raises(QuizError, match="widen it"):
        builder.build(QuizRequest(n=3, topic="zebra crossings"))


def test_checks_catch_broken_questions() -> None:
    good = _question()
    assert check_question(good) == []
    assert "the cited text does not back the right answer" in check_question(
        good.model_copy(update={"answer_index": 1})
    )
    dup = good.model_copy(update={"options": ["15 working days", "a", "a", "b"]})
    assert any("distinct" in p for p in check_question(dup))
    assert any(
        "at least 4" in p for p in check_question(good.model_copy(update={"options": good.options[:3]}))
    )


# --------------------------------------------------------------------------------------------- exports


def test_gift_reads_back_with_an_independent_parser(twenty: list[Question]) -> None:
    parsed = parse_gift(gift("Induction: week 1", twenty))
    assert len(parsed) == len(twenty)
    for q, p in zip(twenty, parsed, strict=True):
        assert p["title"] == q.id and p["stem"] == q.stem
        assert [a["text"] for a in p["answers"]] == [" ".join(o.split()) for o in q.options]
        assert [a["right"] for a in p["answers"]].count(True) == 1
        assert p["answers"][q.answer_index]["right"]
        assert q.citation.label in p["general"]


def test_special_characters_round_trip_in_every_format() -> None:
    q = _question()
    parsed = parse_gift(gift("Quiz {1}: a=b", [q]))[0]
    assert parsed["stem"] == NASTY and parsed["answers"][2]["text"] == "10 = ten ~ days"
    assert (
        parsed["answers"][3]["text"] == "#3: 5 days"
        and parsed["answers"][1]["feedback"] == "fb 15 days {calendar}"
    )
    xml = ET.fromstring(export_quiz("t", [q], "moodle-xml")[0])
    assert xml.find("question[@type='multichoice']/questiontext/text").text == NASTY  # type: ignore[union-attr]
    rows = list(csv.reader(io.StringIO(export_quiz("t", [q], "csv")[0].decode().lstrip("\ufeff"))))
    assert rows[1][1] == NASTY
    html = export_quiz("t", [q], "html")[0].decode()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    formula = _question(options=["=SUM(A1)", "b", "c", "d"])
    assert list(csv.reader(io.StringIO(export_quiz("t", [formula], "csv")[0].decode())))[1][2] == "'=SUM(A1)"


def test_moodle_xml_has_moodles_question_structure(twenty: list[Question]) -> None:
    root = ET.fromstring(export_quiz("Induction", twenty, "moodle-xml")[0])
    assert root.tag == "quiz"
    questions = root.findall("question[@type='multichoice']")
    assert len(questions) == len(twenty)
    for node, q in zip(questions, twenty, strict=True):
        for path in (
            "name/text",
            "questiontext/text",
            "single",
            "shuffleanswers",
            "answernumbering",
            "defaultgrade",
        ):
            assert node.find(path) is not None, path
        assert node.find("questiontext").get("format") in {
            "plain_text",
            "html",
            "moodle_auto_format",
            "markdown",
        }  # type: ignore[union-attr]
        answers = node.findall("answer")
        assert [a.get("fraction") for a in answers].count("100") == 1
        assert answers[q.answer_index].get("fraction") == "100"
        assert all(a.find("text") is not None and a.find("feedback/text") is not None for a in answers)


def test_xlsx_opens_with_one_row_per_question(twenty: list[Question], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "quiz.xlsx"
    path.write_bytes(export_quiz("t", twenty, "xlsx")[0])
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "question", "option_1") and len(rows) == 21
    assert rows[1][1] == twenty[0].stem


# --------------------------------------------------------------------------------------------- API and CLI


def test_api_review_cycle(server: str, signed_in: dict[str, dict[str, str]]) -> None:
    trainer = httpx.Client(base_url=server, headers=signed_in["trainer"], timeout=60)
    r = trainer.post("/api/quiz", json={"n": 5, "seed": 5})
    assert r.status_code == 200, r.text
    quiz = r.json()
    assert {"quiz_id", "questions"} <= set(quiz) and len(quiz["questions"]) == 5
    q = quiz["questions"][0]
    assert {"id", "stem", "options", "answer_index", "feedback", "citation"} <= set(q)
    assert {"doc_id", "paragraph", "label", "text"} <= set(q["citation"])
    assert trainer.post("/api/quiz", json={"n": 5, "seed": 5}).json()["questions"] == quiz["questions"]
    base = f"/api/quiz/{quiz['quiz_id']}"
    edited = trainer.put(
        f"{base}/questions/{q['id']}", json={"stem": "Reworded (ring 07700 900123): " + q["stem"]}
    )
    assert edited.status_code == 200 and edited.json()["stem"].startswith("Reworded")
    stored = trainer.get(base).json()["questions"][0]["stem"]
    assert "07700 900123" not in stored and "removed]" in stored  # personal details are never stored
    wrong = (q["answer_index"] + 1) % len(q["options"])
    bad = trainer.put(f"{base}/questions/{q['id']}", json={"answer_index": wrong})
    assert bad.status_code == 422 and "does not back" in bad.json()["detail"]
    assert trainer.get(base).json()["questions"][0]["answer_index"] == q["answer_index"]  # nothing half-saved
    fresh = trainer.post(f"{base}/questions/{q['id']}/regenerate")
    assert fresh.status_code == 200 and fresh.json()["id"] not in {x["id"] for x in quiz["questions"]}
    assert trainer.delete(f"{base}/questions/{quiz['questions'][1]['id']}").json()["questions"] == 4
    gift_text = trainer.get(base + "/export", params={"format": "gift"}).text
    assert len(parse_gift(gift_text)) == 4
    assert trainer.get(base + "/export", params={"format": "pdf"}).status_code == 422
    assert trainer.get("/api/quiz/nope").status_code == 404
    assert trainer.post("/api/quiz", json={"n": 0}).status_code == 422
    assert trainer.post("/api/quiz", json={"n": 3, "edition": "1999"}).status_code == 422


def test_cli_quiz_gift(corpus_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "quiz.gift"
    env = {**os.environ, "SAFEGUIDE_DATA_DIR": str(corpus_index), "SAFEGUIDE_CORPUS_DIR": str(CORPUS)}
    cmd = [
        sys.executable,
        "-m",
        "safeguide",
        "quiz",
        "--n",
        "10",
        "--seed",
        "7",
        "--format",
        "gift",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(parse_gift(out.read_text())) == 10 and "candidates rejected" in done.stderr
    again = subprocess.run(
        [*cmd[:-2], "--out", str(tmp_path / "again.gift")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert again.returncode == 0 and (tmp_path / "again.gift").read_text() == out.read_text()


def test_rewording_is_kept_only_when_it_passes_the_checks(retriever: HybridRetriever) -> None:
    from tests.fakes import ScriptedModel

    comparer = Comparer(retriever.reader, RULES, CORPUS / "changes.toml", EDITIONS)

    def build(reply: str) -> tuple[list[Question], Any]:
        model = ScriptedModel(reply)
        return QuizBuilder(retriever.reader, RULES, comparer, model).build(
            QuizRequest(n=1, seed=4, reword=True, topic="conference", authority="staffordshire")
        )

    (plain,), _ = QuizBuilder(retriever.reader, RULES, comparer).build(
        QuizRequest(n=1, seed=4, topic="conference", authority="staffordshire")
    )
    numbers = re.findall(r"\d+", plain.stem)
    kept_reply = plain.stem.replace("According to", "Under").rstrip("?") + " ?"
    (q,), report = build(kept_reply)
    assert q.reworded and q.stem == kept_reply and report.reworded == 1
    assert q.options == plain.options and q.answer_index == plain.answer_index
    leaky = plain.stem.rstrip("?") + f" Is it {plain.options[plain.answer_index]}?"
    for bad in (
        leaky,
        "Tell me about conferences.",
        "How long before a conference must reports about a fox arrive?",
    ):
        (q,), report = build(bad)
        assert q.stem == plain.stem and not q.reworded and report.reword_rejected == 1, bad
    if numbers:
        (q,), _ = build(plain.stem.replace(numbers[0], "99"))
        assert q.stem == plain.stem
