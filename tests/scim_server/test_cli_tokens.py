"""`uniview-idm token create/list/revoke`: shown once, stored hashed, revocable."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from portal_adapter.models import ScimToken
from portal_adapter.tokens import hash_token
from scim_server.cli import cli
from scim_server.extensions import db


@pytest.fixture
def runner(app: Flask, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose commands open the test's database."""
    monkeypatch.setenv("UNIVIEW_ENV", "test")
    monkeypatch.setenv("UNIVIEW_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("UNIVIEW_DATABASE_URL", app_config["DATABASE_URL"])
    return CliRunner()


def test_token_create_prints_the_token_once_and_stores_only_its_hash(
    runner: CliRunner, app: Flask
) -> None:
    result = runner.invoke(cli, ["token", "create", "--name", "kaseyaone"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("uvscim_") and len(secret) > 40
    with app.app_context():
        token = db.session.scalar(select(ScimToken).where(ScimToken.name == "kaseyaone"))
        assert token is not None
        assert token.token_hash == hash_token(secret)
        assert secret not in (token.token_hash, token.prefix)


def test_token_create_refuses_a_duplicate_name(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["token", "create", "--name", "dup"]).exit_code == 0
    result = runner.invoke(cli, ["token", "create", "--name", "dup"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_token_list_shows_names_and_state_but_never_the_secret(runner: CliRunner) -> None:
    secret = runner.invoke(cli, ["token", "create", "--name", "entra"]).output.strip()
    runner.invoke(cli, ["token", "revoke", "--name", "entra"])
    listing = runner.invoke(cli, ["token", "list"]).output
    assert "entra" in listing and "revoked" in listing
    assert secret not in listing


def test_revoking_an_unknown_token_fails_with_a_message(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["token", "revoke", "--name", "nope"])
    assert result.exit_code != 0
    assert "no token named" in result.output
