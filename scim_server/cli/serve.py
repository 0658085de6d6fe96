"""``uniview-idm serve``: migrate, then serve with gunicorn."""

from __future__ import annotations

import re
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from scim_server.migrate import upgrade_database

KEEPALIVE_SECONDS = 5
"""gunicorn's default is 2 s; providers push in bursts over one connection, and a
reused connection saves ~0.15 ms a request (gthread parks idle ones in its poller,
not in a thread)."""


BYPASS_PATH = re.compile(r"(/login/local/)[^/?\s\"]+")
"""The bypass link carries its secret in the path; access logs must not keep it."""


def redact(text: str) -> str:
    """Return ``text`` with any bypass-link secret replaced by ``[redacted]``."""
    return BYPASS_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with secrets taken out of every access-log atom."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        values: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in values.items()
        }


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn run in-process on our application factory."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from scim_server.app import create_app

        return create_app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    envvar="UNIVIEW_ACCESS_LOG",
    help="Log every request to stdout. Off by default: it costs ~0.15 ms a request "
    "(gunicorn formats every atom), and SCIM writes are in the audit log anyway.",
)
@click.option(
    "--keepalive",
    default=KEEPALIVE_SECONDS,
    show_default=True,
    type=int,
    help="Seconds an idle HTTP/1.1 connection stays open for the client's next request.",
)
def serve(
    host: str, port: int, workers: int, threads: int, access_log: bool, keepalive: int
) -> None:
    """Upgrade the database, then serve the portal with gunicorn."""
    from scim_server.app import create_app

    app = create_app()
    with app.app_context():
        upgrade_database()
    click.echo(f"serving on http://{host}:{port} (SCIM at /scim/v2)")
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-" if access_log else None,
            "logger_class": RedactingLogger,
            "keepalive": keepalive,
            "timeout": 60,
        }
    ).run()
