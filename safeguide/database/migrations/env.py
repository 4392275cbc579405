"""Alembic's entry point: migrations run on the connection `Database.migrate` hands over (inside its
transaction and lock), never on a URL of their own."""

from __future__ import annotations

from alembic import context

from safeguide.database.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through safeguide (`safeguide db upgrade`), which opens the database")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
