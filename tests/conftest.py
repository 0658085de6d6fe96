"""Shared fixtures: one app per test on a clean database (SQLite, or PostgreSQL when
``UNIVIEW_TEST_DATABASE_URL`` is set)."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal_adapter import tokens
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import Base
from portal_adapter.models import Role
from scim_server.app import create_app
from scim_server.extensions import db
from scim_server.settings import _normalise_database_url
from tests.signin import sign_in

POSTGRES_URL = os.environ.get("UNIVIEW_TEST_DATABASE_URL")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str | None]:
    """Create the tables once per run on PostgreSQL (truncated between tests)."""
    if not POSTGRES_URL:
        yield None
        return
    engine = create_engine(_normalise_database_url(POSTGRES_URL))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield POSTGRES_URL


def _truncate_postgres(url: str) -> None:
    engine = create_engine(_normalise_database_url(url))
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, postgres_schema: str | None) -> Iterator[str]:
    """A clean database for one test."""
    if postgres_schema:
        _truncate_postgres(postgres_schema)
        yield postgres_schema
        return
    yield f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """The test configuration; tests extend it before asking for ``app``."""
    return {
        "ENV": "test",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "BASE_URL": "http://localhost",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """One application per test, with its tables created."""
    application = create_app(app_config)
    with application.app_context():
        if application.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client of ``app``."""
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The app's db session inside an app context (domain tests use it directly)."""
    with app.app_context():
        yield db.session


@pytest.fixture
def scim_token(app: Flask) -> str:
    """A live SCIM bearer token."""
    with app.app_context():
        issued = tokens.issue_token(db.session, name="test-provider", actor="test")
        db.session.commit()
        return issued.secret


@pytest.fixture
def scim_headers(scim_token: str) -> dict[str, str]:
    """Headers a SCIM client sends."""
    return {"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"}


@pytest.fixture
def make_account(app: Flask) -> Callable[..., Account]:
    """Build and commit an account; keyword arguments override the defaults."""

    def build(**overrides: Any) -> Account:
        from portal_adapter.passwords import hash_password

        password = overrides.pop("password", None)
        username = overrides.pop("username", "alice")
        values: dict[str, Any] = {
            "username": username,
            "username_ci": username.casefold(),
            "email": f"{username}@example.com",
            "role": Role.read_only,
            "source": AccountSource.local,
        }
        values.update(overrides)
        if password is not None:
            values["password_hash"] = hash_password(password)
        with app.app_context():
            account = Account(**values)
            db.session.add(account)
            db.session.commit()
            db.session.refresh(account)
            db.session.expunge(account)
            return account

    return build


@pytest.fixture
def artifacts_dir() -> Path:
    """Where browser tests save screenshots for reviewers."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def login_as(app: Flask, client: FlaskClient) -> Callable[..., dict[str, str]]:
    """Sign ``client`` in as an account (a LoginSession row, as a login would open);
    return the headers an unsafe API request needs (the CSRF token)."""

    def sign_in_client(account: Account, *, method: str = "local") -> dict[str, str]:
        return sign_in(app, client, account, method=method)

    return sign_in_client
