"""Builders shared by the portal-adapter tests (domain and API); this module holds no test."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AuditEvent
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.passwords import hash_password

STRONG = "correct horse battery staple"


def add_account(
    session: Session,
    username: str,
    *,
    role: Role = Role.read_only,
    password: str | None = None,
    **values: Any,
) -> Account:
    """Add an account and flush it (``password`` is hashed)."""
    account = Account(
        username=username,
        username_ci=username.casefold(),
        email=f"{username}@example.com",
        role=role,
        source=values.pop("source", AccountSource.local),
        password_hash=hash_password(password) if password else None,
        **values,
    )
    session.add(account)
    session.flush()
    return account


def add_identity(
    session: Session,
    user_name: str,
    *,
    external_id: str | None = None,
    active: bool = True,
    account: Account | None = None,
) -> ProviderIdentity:
    """Add a provider identity as the SCIM layer would (the row only; no hook runs)."""
    identity = ProviderIdentity(
        user_name=user_name,
        user_name_ci=user_name.casefold(),
        external_id=external_id or f"sub-{user_name}",
        email=f"{user_name}@example.com",
        display_name=user_name.title(),
        active=active,
        account_id=account.id if account else None,
        status=IdentityStatus.linked if account else IdentityStatus.pending,
        payload={"userName": user_name},
    )
    session.add(identity)
    session.flush()
    if account is not None:
        account.provider_subject = identity.external_id
    return identity


def configure(session: Session, **changes: Any) -> None:
    """Turn unified login on and apply ``changes`` through the domain's rules."""
    integration.update_settings(session, {"unified_login": True, **changes}, actor="test")


def actions(session: Session) -> list[str]:
    """Every audited action so far, oldest first."""
    from sqlalchemy import select

    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
