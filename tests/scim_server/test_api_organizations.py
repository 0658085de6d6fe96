"""``/api/v1/organizations``: CRUD for administrators, server-side visibility for everyone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter.models import Account
from portal_adapter.models import GroupSource
from portal_adapter.models import Role
from scim_server.extensions import db
from tests.portal_adapter.test_access_builders import add_manual_member
from tests.portal_adapter.test_access_builders import new_group
from tests.portal_adapter.test_access_builders import new_organization
from tests.portal_adapter.test_access_builders import set_access_groups

SignIn = Callable[..., dict[str, str]]
MakeAccount = Callable[..., Account]


def test_an_administrator_creates_reads_maps_renames_and_deletes_an_organization(
    app: Flask, client: FlaskClient, make_account: MakeAccount, login_as: SignIn
) -> None:
    admin = make_account(username="admin", role=Role.administrator)
    with app.app_context():
        staff_id = new_group(db.session, "Staff", source=GroupSource.manual).id
        db.session.commit()
    headers = login_as(admin)

    created = client.post(
        "/api/v1/organizations", json={"name": "Acme", "group_ids": [staff_id]}, headers=headers
    )
    assert created.status_code == 201
    organization = created.get_json()
    assert organization["name"] == "Acme"
    assert [g["id"] for g in organization["groups"]] == [staff_id]
    url = f"/api/v1/organizations/{organization['id']}"

    renamed = client.patch(url, json={"name": "Acme Corp", "group_ids": []}, headers=headers)
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["groups"]) == ("Acme Corp", [])
    assert client.get(url).get_json()["name"] == "Acme Corp"
    assert [o["name"] for o in client.get("/api/v1/organizations").get_json()["organizations"]] == [
        "Acme Corp"
    ]

    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url).status_code == 404


def test_an_account_cannot_read_an_organization_it_does_not_see_by_guessing_its_id(
    app: Flask, client: FlaskClient, make_account: MakeAccount, login_as: SignIn
) -> None:
    alice = make_account(username="alice")
    with app.app_context():
        staff = new_group(db.session, "Staff", source=GroupSource.manual)
        add_manual_member(db.session, staff, alice)
        seen = new_organization(db.session, "Acme", [staff]).id
        unseen = new_organization(db.session, "Globex").id
        db.session.commit()
    login_as(alice)

    listed = client.get("/api/v1/organizations").get_json()["organizations"]
    hidden = client.get(f"/api/v1/organizations/{unseen}")
    missing = client.get(f"/api/v1/organizations/{unseen + 1000}")

    assert [o["name"] for o in listed] == ["Acme"]
    assert "groups" not in listed[0]
    assert client.get(f"/api/v1/organizations/{seen}").status_code == 200
    assert hidden.status_code == 404
    assert missing.status_code == 404
    assert hidden.get_json()["error"] == missing.get_json()["error"] == "not_found"


def test_an_account_whose_groups_map_to_nothing_lists_an_empty_list(
    app: Flask, client: FlaskClient, make_account: MakeAccount, login_as: SignIn
) -> None:
    alice = make_account(username="alice")
    with app.app_context():
        new_organization(db.session, "Acme")
        db.session.commit()
    login_as(alice)

    response = client.get("/api/v1/organizations")

    assert response.status_code == 200
    assert response.get_json() == {"organizations": []}


@pytest.mark.parametrize("role", [Role.read_only, Role.technician])
def test_changing_organizations_needs_the_administrator_role(
    app: Flask, client: FlaskClient, make_account: MakeAccount, login_as: SignIn, role: Role
) -> None:
    user = make_account(username="user", role=role)
    with app.app_context():
        organization_id = new_organization(db.session, "Acme").id
        db.session.commit()
    headers = login_as(user)

    assert (
        client.post("/api/v1/organizations", json={"name": "X"}, headers=headers).status_code == 403
    )
    url = f"/api/v1/organizations/{organization_id}"
    assert client.patch(url, json={"name": "Y"}, headers=headers).status_code == 403
    assert client.delete(url, headers=headers).status_code == 403


def test_organizations_need_a_session_and_a_csrf_token(
    client: FlaskClient, make_account: MakeAccount, login_as: SignIn
) -> None:
    assert client.get("/api/v1/organizations").status_code == 401
    login_as(make_account(username="admin", role=Role.administrator))

    response = client.post("/api/v1/organizations", json={"name": "Acme"})

    assert response.status_code == 403
    assert response.get_json()["error"] == "csrf"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 400),
        ({"nom": "Acme"}, 400),
        ({"name": "Initech", "group_ids": ["missing"]}, 400),
        ({"name": "acme"}, 409),
    ],
)
def test_invalid_or_duplicate_organizations_are_refused_with_json_errors(
    app: Flask,
    client: FlaskClient,
    make_account: MakeAccount,
    login_as: SignIn,
    body: dict[str, object],
    status: int,
) -> None:
    with app.app_context():
        new_organization(db.session, "Acme")
        db.session.commit()
    headers = login_as(make_account(username="admin", role=Role.administrator))

    response = client.post("/api/v1/organizations", json=body, headers=headers)

    assert response.status_code == status
    assert response.get_json()["detail"]


def test_a_provider_groups_organization_mapping_stays_editable_while_access_groups_are_on(
    app: Flask, client: FlaskClient, make_account: MakeAccount, login_as: SignIn
) -> None:
    with app.app_context():
        set_access_groups(db.session, on=True)
        sales_id = new_group(db.session, "Sales").id
        organization_id = new_organization(db.session, "Acme").id
        db.session.commit()
    headers = login_as(make_account(username="admin", role=Role.administrator))

    response = client.patch(
        f"/api/v1/organizations/{organization_id}", json={"group_ids": [sales_id]}, headers=headers
    )

    assert response.status_code == 200
    assert [(g["id"], g["source"]) for g in response.get_json()["groups"]] == [
        (sales_id, "provider")
    ]
