"""Alembic environment: run on the connection handed over by ``scim_server.migrate``."""

from __future__ import annotations

from alembic import context

import portal_adapter.models  # noqa: F401 - registers every table
from portal_adapter.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `uniview-idm db upgrade`")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
