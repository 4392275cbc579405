"""The command line, through click's runner, on the real index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from safeguide.cli import main
from safeguide.safety import EMERGENCY_NOTICE
from safeguide.settings import get_settings
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_env(corpus_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(corpus_index))
    monkeypatch.setenv("SAFEGUIDE_CORPUS_DIR", str(CORPUS))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_search_json(cli_env: None) -> None:
    result = CliRunner().invoke(
        main, ["search", "first core group meeting", "--k", "2", "--authority", "staffordshire", "--json"]
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert len(results) == 2 and results[0]["authority"] == "staffordshire"


def test_search_text_shows_citations(cli_env: None) -> None:
    result = CliRunner().invoke(
        main, ["search", "LADO one working day", "--k", "3", "--authority", "hampshire"]
    )
    assert result.exit_code == 0
    # Each result starts with its citation; the tuned reordering puts 4.2.1 (the LADO's role) first
    # and 4.2.7 (told within one working day) second, so the test does not pin the order.
    cited = [line for line in result.output.splitlines() if line.startswith("[")]
    assert [line[:4] for line in cited] == ["[1] ", "[2] ", "[3] "]
    assert all(line[4:].startswith("Hampshire CSD safeguarding procedure (2011) 4.") for line in cited)
    assert any(" 4.2.7 " in line for line in cited)


def test_documents_json(cli_env: None) -> None:
    result = CliRunner().invoke(main, ["documents", "--json"])
    assert result.exit_code == 0
    docs = json.loads(result.stdout)["documents"]
    assert sum(d["chunks"] for d in docs) == 867


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", ""], "the query is empty"),
        (["search", "referral", "--k", "99"], "k must be between 1 and 50"),
        (["search", "referral", "--edition", "2023"], "no edition '2023'"),
        (
            ["ask", "when is the ICPC due?", "--today", "2026-13-01", "--backend", "extractive"],
            "not a real date",
        ),
        (["ask", "   ", "--backend", "extractive"], "the question is empty"),
    ],
)
def test_errors_are_one_line_with_exit_status(cli_env: None, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SAFEGUIDE_LLM_TIMEOUT", "-1", "SAFEGUIDE_LLM_TIMEOUT=-1: Input should be greater than 0"),
        ("SAFEGUIDE_LLM_SERVER_PORT", "x", "SAFEGUIDE_LLM_SERVER_PORT=x: Input should be a valid integer"),
        ("SAFEGUIDE_LLM_BACKEND", "gpt", "SAFEGUIDE_LLM_BACKEND=gpt: Input should be 'extractive', 'local'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["documents"])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_ingest_of_a_missing_manifest_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ours.txt").write_text("Our local rule: visit weekly.\n")
    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["ingest", str(tmp_path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "ours.txt has no manifest entry: create ours.toml" in result.output
    assert not (tmp_path / "data" / "index" / "CURRENT").exists()


def test_feature_commands_from_their_packages(cli_env: None, tmp_path: Path) -> None:
    """`quiz` and `compare` live in safeguide/quiz and safeguide/compare; errors stay one line."""
    quiz = CliRunner().invoke(main, ["quiz", "--n", "2", "--seed", "7", "--format", "json"])
    assert quiz.exit_code == 0, quiz.output
    questions = json.loads(quiz.stdout)
    assert len(questions) == 2 and all(q["citation"]["label"] for q in questions)
    out = tmp_path / "changes.json"
    compare = CliRunner().invoke(
        main, ["compare", "--topic", "child deaths", "--format", "json", "--out", str(out)]
    )
    assert compare.exit_code == 0, compare.output
    assert json.loads(out.read_text())["changes"]
    bad = CliRunner().invoke(main, ["compare", "--from", "2099"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_ask_answers_as_the_chat_does_and_stores_nothing(cli_env: None, corpus_index: Path) -> None:
    before = sorted(p.name for p in corpus_index.rglob("*") if p.is_file())
    question = "Our strategy discussion in Hampshire was on Monday 2 March 2026. When must the ICPC be held?"
    result = CliRunner().invoke(
        main, ["ask", question, "--authority", "hampshire", "--backend", "extractive"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "due by Monday 23 March 2026" in result.output
        and "Hampshire CSD safeguarding procedure" in result.output
    )
    danger = CliRunner().invoke(
        main,
        [
            "ask",
            "tyler (6) says he's got a knife and the kids are upstairs",
            "--backend",
            "extractive",
            "--json",
        ],
    )
    out = json.loads(danger.output[danger.output.index("{") :])
    assert out["notices"][0] == EMERGENCY_NOTICE and "tyler" not in out["question"].lower()
    assert sorted(p.name for p in corpus_index.rglob("*") if p.is_file()) == before  # no conversation kept


def test_keep_tagger_refuses_a_tagger_trained_on_other_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """`safety train --keep-tagger` stops, before training anything, when the name tagger's data changed."""
    from safeguide.safety import meaning, name_tagger

    before = meaning.WEIGHTS.read_bytes()
    monkeypatch.setattr(name_tagger, "stored_fingerprint", lambda: "trained on other data")
    result = CliRunner().invoke(main, ["safety", "train", "--keep-tagger"])
    assert result.exit_code == 1, result.output
    assert "run without --keep-tagger" in result.output and "Traceback" not in result.output
    assert meaning.WEIGHTS.read_bytes() == before
