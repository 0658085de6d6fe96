"""Bad input to every admin endpoint of issue 3: 4xx JSON with a clear message, no 500,
nothing half-applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from scim_server.extensions import db

UNSAFE = [
    ("PATCH", "/api/v1/integration"),
    ("POST", "/api/v1/integration/bypass-link"),
    ("POST", "/api/v1/integration/reset"),
    ("POST", "/api/v1/accounts"),
    ("PATCH", "/api/v1/accounts/{user}"),
    ("POST", "/api/v1/identities/{identity}/account"),
    ("POST", "/api/v1/identities/{identity}/link"),
    ("POST", "/api/v1/scim-tokens"),
    ("POST", "/api/v1/api-tokens"),
]

WRONG_TYPES: list[tuple[str, str, dict[str, Any]]] = [
    ("PATCH", "/api/v1/integration", {"unified_login": "sometimes"}),
    ("PATCH", "/api/v1/integration", {"unified_login": True, "sso_exceptions": "x" * 300}),
    ("PATCH", "/api/v1/integration", {"unified_login": True, "default_role": 3}),
    ("PATCH", "/api/v1/integration", {"unified_login": True, "revision": 9}),
    ("POST", "/api/v1/accounts", {"username": 42}),
    ("POST", "/api/v1/accounts", {"username": "ok", "email": ["a"]}),
    ("POST", "/api/v1/accounts", {"username": "ok", "password": "weak"}),
    ("PATCH", "/api/v1/accounts/{user}", {"role": "emperor"}),
    ("PATCH", "/api/v1/accounts/{user}", {"email": "x@y.org", "owns_retained_data": "no"}),
    ("POST", "/api/v1/identities/{identity}/account", {"role": ["read_only"]}),
    ("POST", "/api/v1/identities/{identity}/link", {"account_id": "1"}),
    ("POST", "/api/v1/identities/{identity}/link", {"account_id": True}),
    ("POST", "/api/v1/integration/reset", {"confirm": 1}),
    ("POST", "/api/v1/scim-tokens", {"name": ""}),
    ("POST", "/api/v1/api-tokens", {"name": None}),
]


@pytest.fixture
def ids(app: Flask, make_account: Callable[..., Account]) -> dict[str, str]:
    user = make_account(username="user")
    with app.app_context():
        identity = ProviderIdentity(
            user_name="pending", user_name_ci="pending", status=IdentityStatus.pending
        )
        db.session.add(identity)
        db.session.commit()
        return {"user": str(user.id), "identity": identity.id}


@pytest.fixture
def headers(
    make_account: Callable[..., Account], login_as: Callable[..., dict[str, str]]
) -> dict[str, str]:
    root = make_account(username="root", role=Role.superuser)
    return login_as(root)


def snapshot(app: Flask) -> tuple[int, int, dict[str, Any]]:
    with app.app_context():
        events = db.session.query(AuditEvent).count()
        accounts = db.session.query(Account).count()
        return events, accounts, integration.read_settings(db.session).as_dict()


def send(client: FlaskClient, method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
    return client.open(url, method=method, headers=headers, **kw)


BAD_BODIES: dict[str, dict[str, Any]] = {
    "not-json": {"data": "not json", "content_type": "text/plain"},
    "array": {"data": "[1, 2]", "content_type": "application/json"},
    "malformed": {"data": "{bad json", "content_type": "application/json"},
    "unknown-field": {"json": {"surprise": 1}},
    "oversized": {"data": json.dumps({"name": "x" * 100_000}), "content_type": "application/json"},
}


@pytest.mark.parametrize(("method", "url"), UNSAFE)
def test_bad_bodies_answer_4xx_json_and_change_nothing(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    ids: dict[str, str],
    method: str,
    url: str,
) -> None:
    before = snapshot(app)
    for name, body in BAD_BODIES.items():
        response = send(client, method, url.format(**ids), headers, **body)
        assert 400 <= response.status_code < 500, (name, response.get_data(as_text=True))
        assert response.is_json and response.json["detail"], name
    assert snapshot(app) == before


@pytest.mark.parametrize(("method", "url", "body"), WRONG_TYPES)
def test_wrong_types_answer_400_json_with_a_clear_message_and_change_nothing(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    ids: dict[str, str],
    method: str,
    url: str,
    body: dict[str, Any],
) -> None:
    before = snapshot(app)
    response = send(client, method, url.format(**ids), headers, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_input" and len(response.json["detail"]) > 10
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/accounts?page=-1",
        "/api/v1/accounts?per_page=x",
        "/api/v1/accounts?role=king",
        "/api/v1/accounts?status=zombie",
        "/api/v1/accounts?flagged=perhaps",
        "/api/v1/accounts?source=moon",
        "/api/v1/identities?status=lost",
        "/api/v1/audit?since=never",
    ],
)
def test_bad_query_arguments_answer_400_json(
    client: FlaskClient, headers: dict[str, str], url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400 and response.json["detail"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/accounts/999999"),
        ("PATCH", "/api/v1/accounts/999999"),
        ("GET", "/api/v1/identities/nope"),
        ("POST", "/api/v1/identities/nope/account"),
        ("DELETE", "/api/v1/scim-tokens/nope"),
        ("DELETE", "/api/v1/api-tokens/999"),
    ],
)
def test_unknown_objects_answer_404_json(
    client: FlaskClient, headers: dict[str, str], method: str, url: str
) -> None:
    response = client.open(url, method=method, headers=headers, json={})
    assert response.status_code == 404 and response.json["error"] == "not_found"
