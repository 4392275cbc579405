"""`safeguide users`: local accounts (SAFEGUIDE_AUTH=local): add (the token is shown once), list, remove."""

from __future__ import annotations

import getpass
import json

import click

from safeguide.access.audit import AuditLog
from safeguide.access.local import UserStore
from safeguide.access.roles import ROLES
from safeguide.settings import get_settings


@click.group("users")
def users() -> None:
    """Local accounts and their roles (practitioner, trainer, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
def add_cmd(name: str, role: str) -> None:
    """Add a user and print their sign-in token (shown only this once; only its hash is kept)."""
    with get_settings().open_database() as db:
        token = UserStore(db).add(name, role)
    _audit("user.add", name, role=role)
    click.echo(f"{name} ({role}) added. Their token, shown only now: {token}")


@users.command("list")
def list_cmd() -> None:
    """The users, their roles and when each was added."""
    with get_settings().open_database() as db:
        rows = UserStore(db).users()
    for row in rows:
        click.echo(f"{row['name']}\t{row['role']}\t{row['created']}")
    if not rows:
        click.echo("no users yet: `safeguide users add NAME --role admin`")


@users.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Remove a user: their token stops working at once."""
    with get_settings().open_database() as db:
        UserStore(db).remove(name)
    _audit("user.remove", name)
    click.echo(f"{name} removed")


def _audit(action: str, target: str, **detail: str) -> None:
    with get_settings().open_database() as db:
        AuditLog(db).record(f"cli:{getpass.getuser()}", "admin", "cli", action, target, detail)


@click.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--action", default=None, help="Only this action, e.g. quiz.delete or rule.approved.")
@click.option("--json", "as_json", is_flag=True)
def audit_cmd(limit: int, action: str | None, as_json: bool) -> None:
    """Who changed what (quizzes, timescale rules, users), newest first."""
    with get_settings().open_database() as db:
        entries = AuditLog(db).entries(limit, action)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        click.echo(f"{e['at']}  {e['who']} ({e['role']}, {e['source']})  {e['action']}  {e['target']}")
    if not entries:
        click.echo("nothing recorded yet")
