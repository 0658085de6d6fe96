"""``uniview-idm token``: SCIM bearer tokens."""

from __future__ import annotations

import click

from portal_adapter import tokens
from scim_server.cli.context import command_session


@click.group("token")
def token_group() -> None:
    """Manage the bearer tokens the identity provider uses on /scim/v2."""


@token_group.command("create")
@click.option("--name", required=True, help="A name to recognise the token by.")
def create(name: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    with command_session() as session:
        issued = tokens.issue_token(session, name=name, actor="cli")
        secret = issued.secret
    click.echo(secret)


@token_group.command("list")
def list_() -> None:
    """List tokens with their creation and last-use times."""
    with command_session() as session:
        for token in tokens.list_tokens(session):
            state = "revoked" if token.revoked_at else "active"
            last = token.last_used_at.isoformat() if token.last_used_at else "never"
            created = token.created_at.isoformat()
            click.echo(f"{token.name}\t{token.prefix}…\t{state}\t{created}\tlast used {last}")


@token_group.command("revoke")
@click.option("--name", required=True)
def revoke(name: str) -> None:
    """Revoke a token at once."""
    with command_session() as session:
        changed = tokens.revoke_token(session, name=name, actor="cli")
    click.echo("revoked" if changed else "already revoked")
