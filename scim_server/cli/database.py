"""``uniview-idm db``: schema migrations."""

from __future__ import annotations

import click

from scim_server.migrate import upgrade_database


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration (under a PostgreSQL advisory lock)."""
    from scim_server.app import create_app

    app = create_app()
    with app.app_context():
        upgrade_database()
    click.echo("database is up to date")
