"""The admin JSON API (/api/v1) and the admin pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the admin API and pages."""
