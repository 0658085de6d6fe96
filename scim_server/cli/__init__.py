"""The ``uniview-idm`` command line: serve, migrate, tokens, users, integration settings."""

from __future__ import annotations

import click

from scim_server.cli.database import db_group
from scim_server.cli.integration import integration_group
from scim_server.cli.serve import serve
from scim_server.cli.tokens import token_group
from scim_server.cli.users import user_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Centralized user management for the UniView Portal."""


cli.add_command(serve)
cli.add_command(db_group)
cli.add_command(token_group)
cli.add_command(user_group)
cli.add_command(integration_group)


def main() -> None:
    """Entry point of the ``uniview-idm`` console script."""
    cli()
