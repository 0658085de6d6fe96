"""`uniview-idm serve`: the gunicorn options the SCIM hot paths are measured with."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from click.testing import CliRunner

from scim_server.cli import cli

# The package exports the `serve` command under the module's name: import the module itself.
serve_module = importlib.import_module("scim_server.cli.serve")


@pytest.fixture
def gunicorn_options(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """Capture the options `serve` hands gunicorn, without migrating or serving."""
    monkeypatch.setenv("UNIVIEW_ENV", "test")
    monkeypatch.setenv("UNIVIEW_SECRET_KEY", "serve-test-secret")
    monkeypatch.setenv("UNIVIEW_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.delenv("UNIVIEW_ACCESS_LOG", raising=False)
    captured: list[dict[str, Any]] = []

    class FakeGunicorn:
        def __init__(self, options: dict[str, Any]) -> None:
            captured.append(options)

        def run(self) -> None:
            return None

    monkeypatch.setattr(serve_module, "_Gunicorn", FakeGunicorn)
    monkeypatch.setattr(serve_module, "upgrade_database", lambda: None)
    return captured


def test_serve_keeps_connections_alive_and_logs_no_access_line_by_default(
    gunicorn_options: list[dict[str, Any]],
) -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "8123"])

    assert result.exit_code == 0, result.output
    (options,) = gunicorn_options
    assert options["accesslog"] is None
    assert options["keepalive"] == serve_module.KEEPALIVE_SECONDS > 2
    assert options["worker_class"] == "gthread"
    assert options["bind"] == "127.0.0.1:8123"


@pytest.mark.parametrize(
    ("args", "env"), [(["--access-log"], None), ([], "true")], ids=["flag", "environment"]
)
def test_serve_logs_every_request_when_asked(
    gunicorn_options: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
) -> None:
    if env is not None:
        monkeypatch.setenv("UNIVIEW_ACCESS_LOG", env)

    result = CliRunner().invoke(cli, ["serve", *args])

    assert result.exit_code == 0, result.output
    assert gunicorn_options[0]["accesslog"] == "-"


def test_the_access_log_never_keeps_the_bypass_link_secret() -> None:
    from scim_server.cli.serve import redact

    line = '127.0.0.1 - - "GET /login/local/s3cr3t-Token_x?next=/admin HTTP/1.1" 302'
    assert redact(line) == '127.0.0.1 - - "GET /login/local/[redacted]?next=/admin HTTP/1.1" 302'
    assert redact("/login/kaseyaone/callback?code=x") == "/login/kaseyaone/callback?code=x"
