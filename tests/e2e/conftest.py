"""Shared end-to-end fixtures: a served app over real HTTP, and a real browser.

- ``live_server(**config)`` builds an app with ``create_app`` (the test config plus
  ``config``), creates its tables, serves it with werkzeug on a free port in a thread
  and returns a :class:`LiveServer` (``url``, ``app``). ``BASE_URL`` is that URL, so
  OIDC redirect URIs and Secure cookies follow it.
- ``browser`` (session scope) is Debian's chromium driven by Playwright; ``page`` is a
  fresh context and page per test. Without ``/usr/bin/chromium`` the browser tests
  skip, except when ``CI=true``, where they fail (a skipped browser test in CI hides
  exactly what these tests exist to show).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from scim_server.app import create_app
from scim_server.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it just after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A served application: its base URL and the Flask app (for direct DB checks)."""

    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and release the database connections."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def live_server(app_config: dict[str, Any]) -> Iterator[Callable[..., LiveServer]]:
    """Factory: serve a fresh app (test config + overrides) on a free port in a thread."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        port = free_port()
        url = f"http://localhost:{port}"
        config = {**app_config, "BASE_URL": url, "TESTING": False, **overrides}
        app = create_app(config)
        with app.app_context():
            if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
                db.create_all()
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        live = LiveServer(url=url, app=app, server=server, thread=thread)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


def _browser_unavailable() -> None:
    message = f"{CHROMIUM} is missing (install Debian's chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; browser tests must run in CI")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (one per test run)."""
    if not CHROMIUM.exists():
        _browser_unavailable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page for one test."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
