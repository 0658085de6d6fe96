"""``uniview-idm integration``: read and change the integration settings; push them.

``set`` goes through the same domain function as ``PATCH /api/v1/integration``, so the
same rules refuse the same changes. ``sync`` pushes pending changes to the provider at
``UNIVIEW_PROVIDER_SETTINGS_URL`` (a periodic job, safe to run from any replica).
"""

from __future__ import annotations

import json
from typing import Any

import click
import requests
from flask import current_app

from portal_adapter import integration
from portal_adapter import settings_sync
from scim_server.cli.context import command_session

SYNC_TIMEOUT_SECONDS = 10


@click.group("integration")
def integration_group() -> None:
    """Read and change the KaseyaOne integration settings, under the API's rules."""


def _ensure_installed() -> None:
    integration.ensure_installed(
        current_app.extensions["sqlalchemy"].session,
        provider_configured=bool(current_app.config.get("OIDC_ISSUER")),
    )


def _print(view: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(view, indent=2, sort_keys=True))
        return
    for key, value in view.items():
        shown = ",".join(value) if isinstance(value, list) else value
        if isinstance(shown, bool):
            shown = "true" if shown else "false"
        click.echo(f"{key}={shown}")


@integration_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of KEY=VALUE lines.")
def show(as_json: bool) -> None:
    """Print the effective settings (toggles read off while unified login is off)."""
    with command_session() as session:
        _ensure_installed()
        view = integration.read_settings(session).as_dict()
    _print(view, as_json=as_json)


@integration_group.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
def set_(assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. ``auto_create_users=true default_role=read_only``.

    Lists (sso_exceptions) are comma-separated; all changes apply together or none.
    """
    changes: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise click.UsageError(f"expected KEY=VALUE, got {assignment!r}")
        changes[key.strip()] = value.strip()
    with command_session() as session:
        _ensure_installed()
        change = integration.update_settings(session, changes, actor="cli")
        view = integration.read_settings(session).as_dict()
    click.echo("changed: " + ", ".join(sorted(change.after)) if change.changed else "no change")
    _print(view, as_json=False)


def _http_transport(url: str, token: str | None) -> settings_sync.Transport:
    def send(payload: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = requests.post(
                url, json=payload, headers=headers, timeout=SYNC_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            raise settings_sync.SyncError(f"cannot reach the provider: {error}") from None
        if not 200 <= response.status_code < 300:
            raise settings_sync.SyncError(f"the provider answered HTTP {response.status_code}")

    return send


@integration_group.command("sync")
def sync() -> None:
    """Push the newest pending settings change to the provider (retries failed ones when due)."""
    with command_session() as session:
        url = current_app.config.get("PROVIDER_SETTINGS_URL")
        if not url:
            raise click.ClickException(
                "UNIVIEW_PROVIDER_SETTINGS_URL is not set: nowhere to push the settings"
            )
        row = integration.get_settings(session)
        report = settings_sync.push_pending(
            session,
            row,
            send=_http_transport(str(url), current_app.config.get("PROVIDER_SETTINGS_TOKEN")),
        )
    click.echo(
        f"pushed={report.pushed} failed={report.failed} superseded={report.superseded} "
        f"status={report.status.value}"
    )
    if report.failed:
        raise SystemExit(1)
