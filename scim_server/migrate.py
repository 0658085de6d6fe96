"""Apply Alembic migrations; on PostgreSQL under an advisory lock so replicas can start together."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from scim_server.extensions import db

MIGRATION_LOCK_ID = 0x756E6976  # "univ": any constant shared by every replica.
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Return an Alembic config pointing at our migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database() -> None:
    """Upgrade to the newest revision inside the current app context.

    On PostgreSQL the migration runs in one transaction that first takes a
    transaction-level advisory lock: a second replica waits for it, then finds nothing to
    do. The lock ends with the transaction, even when a migration fails (a session-level
    lock would stay held by the pooled connection and block every other replica).
    """
    engine = db.engine
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
