"""`safeguide db`: the product database's engine, where it is and its migration revision; bring it up to
date before starting the server workers of a new release (they would, each under the lock, otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from safeguide.database import Database
from safeguide.errors import StoreUnavailable
from safeguide.settings import get_settings


@contextmanager
def _opened() -> Iterator[Database]:
    """The configured database; when it does not answer, the driver's reason, for the operator."""
    try:
        with get_settings().open_database() as db:
            yield db
    except StoreUnavailable as exc:
        cause = getattr(exc.__cause__, "orig", None) or exc.__cause__ or exc
        raise click.ClickException(f"{exc} ({str(cause).strip().splitlines()[0]})") from exc


@click.group("db")
def db_group() -> None:
    """The product database (SQLite by default, PostgreSQL with SAFEGUIDE_DATABASE_URL)."""


@db_group.command("upgrade")
def upgrade_cmd() -> None:
    """Create or update every table to the newest migration (and copy in earlier versions' SQLite files)."""
    with _opened() as db:  # opening migrates, under the lock
        click.echo(f"{db.where}: at revision {db.revision()}")


@db_group.command("status")
def status_cmd() -> None:
    """The engine, where it is (no password) and its revision; a database that does not answer is an error."""
    with _opened() as db:
        db.ping()
        click.echo(f"{db.url.get_backend_name()} {db.where}: revision {db.revision()}")
