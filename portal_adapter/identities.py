"""Provider identities as administrators see them: list, create an account from one, link one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import CreatedBy
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role


def identity_to_dict(identity: ProviderIdentity) -> dict[str, Any]:
    """Return the JSON view of a provider identity (not its whole SCIM payload)."""
    return {
        "id": identity.id,
        "external_id": identity.external_id,
        "user_name": identity.user_name,
        "display_name": identity.display_name,
        "email": identity.email,
        "active": identity.active,
        "status": IdentityStatus(identity.status).value,
        "account_id": identity.account_id,
        "created_at": identity.created_at.isoformat(),
    }


def parse_status(value: str | None) -> IdentityStatus | None:
    """Return the status filter, or None for all.

    :raises InvalidInput: When it names no status.
    """
    if value is None or value == "":
        return None
    if value not in IdentityStatus.__members__:
        raise InvalidInput(f"status must be one of {', '.join(IdentityStatus)}")
    return IdentityStatus(value)


def list_identities(
    session: Session, *, status: IdentityStatus | None = None, offset: int = 0, limit: int = 50
) -> accounts.Page:
    """Return a page of identities by username, optionally only pending or linked ones."""
    conditions = [ProviderIdentity.status == status] if status is not None else []
    total = session.scalar(select(func.count(ProviderIdentity.id)).where(*conditions)) or 0
    items = list(
        session.scalars(
            select(ProviderIdentity)
            .where(*conditions)
            .order_by(ProviderIdentity.user_name_ci)
            .offset(offset)
            .limit(limit)
        )
    )
    return accounts.Page(items=items, total=total, offset=offset, limit=limit)


def get_identity(session: Session, identity_id: str) -> ProviderIdentity:
    """Return the identity with SCIM id ``identity_id``.

    :raises NotFound: When there is none.
    """
    identity = session.get(ProviderIdentity, identity_id)
    if identity is None:
        raise NotFound(f"no provider identity with id {identity_id}")
    return identity


def create_account_for(
    session: Session,
    identity: ProviderIdentity,
    *,
    actor: str,
    by: Account | None,
    role: Any = Role.read_only.value,
) -> Account:
    """An administrator creates the account of a pending identity and links it.

    :raises Conflict: When the identity is already linked or the username is taken.
    :raises Forbidden: When ``by`` may not give ``role``.
    """
    if identity.account_id is not None:
        raise Conflict("this provider identity already has an account")
    account = accounts.create_account(
        session,
        username=identity.user_name,
        actor=actor,
        by=by,
        email=identity.email,
        display_name=identity.display_name,
        role=role,
        created_by=CreatedBy.administrator,
        source=AccountSource.provider,
        link_pending=False,
    )
    accounts.link_identity(
        session, identity, account, actor=actor, reason="created by an administrator"
    )
    if not identity.active:
        accounts.disable_account(
            session, account, actor=actor, reason="deactivated at the provider"
        )
    return account


def link_to_account(
    session: Session,
    identity: ProviderIdentity,
    account: Account,
    *,
    actor: str,
    by: Account | None,
) -> None:
    """An administrator links a pending identity to an existing account.

    :raises Conflict: When either side is already linked.
    :raises Forbidden: When ``by`` may not manage ``account``.
    """
    accounts.check_may_manage(by, account)
    accounts.link_identity(
        session, identity, account, actor=actor, reason="linked by an administrator"
    )
