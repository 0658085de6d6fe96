"""The application factory: load config, initialise each package, register blueprints."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask import has_request_context
from flask import request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

import auth
from scim_server import admin
from scim_server import health
from scim_server import scim
from scim_server.extensions import db
from scim_server.settings import load_config

logger = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application; ``test_config`` overrides the environment (tests only)."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    db.init_app(app)
    # Every form is CSRF-protected; blueprints with their own scheme (SCIM bearer
    # tokens, the JSON API's header check) exempt themselves via app.extensions['csrf'].
    CSRFProtect(app)
    with app.app_context():
        _tune_engine(db.engine)
    health.init_app(app)
    scim.init_app(app)
    auth.init_app(app)
    admin.init_app(app)
    return app


def _tune_engine(engine: Engine) -> None:
    """On SQLite: WAL, foreign keys, and transactions we begin ourselves; nothing elsewhere.

    pysqlite's own transaction handling starts transactions late and lets a released
    SAVEPOINT commit when it was the first statement, which breaks per-operation savepoints
    (bulk). SQLAlchemy's documented recipe turns it off and emits BEGIN itself.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the single writer; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes cannot wait for another
        # writer: SQLite fails it at once ("database is locked"). Requests that may write
        # take the write lock up front, so concurrent writers queue on the busy timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


def _may_write() -> bool:
    """Whether the current unit of work may write: any unsafe request, and all CLI work."""
    if not has_request_context():
        return True
    return request.method not in {"GET", "HEAD", "OPTIONS"}
