"""Run a CLI command inside an application context with one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import click
from sqlalchemy.orm import Session

from portal_adapter.errors import PortalError
from scim_server.extensions import db


@contextmanager
def command_session() -> Iterator[Session]:
    """Yield the db session of a fresh app; commit on success, report domain errors.

    :raises click.ClickException: When the domain refuses the command.
    """
    from scim_server.app import create_app

    app = create_app()
    with app.app_context():
        try:
            # The scoped session proxies a Session; domain code is typed against Session.
            yield cast(Session, db.session)
            db.session.commit()
        except PortalError as error:
            db.session.rollback()
            raise click.ClickException(error.detail) from None
        finally:
            # A command is the whole life of its app: close its connections now, not at GC.
            db.session.remove()
            db.engine.dispose()
