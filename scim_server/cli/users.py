"""``uniview-idm user``: portal accounts from the command line."""

from __future__ import annotations

import click


@click.group("user")
def user_group() -> None:
    """Manage portal accounts."""
