"""The application starts and answers its health checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from scim_server.app import create_app
from scim_server.settings import ConfigurationError
from scim_server.settings import _development_secret_key


def test_healthz_answers_ok(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reaches_the_database(client: FlaskClient) -> None:
    assert client.get("/readyz").status_code == 200


def test_missing_secret_key_outside_dev_is_a_startup_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("UNIVIEW_SECRET_KEY", raising=False)
    monkeypatch.setenv("UNIVIEW_ENV", "production")
    with pytest.raises(ConfigurationError, match="UNIVIEW_SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_prefixed_env_values_are_coerced_to_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIVIEW_SCIM_MAX_RESULTS", "12345")
    app = create_app({"ENV": "test", "DATABASE_URL": "sqlite://"})
    assert app.config["SCIM_MAX_RESULTS"] == 12345


def test_development_processes_share_one_generated_secret_key(tmp_path: Path) -> None:
    # Each gunicorn worker calls this on the same instance folder: one key for all.
    key_one = _development_secret_key(tmp_path)
    key_two = _development_secret_key(tmp_path)
    assert key_one == key_two
    assert key_one.startswith("dev-only-") and len(key_one) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
