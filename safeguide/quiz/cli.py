"""`safeguide quiz`: a cited multiple-choice quiz, exported for Moodle (GIFT, XML) or as CSV, XLSX, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import click

from safeguide.files import write_atomically
from safeguide.settings import get_settings


@click.command("quiz")
@click.option(
    "--n", "n", type=click.IntRange(1, 50), default=10, show_default=True, help="How many questions."
)
@click.option("--seed", type=click.IntRange(0, 2**31), default=None, help="Same seed, same quiz.")
@click.option("--edition", default=None, help="Only this edition, e.g. 2018.")
@click.option("--authority", default=None, help="Only this area's procedure (or national).")
@click.option("--doc", "doc_ids", multiple=True, help="Only these documents (repeat).")
@click.option("--topic", default=None, help="Only questions whose source mentions these words.")
@click.option(
    "--difficulty", type=click.Choice(["easy", "medium", "hard"]), default="medium", show_default=True
)
@click.option("--reword", is_flag=True, help="Reword stems with the configured model (each checked).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gift", "moodle-xml", "csv", "xlsx", "html", "json"]),
    default="gift",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
def quiz_cmd(
    n: int,
    seed: int | None,
    edition: str | None,
    authority: str | None,
    doc_ids: tuple[str, ...],
    topic: str | None,
    difficulty: str,
    reword: bool,
    fmt: str,
    out: Path | None,
) -> None:
    """Build a cited multiple-choice quiz from the guidance and export it (GIFT, Moodle XML, ...)."""
    from safeguide.models import build_model
    from safeguide.quiz.builder import QuizBuilder
    from safeguide.quiz.export import export_quiz
    from safeguide.quiz.questions import QuizRequest
    from safeguide.services import build_comparer, build_retriever, build_rules

    settings = get_settings()
    retriever = build_retriever(settings)
    rules = build_rules(settings)
    model = build_model(settings)[0] if reword else None
    reviewed = rules.reviewed()  # quiz questions never rest on timescales not yet reviewed
    builder = QuizBuilder(retriever.reader, reviewed, build_comparer(settings, retriever, rules), model)
    request = QuizRequest.model_validate(
        {
            "n": n, "seed": seed, "edition": edition, "authority": authority,
            "doc_ids": list(doc_ids) or None,
            "topic": topic, "difficulty": difficulty, "reword": reword,
        }
    )  # fmt: skip
    questions, report = builder.build(request)
    seed = report.seed
    if fmt == "json":
        data = (json.dumps([q.model_dump() for q in questions], indent=2, ensure_ascii=False) + "\n").encode()
    else:
        data = export_quiz(f"safeguide quiz (seed {seed})", questions, fmt)[0]
    if out is None:
        if fmt == "xlsx":
            raise click.UsageError("xlsx is binary: give --out FILE")
        click.echo(data.decode(), nl=False)
    else:
        write_atomically(out, data)
    click.echo(
        f"{len(questions)} question(s), seed {seed}, in {report.took_ms:.0f} ms; "
        f"{report.rejected} of {report.candidates} candidates rejected by the checks"
        + (
            f"; {report.reworded} reworded, {report.reword_rejected} rewordings rejected, "
            f"{report.reword_unchanged} given back unchanged"
            if reword
            else ""
        ),
        err=True,
    )
