"""Apply what the identity provider pushes (SCIM Users) to portal accounts.

The SCIM layer calls these hooks inside its transaction, after it has written the
identity row. Full policy (settings, pending identities, last-superuser guard, flags)
is the portal-adapter issue's; this is the contract the SCIM layer builds on.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal_adapter.models import ProviderIdentity


def on_identity_created(session: Session, identity: ProviderIdentity, *, actor: str) -> None:
    """A provider user was created: create or link a portal account per the settings."""


def on_identity_updated(
    session: Session, identity: ProviderIdentity, *, actor: str, was_active: bool
) -> None:
    """A provider user changed; ``identity.active`` against ``was_active`` tells a (re)activation.

    :raises portal_adapter.errors.Conflict: When deactivating would disable the last superuser.
    """


def on_identity_deleted(session: Session, identity: ProviderIdentity, *, actor: str) -> None:
    """A provider user is about to be deleted: apply the deprovisioning policy.

    :raises portal_adapter.errors.Conflict: When it would remove the last superuser.
    """
