"""Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy import inspect

from portal_adapter.models import Base
from scim_server.app import create_app
from scim_server.extensions import db
from scim_server.migrate import upgrade_database
from scim_server.settings import _normalise_database_url
from tests.conftest import POSTGRES_URL


def _drop_everything(url: str) -> None:
    engine = create_engine(_normalise_database_url(url))
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """The test database with no table at all (migrations start from nothing).

    Afterwards the tables are rebuilt from the models, as the other tests expect on PostgreSQL.
    """
    _drop_everything(database_url)
    yield database_url
    _drop_everything(database_url)
    engine = create_engine(_normalise_database_url(database_url))
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture
def migrated_config(app_config: dict[str, Any], empty_database_url: str) -> dict[str, Any]:
    return {**app_config, "DATABASE_URL": empty_database_url}


def test_upgrade_builds_the_schema_the_models_declare(migrated_config: dict[str, Any]) -> None:
    app = create_app(migrated_config)
    with app.app_context():
        upgrade_database()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        db.engine.dispose()
    assert differences == []


def test_upgrade_twice_is_a_no_op(migrated_config: dict[str, Any]) -> None:
    app = create_app(migrated_config)
    with app.app_context():
        upgrade_database()
        upgrade_database()
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert set(Base.metadata.tables) <= tables


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs UNIVIEW_TEST_DATABASE_URL")
def test_replicas_starting_together_migrate_once_under_the_advisory_lock(
    migrated_config: dict[str, Any],
) -> None:
    errors: list[BaseException] = []

    def start_replica() -> None:
        try:
            app = create_app(migrated_config)
            with app.app_context():
                upgrade_database()
                db.engine.dispose()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    replicas = [threading.Thread(target=start_replica) for _ in range(4)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join()
    assert errors == []
