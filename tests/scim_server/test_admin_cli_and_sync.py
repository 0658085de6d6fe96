"""The CLI (create-superuser, integration show/set/sync) and the provider settings inbound
endpoint; the sync is tested against a local HTTP server started by the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter import passwords
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import Role
from portal_adapter.models import SyncStatus
from scim_server.cli import cli
from scim_server.extensions import db

STRONG = "correct horse battery staple"


@pytest.fixture
def runner(app: Flask, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose commands open the test's database."""
    monkeypatch.setenv("UNIVIEW_ENV", "test")
    monkeypatch.setenv("UNIVIEW_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("UNIVIEW_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.delenv("UNIVIEW_OIDC_ISSUER", raising=False)
    return CliRunner()


class Provider:
    """A local HTTP server standing for the provider's settings endpoint."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.status = 200
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                provider.received.append(json.loads(self.rfile.read(length)))
                provider.headers.append(self.headers.get("Authorization"))
                self.send_response(provider.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/uniview/settings"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.close()


def test_create_superuser_reads_the_password_from_stdin(runner: CliRunner, app: Flask) -> None:
    result = runner.invoke(cli, ["user", "create-superuser", "Root"], input=f"{STRONG}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        account = db.session.query(Account).filter_by(username_ci="root").one()
        assert account.role is Role.superuser
        assert passwords.verify_password(account.password_hash, STRONG)
        assert STRONG not in result.output


@pytest.mark.parametrize("weak", ["short", "rootroot-root", "aaaaaaaaaaaaaaa"])
def test_create_superuser_refuses_a_weak_password(runner: CliRunner, app: Flask, weak: str) -> None:
    result = runner.invoke(cli, ["user", "create-superuser", "rootroot-root"], input=f"{weak}\n")
    assert result.exit_code != 0 and "password" in result.output
    with app.app_context():
        assert db.session.query(Account).count() == 0


def test_integration_set_applies_the_api_rules_and_show_prints_the_result(
    runner: CliRunner, app: Flask
) -> None:
    refused = runner.invoke(cli, ["integration", "set", "auto_create_users=true"])
    assert refused.exit_code != 0 and "unified login must be on" in refused.output
    done = runner.invoke(
        cli,
        [
            "integration",
            "set",
            "unified_login=true",
            "auto_create_users=true",
            "default_role=read_only",
        ],
    )
    assert done.exit_code == 0, done.output
    shown = runner.invoke(cli, ["integration", "show"]).output
    assert "auto_create_users=true" in shown and "revision=1" in shown
    as_json = json.loads(runner.invoke(cli, ["integration", "show", "--json"]).output)
    assert as_json["unified_login"] is True
    bad = runner.invoke(cli, ["integration", "set", "default_role=superuser"])
    assert bad.exit_code != 0 and "superuser is never a default role" in bad.output
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(actor="cli").count() == 1


def test_integration_set_refuses_a_malformed_assignment(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["integration", "set", "unified_login"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output


def test_integration_sync_pushes_pending_changes_to_the_provider(
    runner: CliRunner, app: Flask, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIVIEW_PROVIDER_SETTINGS_URL", provider.url)
    monkeypatch.setenv("UNIVIEW_PROVIDER_SETTINGS_TOKEN", "provider-secret")
    runner.invoke(cli, ["integration", "set", "unified_login=true", "auto_deprovision=true"])
    result = runner.invoke(cli, ["integration", "sync"])
    assert result.exit_code == 0, result.output
    assert "pushed=1" in result.output and "status=synced" in result.output
    assert provider.received[0]["settings"]["auto_deprovision"] is True
    assert provider.received[0]["revision"] == 1
    assert provider.headers == ["Bearer provider-secret"]
    again = runner.invoke(cli, ["integration", "sync"])
    assert "pushed=0" in again.output and len(provider.received) == 1


def test_a_failed_sync_shows_failed_and_is_retried_later(
    runner: CliRunner, app: Flask, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIVIEW_PROVIDER_SETTINGS_URL", provider.url)
    provider.status = 503
    runner.invoke(cli, ["integration", "set", "unified_login=true"])
    result = runner.invoke(cli, ["integration", "sync"])
    assert result.exit_code == 1 and "status=failed" in result.output
    with app.app_context():
        assert integration.read_settings(db.session).sync_status is SyncStatus.failed
    provider.status = 200
    waiting = runner.invoke(cli, ["integration", "sync"])
    assert "pushed=0" in waiting.output
    assert len(provider.received) == 1


def test_sync_without_a_provider_url_says_what_is_missing(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["integration", "sync"])
    assert result.exit_code != 0 and "UNIVIEW_PROVIDER_SETTINGS_URL" in result.output


def test_the_provider_pushes_a_settings_change_with_its_scim_token(
    app: Flask, client: FlaskClient, scim_token: str
) -> None:
    url = "/api/v1/integration/provider-settings"
    bearer = {"Authorization": f"Bearer {scim_token}"}
    assert client.post(url, json={"unified_login": True}).status_code == 401
    assert (
        client.post(
            url, json={"unified_login": True}, headers={"Authorization": "Bearer uvscim_wrong"}
        ).status_code
        == 401
    )
    refused = client.post(url, json={"auto_create_users": True}, headers=bearer)
    assert refused.status_code == 409 and "unified login must be on" in refused.json["detail"]
    applied = client.post(
        url, json={"unified_login": True, "auto_create_users": True}, headers=bearer
    )
    assert applied.status_code == 200 and applied.json["auto_create_users"] is True
    assert applied.json["sync_status"] == "synced"
    unknown = client.post(url, json={"colour": "red"}, headers=bearer)
    assert unknown.status_code == 400
    with app.app_context():
        event = (
            db.session.query(AuditEvent).filter_by(action="integration.update_from_provider").one()
        )
        assert event.actor == "scim:test-provider"
