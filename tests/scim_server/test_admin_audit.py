"""GET /api/v1/audit (filters, pages) and /api/v1/audit.csv, through the Flask client."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import audit
from portal_adapter.models import Account
from portal_adapter.models import Role
from scim_server.extensions import db


@pytest.fixture
def admin_headers(
    app: Flask, make_account: Callable[..., Account], login_as: Callable[..., dict[str, str]]
) -> dict[str, str]:
    with app.app_context():
        for i in range(5):
            audit.record(
                db.session, actor="scim:k1", action="account.create", target=f"account:u{i}"
            )
        audit.record(db.session, actor="account:root", action="integration.update", target="x")
        db.session.commit()
    return login_as(make_account(username="admin", role=Role.administrator))


def test_the_audit_api_filters_and_pages(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    first = client.get("/api/v1/audit?action=account.create&per_page=2").json
    assert first["total"] == 5 and len(first["items"]) == 2 and first["page"] == 1
    third = client.get("/api/v1/audit?action=account.create&per_page=2&page=3").json
    assert [e["target"] for e in third["items"]] == ["account:u0"]
    assert client.get("/api/v1/audit?actor=root").json["total"] == 1
    assert client.get("/api/v1/audit?target=u3").json["items"][0]["actor"] == "scim:k1"
    future = client.get("/api/v1/audit?since=2999-01-01T00:00:00Z").json
    assert future["total"] == 0


def test_the_audit_export_is_csv_with_the_same_filters(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/audit.csv?actor=scim:k1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["target"] for r in rows] == [f"account:u{i}" for i in range(5)]


@pytest.mark.parametrize(
    "query", ["page=0", "per_page=100000", "page=abc", "since=yesterday", "until=13:99"]
)
def test_bad_audit_queries_answer_400_with_a_message(
    client: FlaskClient, admin_headers: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/v1/audit?{query}")
    assert response.status_code == 400 and response.json["detail"]


def test_the_audit_api_needs_an_administrator(
    client: FlaskClient,
    make_account: Callable[..., Account],
    login_as: Callable[..., dict[str, str]],
) -> None:
    login_as(make_account(username="tech", role=Role.technician))
    assert client.get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/audit.csv").status_code == 403
