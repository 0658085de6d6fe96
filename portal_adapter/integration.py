"""The integration settings and their rules.

Owned by the portal-adapter work (issue 3); only the getter exists so far.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal_adapter.models import IntegrationSettings

SETTINGS_ID = 1


def get_settings(session: Session) -> IntegrationSettings:
    """Return the settings row, creating it with the defaults on first use."""
    settings = session.get(IntegrationSettings, SETTINGS_ID)
    if settings is None:
        settings = IntegrationSettings(id=SETTINGS_ID)
        session.add(settings)
        session.flush()
    return settings
