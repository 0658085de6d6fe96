"""``uniview-idm user``: portal accounts from the command line."""

from __future__ import annotations

import sys

import click

from portal_adapter import accounts
from portal_adapter.models import Role
from scim_server.cli.context import command_session


@click.group("user")
def user_group() -> None:
    """Manage portal accounts."""


def _read_password() -> str:
    """Read the password: prompted twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command("create-superuser")
@click.argument("username")
def create_superuser(username: str) -> None:
    """Create a superuser named USERNAME; the password is read from stdin.

    Weak passwords (short, equal to the username, few distinct characters) are refused.
    """
    password = _read_password()
    with command_session() as session:
        account = accounts.create_account(
            session, username=username, actor="cli", role=Role.superuser.value, password=password
        )
        name = account.username
    click.echo(f"superuser {name} created")
