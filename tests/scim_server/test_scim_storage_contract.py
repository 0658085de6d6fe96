"""The SQL storage follows scim2-server's storage contract, filters and sorting included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from scim2_server.testing import ScimStorageContract

from scim_server.extensions import db
from scim_server.scim.storage import SqlScimStorage


class TestSqlScimStorage(ScimStorageContract):
    """Every contract test, on SQLite (and PostgreSQL when configured)."""

    @pytest.fixture
    def storage(self, app: Flask, provider: Any) -> Iterator[SqlScimStorage]:
        with app.app_context():
            yield SqlScimStorage(provider, lambda: db.session())
            db.session.rollback()
