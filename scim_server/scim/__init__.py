"""The SCIM 2.0 layer under /scim/v2 (RFC 7643/7644), on scim2-server with a SQL storage."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the SCIM endpoints under ``/scim/v2``."""
    from scim_server.scim.server import make_server

    make_server(app).init_app(app)
