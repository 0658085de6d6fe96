"""Provider quirks, one test each, named after the behaviour (see docs/scim.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal_adapter.models import AuditEvent
from portal_adapter.models import GroupMembership
from scim_server.extensions import db
from tests.scim_server.conftest import ENTERPRISE
from tests.scim_server.conftest import USER_SCHEMA
from tests.scim_server.conftest import Scim

MemberIds = Callable[[dict[str, Any]], set[str]]


@pytest.mark.parametrize("op", ["Replace", "REPLACE", "replace"])
def test_patch_op_names_are_accepted_in_any_case(scim: Scim, op: str) -> None:
    user = scim.create_user("bjensen")

    response = scim.patch(
        f"/Users/{user['id']}", {"op": op, "path": "displayName", "value": "Babs"}
    )

    assert response.status_code == 200
    assert response.json["displayName"] == "Babs"


def test_entra_add_and_remove_op_names_are_accepted(scim: Scim) -> None:
    user = scim.create_user("bjensen")

    added = scim.patch(f"/Users/{user['id']}", {"op": "Add", "path": "nickName", "value": "B"})
    removed = scim.patch(f"/Users/{user['id']}", {"op": "Remove", "path": "nickName"})

    assert added.json["nickName"] == "B"
    assert "nickName" not in removed.json


@pytest.mark.parametrize(("sent", "stored"), [("False", False), ("false", False), ("True", True)])
def test_booleans_sent_as_strings_are_read_as_booleans(scim: Scim, sent: str, stored: bool) -> None:
    user = scim.create_user("bjensen", active=not stored)

    response = scim.patch(
        f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": sent}
    )

    assert response.status_code == 200
    assert response.json["active"] is stored


def test_boolean_as_string_on_create_is_read_as_boolean(scim: Scim) -> None:
    user = scim.create_user("bjensen", active="False")

    assert user["active"] is False


def test_pathless_replace_with_dotted_keys_sets_only_those_sub_attributes(scim: Scim) -> None:
    user = scim.create_user("bjensen", name={"givenName": "Barbara", "familyName": "Jensen"})

    response = scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "value": {"name.givenName": "Babs", "active": "False"}},
    )

    assert response.status_code == 200
    assert response.json["name"] == {"givenName": "Babs", "familyName": "Jensen"}
    assert response.json["active"] is False


def test_pathless_add_with_urn_prefixed_enterprise_keys_sets_the_extension(scim: Scim) -> None:
    user = scim.create_user("bjensen")

    response = scim.patch(
        f"/Users/{user['id']}",
        {
            "op": "Add",
            "value": {f"{ENTERPRISE}:employeeNumber": "701984", f"{ENTERPRISE}:department": "Tour"},
        },
    )

    assert response.status_code == 200
    assert response.json[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour"}


def test_email_value_path_replace_changes_the_matching_entry(scim: Scim) -> None:
    user = scim.create_user(
        "bjensen",
        emails=[
            {"type": "work", "value": "old@example.com"},
            {"type": "home", "value": "h@example.com"},
        ],
    )

    response = scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
    )

    assert response.status_code == 200
    assert {(e["type"], e["value"]) for e in response.json["emails"]} == {
        ("work", "new@example.com"),
        ("home", "h@example.com"),
    }


def test_email_value_path_add_creates_the_entry_when_none_matches(scim: Scim) -> None:
    user = scim.create_user("bjensen")

    response = scim.patch(
        f"/Users/{user['id']}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "b@example.com"},
    )

    assert response.status_code == 200
    assert response.json["emails"] == [{"type": "work", "value": "b@example.com"}]


def test_member_removal_by_value_filter_removes_only_that_member(
    scim: Scim, member_ids: MemberIds
) -> None:
    users = [scim.create_user(name)["id"] for name in ("a", "b", "c")]
    group = scim.create_group("staff", users)

    response = scim.patch(
        f"/Groups/{group['id']}", {"op": "Remove", "path": f'members[value eq "{users[0]}"]'}
    )

    assert response.status_code == 200
    assert member_ids(group) == {users[1], users[2]}


def test_member_removal_with_path_members_and_a_value_list_removes_only_those(
    scim: Scim, member_ids: MemberIds
) -> None:
    users = [scim.create_user(name)["id"] for name in ("a", "b", "c")]
    group = scim.create_group("staff", users)

    response = scim.patch(
        f"/Groups/{group['id']}",
        {"op": "remove", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]},
    )

    assert response.status_code == 200
    assert member_ids(group) == {users[2]}


def test_several_member_ops_in_one_patch_all_apply(scim: Scim, member_ids: MemberIds) -> None:
    users = [scim.create_user(name)["id"] for name in ("a", "b", "c", "d")]
    group = scim.create_group("staff", users[:2])

    response = scim.patch(
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": users[2]}]},
        {"op": "Remove", "path": f'members[value eq "{users[0]}"]'},
        {"op": "Add", "value": {"members": [{"value": users[3]}]}},
    )

    assert response.status_code == 200
    assert member_ids(group) == {users[1], users[2], users[3]}


def test_manager_sent_as_a_bare_id_string_is_stored_as_a_reference(scim: Scim) -> None:
    boss = scim.create_user("boss")
    user = scim.create_user("bjensen", **{ENTERPRISE: {"manager": boss["id"]}})

    response = scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
    )

    assert user[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert response.status_code == 200
    assert response.json[ENTERPRISE]["manager"]["value"] == boss["id"]


def test_extra_unknown_schema_urns_on_create_are_ignored(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA, "urn:example:custom:1.0:User"],
            "userName": "bjensen",
            "urn:example:custom:1.0:User": {"badge": "7"},
        },
    )

    assert response.status_code == 201
    assert response.json["schemas"] == [USER_SCHEMA]


def test_search_with_no_match_answers_200_with_an_empty_list_response(scim: Scim) -> None:
    response = scim.get('/Users?filter=userName eq "nobody"')

    assert response.status_code == 200
    assert response.json["totalResults"] == 0
    assert response.json["Resources"] == []


def test_deactivated_users_stay_visible_to_get_and_filters(scim: Scim) -> None:
    user = scim.create_user("bjensen", active=False)

    fetched = scim.get(f"/Users/{user['id']}")
    found = scim.get('/Users?filter=userName eq "BJENSEN" and active eq false')

    assert fetched.status_code == 200
    assert fetched.json["active"] is False
    assert [r["id"] for r in found.json["Resources"]] == [user["id"]]


def test_patch_answers_200_with_the_resource(scim: Scim) -> None:
    user = scim.create_user("bjensen")
    group = scim.create_group("staff")

    user_response = scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "Boss"}
    )
    group_response = scim.patch(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    )

    assert user_response.status_code == 200
    assert user_response.json["title"] == "Boss"
    assert group_response.status_code == 200
    assert group_response.json["members"][0]["value"] == user["id"]


@pytest.fixture
def small_threshold(app: Flask) -> int:
    app.config["SCIM_LARGE_GROUP_THRESHOLD"] = 3
    return 3


def test_member_patch_on_a_group_above_the_threshold_answers_204(
    scim: Scim, small_threshold: int, member_ids: MemberIds
) -> None:
    users = [scim.create_user(f"u{i}")["id"] for i in range(small_threshold + 2)]
    group = scim.create_group("big", users[:-1])

    response = scim.patch(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": users[-1]}]}
    )

    assert response.status_code == 204
    assert response.headers["ETag"] == 'W/"2"'
    assert member_ids(group) == set(users)


def test_member_patch_on_a_large_group_answers_200_when_attributes_asks_for_members(
    scim: Scim, small_threshold: int
) -> None:
    users = [scim.create_user(f"u{i}")["id"] for i in range(small_threshold + 2)]
    group = scim.create_group("big", users[:-1])

    response = scim.patch(
        f"/Groups/{group['id']}?attributes=members",
        {"op": "add", "path": "members", "value": [{"value": users[-1]}]},
    )

    assert response.status_code == 200
    assert {m["value"] for m in response.json["members"]} == set(users)


def test_member_id_naming_no_user_is_not_stored_and_is_audited_as_a_warning(
    app: Flask, scim: Scim, member_ids: MemberIds
) -> None:
    user = scim.create_user("bjensen")
    group = scim.create_group("staff")

    response = scim.patch(
        f"/Groups/{group['id']}",
        {
            "op": "add",
            "path": "members",
            "value": [{"value": "no-such-user"}, {"value": user["id"]}],
        },
    )

    assert response.status_code == 200
    assert member_ids(group) == {user["id"]}
    with app.app_context():
        warnings = db.session.scalars(select(AuditEvent).where(AuditEvent.level == "warning")).all()
        assert [w.action for w in warnings] == ["scim.group.member_unknown"]
        assert "no-such-user" in (warnings[0].detail or "")
        stored = db.session.scalars(select(GroupMembership.identity_id)).all()
        assert stored == [user["id"]]


def test_member_id_naming_no_user_on_group_create_is_skipped(
    scim: Scim, member_ids: MemberIds
) -> None:
    user = scim.create_user("bjensen")

    group = scim.create_group("staff", [user["id"], "made-up"])

    assert member_ids(group) == {user["id"]}


def test_a_member_patch_on_a_large_group_never_reads_its_members(
    app: Flask, scim: Scim, small_threshold: int
) -> None:
    from sqlalchemy import event

    users = [scim.create_user(f"u{i}")["id"] for i in range(small_threshold + 3)]
    group = scim.create_group("big", users[:-1])
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        added = scim.patch(
            f"/Groups/{group['id']}",
            {"op": "add", "path": "members", "value": [{"value": users[-1]}]},
        )
        removed = scim.patch(
            f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{users[0]}"]'}
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    assert (added.status_code, removed.status_code) == (204, 204)
    member_reads = [
        s
        for s in statements
        if s.startswith("SELECT") and "FROM group_memberships" in s and "LIMIT" not in s
    ]
    assert member_reads == []
    assert any(
        s.startswith("INSERT INTO group_memberships") and "ON CONFLICT DO NOTHING" in s
        for s in statements
    )
