"""The hot SCIM requests stay lean (no wasted query) and stay correct where they cut corners."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select

from portal_adapter.models import AuditEvent
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import ScimIndexEntry
from scim_server.extensions import db
from tests.scim_server.conftest import USER_SCHEMA
from tests.scim_server.conftest import Scim

Statements = Callable[[], list[str]]


@pytest.fixture
def statements(app: Flask) -> Iterator[Statements]:
    """Record the SQL statements sent from the moment the returned function is first called."""
    seen: list[str] = []
    recording = False

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if recording:
            seen.append(" ".join(statement.split()))

    def start() -> list[str]:
        nonlocal recording
        recording = True
        seen.clear()
        return seen

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    yield start
    event.remove(engine, "before_cursor_execute", capture)


def _queries(seen: list[str]) -> list[str]:
    """The statements that do work (not transaction control)."""
    return [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def test_get_by_id_is_the_token_check_and_one_select(scim: Scim, statements: Statements) -> None:
    user = scim.create_user("bjensen")
    seen = statements()

    response = scim.get(f"/Users/{user['id']}")

    assert response.status_code == 200
    queries = _queries(seen)
    assert len(queries) == 2, queries
    assert "FROM scim_tokens" in queries[0]
    assert "FROM provider_identities" in queries[1]


def test_a_user_name_lookup_needs_no_count_query(scim: Scim, statements: Statements) -> None:
    scim.create_user("bjensen")
    scim.create_user("other")
    seen = statements()

    response = scim.get("/Users", query_string={"filter": 'userName eq "BJENSEN"'})

    assert response.json["totalResults"] == 1
    queries = _queries(seen)
    assert len(queries) == 2, queries
    assert not any("count(" in q.lower() for q in queries)


def test_a_create_runs_no_savepoint_and_no_uniqueness_select(
    scim: Scim, statements: Statements
) -> None:
    scim.create_user("first")  # the first request also records the provider's activity
    seen = statements()

    scim.create_user("bjensen", emails=[{"value": "b@example.com", "primary": True}])

    assert not any("SAVEPOINT" in s for s in seen)
    assert not any(s.startswith("SELECT") and "FROM provider_identities" in s for s in seen)
    index_inserts = [s for s in seen if s.startswith("INSERT INTO scim_index")]
    assert len(index_inserts) == 1


def test_a_member_patch_reads_no_group_row_and_counts_members_within_a_bound(
    scim: Scim, statements: Statements
) -> None:
    users = [scim.create_user(f"u{i}")["id"] for i in range(3)]
    group = scim.create_group("staff", users[:2])
    seen = statements()

    response = scim.patch(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": users[2]}]}
    )

    assert response.status_code == 200
    assert not any("SAVEPOINT" in s for s in seen)
    # The UPDATE ... RETURNING gave the row: the group is not read again.
    assert not any(s.startswith("SELECT") and "FROM groups" in s for s in seen)
    member_reads = [s for s in seen if s.startswith("SELECT") and "FROM group_memberships" in s]
    # The bounded count that decides 200 or 204, then the small group's member list.
    assert len(member_reads) == 2, member_reads
    assert "count(" in member_reads[0].lower() and "LIMIT" in member_reads[0]


@pytest.mark.parametrize(
    ("start_index", "count", "items"),
    [(1, 2, 2), (4, 2, 2), (5, 2, 1), (1, 10, 5), (3, 10, 3), (7, 2, 0), (1, 0, 0)],
)
def test_total_results_is_exact_on_every_page(
    scim: Scim, start_index: int, count: int, items: int
) -> None:
    for i in range(5):
        scim.create_user(f"user{i}")

    response = scim.get("/Users", query_string={"startIndex": start_index, "count": count})

    assert response.json["totalResults"] == 5
    assert len(response.json.get("Resources", [])) == items


@pytest.fixture
def small_threshold(app: Flask) -> int:
    app.config["SCIM_LARGE_GROUP_THRESHOLD"] = 3
    return 3


def test_a_member_patch_at_the_threshold_answers_every_member_in_the_order_added(
    scim: Scim, small_threshold: int
) -> None:
    users = [scim.create_user(f"u{i}")["id"] for i in range(small_threshold)]
    group = scim.create_group("staff", users[:1])
    for user_id in users[1:]:
        response = scim.patch(
            f"/Groups/{group['id']}",
            {"op": "add", "path": "members", "value": [{"value": user_id}]},
        )

    assert response.status_code == 200
    assert [m["value"] for m in response.json["members"]] == users
    assert response.json["meta"]["version"] == response.headers["ETag"] == f'W/"{len(users)}"'


def test_a_refused_create_leaves_nothing_behind(app: Flask, scim: Scim) -> None:
    scim.create_user("bjensen")

    def counts() -> tuple[int, int, int]:
        with app.app_context():
            return tuple(  # type: ignore[return-value]
                db.session.scalar(select(func.count()).select_from(model))
                for model in (ProviderIdentity, ScimIndexEntry, AuditEvent)
            )

    before = counts()
    response = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "BJENSEN"})

    assert response.status_code == 409
    assert counts() == before
    assert scim.create_user("someone-else")["userName"] == "someone-else"
