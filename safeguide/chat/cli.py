"""`safeguide conversations purge`: retention, for a scheduler (the server also purges every hour)."""

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
    store = ConversationStore(settings.conversations_db)
    try:
        gone = store.purge_before(datetime.now(UTC) - timedelta(days=keep))
    finally:
        store.close()
    click.echo(f"deleted {gone} conversation(s) unused for more than {keep} days")
