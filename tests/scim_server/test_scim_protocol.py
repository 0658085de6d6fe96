"""The SCIM protocol over HTTP: authentication, errors, filters, sorting, paging, ETags, Bulk."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_adapter import provisioning
from portal_adapter import tokens
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.integration import get_settings
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import ScimToken
from scim_server.extensions import db
from tests.scim_server.conftest import ENTERPRISE
from tests.scim_server.conftest import USER_SCHEMA
from tests.scim_server.conftest import Scim

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.json["schemas"] == [ERROR_SCHEMA]
    assert str(response.json["status"]) == str(status)
    if scim_type is not None:
        assert response.json.get("scimType") == scim_type


# -- authentication -----------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_a_missing_or_invalid_token_is_refused_with_a_bearer_challenge(
    client: FlaskClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}

    response = client.get("/scim/v2/Users", headers=headers)

    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(
    app: Flask, client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    with app.app_context():
        tokens.revoke_token(db.session, name="test-provider", actor="test")
        db.session.commit()

    assert_scim_error(client.get("/scim/v2/Users", headers=scim_headers), 401)


def test_a_request_records_the_token_use_and_the_provider_activity(app: Flask, scim: Scim) -> None:
    assert scim.get("/Users").status_code == 200

    with app.app_context():
        token = db.session.scalar(select(ScimToken))
        assert token is not None and token.last_used_at is not None
        assert get_settings(db.session).last_provider_activity_at is not None


def test_service_provider_config_announces_bearer_tokens_and_the_limits(
    app: Flask, scim: Scim
) -> None:
    config = scim.get("/ServiceProviderConfig").json

    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert config["bulk"]["maxPayloadSize"] == app.config["SCIM_MAX_PAYLOAD_SIZE"]
    assert config["filter"] == {"supported": True, "maxResults": app.config["SCIM_MAX_RESULTS"]}
    assert config["changePassword"]["supported"] is False


# -- errors ---------------------------------------------------------------------


def test_unknown_urls_under_the_scim_root_are_scim_404(scim: Scim) -> None:
    assert_scim_error(scim.get("/Nothing/here"), 404)
    assert_scim_error(scim.get("/Users/not-an-id"), 404)


def test_malformed_json_is_invalid_syntax(scim: Scim) -> None:
    response = scim.client.post("/scim/v2/Users", data="{not json", headers=scim.headers)

    assert_scim_error(response, 400, "invalidSyntax")


def test_a_body_that_is_not_json_is_refused_with_415(scim: Scim) -> None:
    headers = {**scim.headers, "Content-Type": "text/plain"}

    response = scim.client.post("/scim/v2/Users", data="userName=x", headers=headers)

    assert_scim_error(response, 415)


def test_a_body_over_max_payload_size_is_refused_with_413(app: Flask, scim: Scim) -> None:
    app.config["SCIM_MAX_PAYLOAD_SIZE"] = 2000

    response = scim.post(
        "/Users", {"schemas": [USER_SCHEMA], "userName": "x", "nickName": "y" * 3000}
    )

    assert_scim_error(response, 413)


@pytest.mark.parametrize(
    "scim_filter", ["userName eq", 'nosuch eq "x"', 'userName xx "a"', "emails[type eq"]
)
def test_invalid_filters_are_invalid_filter_errors(scim: Scim, scim_filter: str) -> None:
    assert_scim_error(
        scim.get("/Users", query_string={"filter": scim_filter}), 400, "invalidFilter"
    )


def test_a_taken_user_name_in_another_case_is_a_uniqueness_conflict(scim: Scim) -> None:
    scim.create_user("bjensen")

    response = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "BJensen"})

    assert_scim_error(response, 409, "uniqueness")


def test_a_failed_request_changes_nothing(app: Flask, scim: Scim) -> None:
    user = scim.create_user("bjensen")
    scim.create_user("other")

    response = scim.put(f"/Users/{user['id']}", {"schemas": [USER_SCHEMA], "userName": "other"})

    assert response.status_code == 409
    assert scim.get(f"/Users/{user['id']}").json["userName"] == "bjensen"


def test_an_outdated_if_match_is_refused_with_412(scim: Scim) -> None:
    user = scim.create_user("bjensen")
    scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "A"})

    response = scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "path": "title", "value": "B"},
        headers={"If-Match": user["meta"]["version"]},
    )

    assert_scim_error(response, 412)


# -- round trip, filters, sorting, paging ----------------------------------------


FULL_USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "userName": "bjensen@example.com",
    "externalId": "ext-701984",
    "name": {
        "formatted": "Ms. Barbara J Jensen III",
        "familyName": "Jensen",
        "givenName": "Barbara",
    },
    "displayName": "Babs Jensen",
    "title": "Tour Guide",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "country": "USA",
        }
    ],
    "roles": [{"value": "admin", "primary": False}],
    "entitlements": [{"value": "delegated"}],
    ENTERPRISE: {
        "employeeNumber": "701984",
        "department": "Tour Operations",
        "manager": {"value": "26118915"},
    },
}


def test_every_attribute_sent_round_trips(scim: Scim) -> None:
    created = scim.post("/Users", FULL_USER).json
    fetched = scim.get(f"/Users/{created['id']}").json

    for key, value in FULL_USER.items():
        assert fetched[key] == value, key


def test_the_portal_columns_are_projected_from_the_resource(app: Flask, scim: Scim) -> None:
    created = scim.post("/Users", FULL_USER).json

    with app.app_context():
        row = db.session.get(ProviderIdentity, created["id"])
        assert row is not None
        assert (row.user_name, row.user_name_ci, row.external_id) == (
            "bjensen@example.com",
            "bjensen@example.com",
            "ext-701984",
        )
        assert (row.display_name, row.email, row.active) == (
            "Babs Jensen",
            "bjensen@example.com",
            True,
        )
        assert "password" not in row.payload


def test_a_password_sent_is_never_stored_nor_returned(app: Flask, scim: Scim) -> None:
    created = scim.create_user("bjensen", password="s3cret!")

    with app.app_context():
        row = db.session.get(ProviderIdentity, created["id"])
        assert row is not None and "password" not in row.payload
    assert "password" not in created


@pytest.fixture
def people(scim: Scim) -> dict[str, str]:
    specs: dict[str, dict[str, Any]] = {
        "alice": {
            "title": "Boss",
            "emails": [{"value": "alice@work.example", "type": "work"}],
            ENTERPRISE: {"employeeNumber": "100"},
        },
        "Bob": {
            "active": False,
            "emails": [
                {"value": "bob@home.example", "type": "home"},
                {"value": "bob@work.example", "type": "work"},
            ],
        },
        "carol": {
            "title": "",
            "emails": [{"value": "carol@x.example", "type": "work"}],
            ENTERPRISE: {"employeeNumber": "2"},
        },
    }
    return {name: scim.create_user(name, **attributes)["id"] for name, attributes in specs.items()}


@pytest.mark.parametrize(
    ("scim_filter", "expected"),
    [
        ('userName eq "ALICE"', {"alice"}),
        ('userName sw "b"', {"Bob"}),
        ("title pr", {"alice"}),
        ("not (title pr)", {"Bob", "carol"}),
        ("active eq false", {"Bob"}),
        ('emails[type eq "work"].value co "@work"', {"alice", "Bob"}),
        ('emails[type eq "work" and value co "@work"]', {"alice", "Bob"}),
        ('emails[type eq "home" and value co "@work"]', set()),
        ('emails.value ew ".example"', {"alice", "Bob", "carol"}),
        # Strings order as strings: "2" > "10".
        (f'{ENTERPRISE}:employeeNumber gt "10"', {"alice", "carol"}),
        ('title eq "boss" or userName eq "carol"', {"alice", "carol"}),
        ('meta.created gt "2000-01-01T00:00:00Z" and not (active eq false)', {"alice", "carol"}),
    ],
)
def test_filters_select_in_the_database_with_exact_totals(
    scim: Scim, people: dict[str, str], scim_filter: str, expected: set[str]
) -> None:
    response = scim.get("/Users", query_string={"filter": scim_filter})

    assert response.status_code == 200
    assert response.json["totalResults"] == len(expected)
    assert {r["userName"] for r in response.json["Resources"]} == expected


def test_post_search_filters_like_get(scim: Scim, people: dict[str, str]) -> None:
    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "bob"',
            "attributes": ["userName"],
        },
    )

    assert response.status_code == 200
    assert response.json["totalResults"] == 1
    assert response.json["Resources"][0]["id"] == people["Bob"]
    assert "emails" not in response.json["Resources"][0]


def test_sorting_and_index_paging_happen_in_sql(scim: Scim, people: dict[str, str]) -> None:
    first = scim.get(
        "/Users", query_string={"sortBy": "userName", "sortOrder": "descending", "count": 2}
    )
    second = scim.get(
        "/Users",
        query_string={"sortBy": "userName", "sortOrder": "descending", "count": 2, "startIndex": 3},
    )

    assert [r["userName"] for r in first.json["Resources"]] == ["carol", "Bob"]
    assert first.json["totalResults"] == 3
    assert [r["userName"] for r in second.json["Resources"]] == ["alice"]
    assert second.json["startIndex"] == 3


def test_group_members_filter_uses_the_membership_rows(scim: Scim, people: dict[str, str]) -> None:
    staff = scim.create_group("staff", [people["alice"]])
    scim.create_group("others", [people["Bob"]])

    response = scim.get(
        "/Groups", query_string={"filter": f'members[value eq "{people["alice"]}"]'}
    )
    by_value = scim.get("/Groups", query_string={"filter": f'members.value eq "{people["alice"]}"'})

    assert [g["id"] for g in response.json["Resources"]] == [staff["id"]]
    assert [g["id"] for g in by_value.json["Resources"]] == [staff["id"]]


def test_attributes_and_excluded_attributes_shape_the_response(
    scim: Scim, people: dict[str, str]
) -> None:
    only = scim.get(f"/Users/{people['alice']}", query_string={"attributes": "userName"}).json
    without = scim.get(
        f"/Users/{people['alice']}", query_string={"excludedAttributes": "emails"}
    ).json

    assert set(only) == {"schemas", "id", "userName"}
    assert "emails" not in without and without["title"] == "Boss"


def test_lean_get_answers_what_the_engine_answers(scim: Scim, people: dict[str, str]) -> None:
    lean = scim.get(f"/Users/{people['alice']}").json
    # excludedAttributes of an absent attribute sends the request through the engine.
    engine = scim.get(
        f"/Users/{people['alice']}", query_string={"excludedAttributes": "nickName"}
    ).json

    assert lean == engine


def test_put_replaces_and_delete_removes(scim: Scim) -> None:
    user = scim.create_user("bjensen", title="A")

    replaced = scim.put(
        f"/Users/{user['id']}", {"schemas": [USER_SCHEMA], "userName": "bjensen", "nickName": "B"}
    )
    deleted = scim.delete(f"/Users/{user['id']}")

    assert replaced.status_code == 200
    assert "title" not in replaced.json and replaced.json["nickName"] == "B"
    assert deleted.status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404


def test_bulk_resolves_bulk_ids_and_fails_operations_independently(
    scim: Scim, member_ids: Any
) -> None:
    scim.create_user("taken")
    response = scim.post(
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "u1",
                    "data": {"schemas": [USER_SCHEMA], "userName": "new"},
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "u2",
                    "data": {"schemas": [USER_SCHEMA], "userName": "TAKEN"},
                },
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g1",
                    "data": {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "g",
                        "members": [{"value": "bulkId:u1"}],
                    },
                },
            ],
        },
    )

    assert response.status_code == 200
    statuses = [str(op["status"]) for op in response.json["Operations"]]
    assert statuses == ["201", "409", "201"]
    group_id = response.json["Operations"][2]["location"].rsplit("/", 1)[-1]
    new_id = response.json["Operations"][0]["location"].rsplit("/", 1)[-1]
    assert member_ids({"id": group_id}) == {new_id}
    found = scim.get('/Users?filter=userName eq "new"').json
    assert found["totalResults"] == 1


# -- provisioning hooks -------------------------------------------------------------


def test_user_writes_call_the_provisioning_hooks(
    monkeypatch: pytest.MonkeyPatch, scim: Scim
) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        provisioning, "on_identity_created", lambda s, i, *, actor: calls.append(("created", actor))
    )
    monkeypatch.setattr(
        provisioning,
        "on_identity_updated",
        lambda s, i, *, actor, was_active: calls.append(("updated", (was_active, i.active))),
    )
    monkeypatch.setattr(
        provisioning,
        "on_identity_deleted",
        lambda s, i, *, actor: calls.append(("deleted", i.user_name)),
    )

    user = scim.create_user("bjensen")
    scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    scim.delete(f"/Users/{user['id']}")

    assert calls == [
        ("created", "scim:test-provider"),
        ("updated", (True, False)),
        ("deleted", "bjensen"),
    ]


@pytest.mark.parametrize(
    ("error", "status"),
    [(Conflict("last superuser"), 409), (NotFound("gone"), 404), (InvalidInput("bad"), 400)],
)
def test_a_refusing_provisioning_hook_becomes_a_scim_error_and_rolls_back(
    monkeypatch: pytest.MonkeyPatch, scim: Scim, error: Exception, status: int
) -> None:
    user = scim.create_user("bjensen")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(provisioning, "on_identity_deleted", refuse)

    response = scim.delete(f"/Users/{user['id']}")

    assert_scim_error(response, status)
    assert response.json["detail"] == error.detail  # type: ignore[attr-defined]
    assert scim.get(f"/Users/{user['id']}").status_code == 200


def test_lean_search_answers_what_the_engine_answers(scim: Scim, people: dict[str, str]) -> None:
    query = {"filter": 'emails[type eq "work"]', "count": 10}
    lean = scim.get("/Users", query_string=query).json
    # excludedAttributes of an absent attribute sends the search through the engine.
    engine = scim.get("/Users", query_string={**query, "excludedAttributes": "nickName"}).json

    assert lean["totalResults"] == engine["totalResults"] == 3
    assert sorted(lean["Resources"], key=lambda r: r["id"]) == sorted(
        engine["Resources"], key=lambda r: r["id"]
    )


def test_a_search_at_the_root_covers_users_and_groups(scim: Scim, people: dict[str, str]) -> None:
    group = scim.create_group("staff", [people["alice"]])

    response = scim.get("/", query_string={"filter": 'displayName eq "staff" or userName eq "bob"'})

    assert response.status_code == 200
    assert {r["id"] for r in response.json["Resources"]} == {group["id"], people["Bob"]}


def test_a_get_with_the_current_etag_answers_304(scim: Scim) -> None:
    user = scim.create_user("bjensen")

    response = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": user["meta"]["version"]})

    assert response.status_code == 304


def test_put_on_a_group_replaces_its_members(
    scim: Scim, people: dict[str, str], member_ids: Any
) -> None:
    group = scim.create_group("staff", [people["alice"], people["Bob"]])

    response = scim.put(
        f"/Groups/{group['id']}",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "staff",
            "members": [{"value": people["Bob"]}, {"value": people["carol"]}],
        },
    )

    assert response.status_code == 200
    assert member_ids(group) == {people["Bob"], people["carol"]}


def test_deleting_a_user_removes_it_from_its_groups(
    scim: Scim, people: dict[str, str], member_ids: Any
) -> None:
    group = scim.create_group("staff", [people["alice"], people["Bob"]])

    assert scim.delete(f"/Users/{people['alice']}").status_code == 204

    assert member_ids(group) == {people["Bob"]}
