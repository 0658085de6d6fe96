"""The SCIM 2.0 layer under /scim/v2."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the SCIM endpoints."""
