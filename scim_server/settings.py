"""Configuration: defaults, then ``UNIVIEW_*`` environment variables, then test overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "ENV": "production",
    "BASE_URL": "http://localhost:8000",
    "DATABASE_URL": None,
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_SCOPES": "openid profile email groups",
    "OIDC_USERNAME_CLAIM": "preferred_username",
    "OIDC_EMAIL_CLAIM": "email",
    "OIDC_GROUPS_CLAIM": "groups",
    "SCIM_MAX_PAYLOAD_SIZE": 1_048_576,
    "SCIM_MAX_RESULTS": 1000,
    "SCIM_BULK_MAX_OPERATIONS": 1000,
    "SCIM_LARGE_GROUP_THRESHOLD": 1000,
    "SESSION_ABSOLUTE_LIFETIME": 12 * 3600,
    "SESSION_IDLE_LIFETIME": 3600,
    "LOGIN_RATE_LIMIT": 10,
    "LOGIN_RATE_WINDOW": 300,
}
"""Every setting with its default; ``UNIVIEW_<NAME>`` overrides it."""

INSECURE_ENVS = frozenset({"development", "test"})


class ConfigurationError(RuntimeError):
    """The configuration cannot start the application."""


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from defaults, ``UNIVIEW_*`` variables and ``test_config``.

    ``from_prefixed_env`` parses values as JSON, so ``12345`` becomes an int and
    ``true`` a bool.

    :raises ConfigurationError: When ``SECRET_KEY`` is missing outside dev/test.
    """
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("UNIVIEW")
    if test_config is not None:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'uniview.db'}"
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] not in INSECURE_ENVS:
            raise ConfigurationError(
                "UNIVIEW_SECRET_KEY is not set. Set it to a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`), "
                "the same on every replica, or set UNIVIEW_ENV=development for local use."
            )
        app.config["SECRET_KEY"] = _development_secret_key(Path(app.instance_path))
    base_url = str(app.config["BASE_URL"]).rstrip("/")
    app.config["BASE_URL"] = base_url
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(app.config["DATABASE_URL"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = base_url.startswith("https://")
    app.config["SESSION_COOKIE_NAME"] = "uniview_session"
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["SCIM_MAX_PAYLOAD_SIZE"]) * 2
    app.config["WTF_CSRF_TIME_LIMIT"] = None


def _development_secret_key(instance: Path) -> str:
    """Return a development key kept in ``instance/secret_key``, made once.

    Every gunicorn worker (and the CLI) must sign with the same key, or a session or CSRF
    token made by one worker fails on another; a per-process random key would do that.
    """
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write("dev-only-" + os.urandom(32).hex())
    return path.read_text().strip()


def _normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # A busy timeout lets concurrent writers queue instead of failing at once.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
