"""Liveness and readiness endpoints."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from scim_server.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The process can reach its database."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")


def init_app(app: Flask) -> None:
    """Register the health endpoints."""
    app.register_blueprint(bp)
