"""Organization visibility at scale: a 50k-member provider group among 1k groups.

Run by hand (never in the test suite)::

    /work/venv/bin/python benchmarks/access_scale.py                       # SQLite file
    /work/venv/bin/python benchmarks/access_scale.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench          # PostgreSQL

It seeds (dropping and re-creating every table of the target database) 50k provider
identities, one provider group holding all of them, 999 more provider groups of
``--small-members`` members each, and 500 organizations mapped to 2 groups each. The
measured account is linked to one identity, a member of the big group and of 5 small
ones. Timings are in-process (Flask test client, no HTTP), median and p95 of
``--repeat`` runs, with the number of SQL statements of one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select

from portal_adapter import access
from portal_adapter import groups
from portal_adapter import sessions
from portal_adapter import tokens
from portal_adapter.integration import get_settings
from portal_adapter.models import Account
from portal_adapter.models import Base
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from scim_server.app import create_app
from scim_server.extensions import db

CHUNK = 5000


def chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def seed(app: Flask, *, members: int, groups_count: int, small_members: int) -> dict[str, Any]:
    """Create the data set; return the ids the measurements need."""
    started = time.perf_counter()
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        session = db.session
        settings = get_settings(session)
        settings.unified_login = True
        settings.access_groups = True
        alice = Account(username="alice", username_ci="alice", role=Role.read_only)
        session.add(alice)
        session.flush()
        identity_rows = [
            {"id": f"id-{n}", "user_name": f"user{n}", "user_name_ci": f"user{n}", "payload": {}}
            for n in range(members)
        ]
        identity_rows[0]["account_id"] = alice.id
        for part in chunks(identity_rows):
            session.execute(insert(ProviderIdentity), part)
        group_rows = [
            {
                "id": f"grp-{n}",
                "display_name": f"Group {n}",
                "display_name_ci": f"group {n}",
                "external_id": f"ext-{n}",
                "source": "provider",
                "payload": {},
            }
            for n in range(groups_count)
        ]
        session.execute(insert(Group), group_rows)
        rng = random.Random(7)
        membership_rows = [
            {"group_id": "grp-0", "identity_id": f"id-{n}", "source": "provider"}
            for n in range(members)
        ]
        for g in range(1, groups_count):
            for n in rng.sample(range(1, members), small_members):
                membership_rows.append(
                    {"group_id": f"grp-{g}", "identity_id": f"id-{n}", "source": "provider"}
                )
        for g in range(1, 6):
            membership_rows.append(
                {"group_id": f"grp-{g}", "identity_id": "id-0", "source": "provider"}
            )
        # A small group may have drawn id-0 nowhere (sample starts at 1): no duplicates.
        for part in chunks(membership_rows):
            session.execute(insert(GroupMembership), part)
        organization_rows = [{"name": f"Org {n}", "name_ci": f"org {n}"} for n in range(500)]
        session.execute(insert(Organization), organization_rows)
        organization_ids = list(session.scalars(select(Organization.id).order_by(Organization.id)))
        mapping_rows = [
            {"organization_id": organization_id, "group_id": f"grp-{(i * 2 + k) % groups_count}"}
            for i, organization_id in enumerate(organization_ids)
            for k in range(2)
        ]
        session.execute(insert(OrganizationGroup), mapping_rows)
        login = sessions.open_session(session, alice, method="local")
        issued = tokens.issue_token(session, name="bench", actor="bench")
        session.commit()
        # Planner statistics as a maintained database has them (SQLite's ANALYZE is
        # where a full index on the mostly-NULL account_id would stop being used).
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        result = {
            "account_id": alice.id,
            "session_id": login.id,
            "scim_token": issued.secret,
            "memberships": len(membership_rows),
            "organization_id": organization_ids[0],
        }
    print(
        f"seeded {members} identities, {groups_count} groups, {result['memberships']} "
        f"memberships, 500 organizations in {time.perf_counter() - started:.1f}s"
    )
    return result


def measure(app: Flask, name: str, run: Callable[[], object], repeat: int) -> None:
    """Print median/p95 wall time and the statement count of one run."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(*args: Any) -> None:
        statements.append(args[2])

    run()  # warm caches and compiled statements
    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    print(
        f"{name:<52} median {statistics.median(timings):7.2f} ms   p95 {p95:7.2f} ms   "
        f"{len(statements)} statements"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--small-members", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'access_scale.db'}"
    app = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "SECRET_KEY": "benchmark-secret",
            "DATABASE_URL": url,
            "BASE_URL": "http://localhost",
        }
    )
    ids = seed(
        app, members=args.members, groups_count=args.groups, small_members=args.small_members
    )
    print(f"database: {url.split('@')[-1]}")

    def in_session(work: Callable[[Any, Account], object]) -> Callable[[], object]:
        def run() -> object:
            with app.app_context():
                account = db.session.get(Account, ids["account_id"])
                assert account is not None
                return work(db.session, account)

        return run

    measure(app, "organizations_for(account)", in_session(access.organizations_for), args.repeat)
    measure(app, "groups_for(account)", in_session(access.groups_for), args.repeat)
    measure(
        app,
        "can_see_organization(account, id)",
        in_session(lambda s, a: access.can_see_organization(s, a, ids["organization_id"])),
        args.repeat,
    )
    with app.app_context():
        # The same calls inside one open session: no pool checkout, ping or rollback per
        # run, which is what a request pays once for all its queries.
        held_account = db.session.get(Account, ids["account_id"])
        assert held_account is not None
        measure(
            app,
            "organizations_for(account), one open session",
            lambda: access.organizations_for(db.session, held_account),
            args.repeat,
        )
        print(
            "  account sees",
            len(access.organizations_for(db.session, db.session.get(Account, ids["account_id"]))),  # type: ignore[arg-type]
            "organizations through",
            len(access.groups_for(db.session, db.session.get(Account, ids["account_id"]))),  # type: ignore[arg-type]
            "groups",
        )

    client = app.test_client()
    with client.session_transaction() as cookie_session:
        cookie_session["sid"] = ids["session_id"]

    def get(path: str, headers: dict[str, str] | None = None) -> Callable[[], object]:
        def run() -> object:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code, response.data[:200])
            return response

        return run

    measure(app, "GET /api/v1/me", get("/api/v1/me"), args.repeat)
    with app.app_context():
        root = Account(username="root", username_ci="root", role=Role.superuser)
        db.session.add(root)
        db.session.flush()
        root_session = sessions.open_session(db.session, root, method="local").id
        db.session.commit()
    admin = app.test_client()
    with admin.session_transaction() as cookie_session:
        cookie_session["sid"] = root_session

    def admin_get(path: str) -> Callable[[], object]:
        def run() -> object:
            response = admin.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return run

    measure(app, "GET /api/v1/groups (first page of 100)", admin_get("/api/v1/groups"), 10)
    measure(
        app,
        "GET /api/v1/groups?limit=1000 (all 1k groups)",
        admin_get("/api/v1/groups?limit=1000"),
        10,
    )
    measure(
        app,
        "GET /api/v1/groups/grp-0 (member count of 50k)",
        admin_get("/api/v1/groups/grp-0"),
        args.repeat,
    )
    measure(
        app,
        "GET /api/v1/groups/grp-0/members?offset=40000&limit=100",
        admin_get("/api/v1/groups/grp-0/members?offset=40000&limit=100"),
        10,
    )
    measure(
        app,
        "GET /api/v1/integration/groups-import",
        admin_get("/api/v1/integration/groups-import"),
        10,
    )
    scim_headers = {"Authorization": f"Bearer {ids['scim_token']}"}
    measure(
        app,
        "GET /scim/v2/Groups?excludedAttributes=members&count=100",
        get("/scim/v2/Groups?excludedAttributes=members&count=100", scim_headers),
        10,
    )
    with app.app_context():
        held = groups.member_count(db.session, db.session.get(Group, "grp-0"))  # type: ignore[arg-type]
    print(f"  big group members: {held}")


if __name__ == "__main__":
    main()
