"""The one shared object of the application: the Flask-SQLAlchemy ``db``."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy

from portal_adapter.models import Base

db = SQLAlchemy(model_class=Base)
"""Bound to the portal's declarative base, so its tables are this db's tables."""
