"""Reset through the API: export first, confirmation, then accounts gone or unlinked, and
local accounts still log in; the audit API tells the story."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.portal_adapter.test_provisioning_builders import STRONG
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity
from tests.signin import csrf_from


@pytest.fixture
def populated(app: Flask) -> Account:
    """A superuser with a password, an SSO-only technician and a linked user with a password."""
    with app.app_context():
        root = add_account(db.session, "root", role=Role.superuser, password=STRONG)
        add_identity(db.session, "sso", account=add_account(db.session, "sso"))
        add_identity(db.session, "both", account=add_account(db.session, "both", password=STRONG))
        add_account(db.session, "local", password=STRONG)
        integration.update_settings(db.session, {"unified_login": True}, actor="test")
        db.session.commit()
        db.session.refresh(root)
        db.session.expunge(root)
        return root


def test_the_export_lists_exactly_the_affected_accounts_as_csv_and_json(
    client: FlaskClient, populated: Account, login_as: Callable[..., dict[str, str]]
) -> None:
    login_as(populated)
    response = client.get("/api/v1/integration/users.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {(r["username"], r["reset_action"]) for r in rows} == {
        ("both", "unlink"),
        ("sso", "delete"),
    }
    body = client.get("/api/v1/integration/users.json").json
    assert body["total"] == 2
    assert {item["username"] for item in body["items"]} == {"both", "sso"}


def test_reset_without_the_confirmation_changes_nothing(
    app: Flask, client: FlaskClient, populated: Account, login_as: Callable[..., dict[str, str]]
) -> None:
    headers = login_as(populated)
    assert client.post("/api/v1/integration/reset", json={}, headers=headers).status_code == 400
    wrong = client.post("/api/v1/integration/reset", json={"confirm": "ok"}, headers=headers)
    assert wrong.status_code == 400 and "KaseyaOne" in wrong.json["detail"]
    assert client.get("/api/v1/integration/users.json").json["total"] == 2


def test_reset_only_by_a_superuser(
    client: FlaskClient,
    populated: Account,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    headers = login_as(make_account(username="admin", role=Role.administrator))
    response = client.post(
        "/api/v1/integration/reset", json={"confirm": "KaseyaOne"}, headers=headers
    )
    assert response.status_code == 403


def test_after_reset_accounts_are_gone_or_unlinked_local_ones_log_in_and_the_audit_tells_it(
    app: Flask, client: FlaskClient, populated: Account, login_as: Callable[..., dict[str, str]]
) -> None:
    headers = login_as(populated)
    response = client.post(
        "/api/v1/integration/reset", json={"confirm": "KaseyaOne"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json["deleted"] == ["sso"] and response.json["unlinked"] == ["both"]
    assert client.get("/api/v1/integration/users.json").json["total"] == 0
    assert client.get("/api/v1/integration").json["unified_login"] is False
    for name in ("both", "local", "root"):
        browser = app.test_client()
        token = csrf_from(browser.get("/login").get_data(as_text=True))
        signed_in = browser.post(
            "/login", data={"username": name, "password": STRONG, "csrf_token": token}
        )
        assert signed_in.status_code == 302, name
        assert browser.get("/api/v1/me").json["username"] == name
    audit = client.get("/api/v1/audit?actor=account:root&per_page=100").json["items"]
    story = [(e["action"], e["target"]) for e in reversed(audit)]
    assert story[0] == ("integration.reset", "integration:settings")
    assert ("account.delete", "account:sso") in story
    assert ("account.unlink", "account:both") in story
    assert story[-1] == ("integration.reset", "integration:settings")
