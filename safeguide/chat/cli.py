"""`safeguide ask`: a question answered as the web chat answers it; `safeguide conversations purge`:
retention, for a scheduler (the server also purges every hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from safeguide.chat.conversations import ConversationStore
from safeguide.settings import get_settings


@click.group("conversations")
def conversations() -> None:
    """Stored conversations (redacted questions and answers, with their feedback)."""


@conversations.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Delete those unused for this many days (default SAFEGUIDE_CONVERSATION_RETENTION_DAYS, 30).",
)
def purge_cmd(days: int | None) -> None:
    """Delete conversations, with their feedback, unused for longer than the retention period."""
    settings = get_settings()
    keep = days or settings.conversation_retention_days
    with settings.open_database() as db:
        gone = ConversationStore(db).purge_before(datetime.now(UTC) - timedelta(days=keep))
    click.echo(f"deleted {gone} conversation(s) unused for more than {keep} days")


@click.command("ask")
@click.argument("question")
@click.option("--authority", default=None, help="Your area, e.g. hampshire: its own rules come first.")
@click.option("--edition", default=None, help="Only this edition of the guidance, e.g. 2018.")
@click.option("--today", default=None, help="The date deadlines count from (YYYY-MM-DD; default today).")
@click.option(
    "--backend",
    type=click.Choice(["extractive", "local", "openai", "azure", "ollama"]),
    default=None,
    help="The model behind the answer (default SAFEGUIDE_LLM_BACKEND).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as the API gives it.")
def ask_cmd(
    question: str,
    authority: str | None,
    edition: str | None,
    today: str | None,
    backend: str | None,
    as_json: bool,
) -> None:
    """Ask the guidance QUESTION, as the web chat does: the checks first (the 999 notice on top), then a
    cited answer with deadlines from the timescales module. Nothing is stored."""
    import json

    from safeguide.errors import SafeguideError
    from safeguide.models import build_model, close_model
    from safeguide.services import build_chain, build_retriever, build_rules
    from safeguide.timescales.rules import parse_iso_date

    settings = get_settings()
    if backend is not None:
        settings = settings.model_copy(update={"llm_backend": backend})
    start = parse_iso_date(today, "--today") if today else None
    retriever = build_retriever(settings)
    model = build_model(settings)
    try:
        chain = build_chain(settings, retriever, build_rules(settings), model)
        answer = chain.answer(question, edition=edition, authority=authority, today=start)
    except SafeguideError as exc:
        for notice in exc.notices:  # the 999 notice survives an error after danger was found
            click.echo(notice, err=True)
        raise
    finally:
        close_model(model)
    if as_json:
        click.echo(json.dumps({**answer.public(), "question": answer.question}, indent=2, ensure_ascii=False))
        return
    for notice in answer.notices:
        click.echo(f"! {notice}")
    click.echo(answer.answer)
    for source in answer.citations:
        click.echo(f"[{source.n}] {source.citation}")
