"""Portal accounts: create, update, disable, enable, list, and who may do which.

Role rules (docs/roles.md): only a superuser changes roles or manages superuser
accounts; administrators manage every other account; lower roles manage none. The
last active superuser is never disabled, demoted or deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter import sessions
from portal_adapter.errors import Conflict
from portal_adapter.errors import Forbidden
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import CreatedBy
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.passwords import check_strength
from portal_adapter.passwords import hash_password

USERNAME_RE = re.compile(r"^(?=\S)[^\x00-\x1f\x7f]{1,255}(?<=\S)$")
EMAIL_RE = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,118}$")
UPDATABLE = frozenset(
    {"email", "display_name", "role", "password", "status", "owns_retained_data", "flag"}
)


@dataclass(frozen=True)
class Page:
    """One page of a listing."""

    items: list[Any]
    total: int
    offset: int
    limit: int


def actor_of(account: Account) -> str:
    """The audit actor string of an account."""
    return f"account:{account.username}"


def summary(account: Account) -> dict[str, Any]:
    """A short audit summary of an account (never its password hash)."""
    return {
        "username": account.username,
        "email": account.email,
        "role": Role(account.role).value,
        "status": AccountStatus(account.status).value,
    }


def account_to_dict(
    account: Account, *, identity: ProviderIdentity | None = None
) -> dict[str, Any]:
    """Return the JSON view of an account (``identity`` is its provider link, if any)."""
    return {
        "id": account.id,
        "username": account.username,
        "email": account.email,
        "display_name": account.display_name,
        "role": Role(account.role).value,
        "status": AccountStatus(account.status).value,
        "source": AccountSource(account.source).value,
        "created_by": CreatedBy(account.created_by).value,
        "has_local_password": account.has_local_password,
        "deactivated_at_provider": account.deactivated_at_provider,
        "action_needed": (
            "deactivated at the provider — action needed"
            if account.deactivated_at_provider
            else None
        ),
        "disabled_reason": account.disabled_reason,
        "owns_retained_data": account.owns_retained_data,
        "linked_identity_id": identity.id if identity is not None else None,
        "provider_subject": account.provider_subject,
        "created_at": account.created_at.isoformat(),
        "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
    }


def get_account(session: Session, account_id: int) -> Account:
    """Return the account with ``account_id``.

    :raises NotFound: When there is none.
    """
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}")
    return account


def find_by_username(session: Session, username: str) -> Account | None:
    """Return the account named ``username`` (case-insensitively), or None."""
    return session.scalar(select(Account).where(Account.username_ci == username.casefold()))


def identity_of(session: Session, account: Account) -> ProviderIdentity | None:
    """Return the provider identity linked to ``account``, or None."""
    return session.scalar(select(ProviderIdentity).where(ProviderIdentity.account_id == account.id))


def identities_of(session: Session, page: list[Account]) -> dict[int, ProviderIdentity]:
    """The provider identities linked to a page of accounts, by account id (one query)."""
    ids = [account.id for account in page]
    if not ids:
        return {}
    rows = session.scalars(select(ProviderIdentity).where(ProviderIdentity.account_id.in_(ids)))
    return {row.account_id: row for row in rows if row.account_id is not None}


def with_local_password(session: Session) -> list[Account]:
    """Return the accounts that have a local password (who a require-SSO exception helps)."""
    return list(
        session.scalars(
            select(Account).where(Account.password_hash.is_not(None)).order_by(Account.username_ci)
        )
    )


def list_accounts(
    session: Session,
    *,
    query: str | None = None,
    role: Role | None = None,
    status: AccountStatus | None = None,
    flagged: bool | None = None,
    source: AccountSource | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Return a page of accounts ordered by username, with the total matching count."""
    conditions = []
    if query:
        pattern = f"%{query.casefold()}%"
        conditions.append(
            or_(Account.username_ci.like(pattern), func.lower(Account.email).like(pattern))
        )
    if role is not None:
        conditions.append(Account.role == role)
    if status is not None:
        conditions.append(Account.status == status)
    if flagged is not None:
        conditions.append(Account.deactivated_at_provider.is_(flagged))
    if source is not None:
        conditions.append(Account.source == source)
    total = session.scalar(select(func.count(Account.id)).where(*conditions)) or 0
    items = list(
        session.scalars(
            select(Account)
            .where(*conditions)
            .order_by(Account.username_ci)
            .offset(offset)
            .limit(limit)
        )
    )
    return Page(items=items, total=total, offset=offset, limit=limit)


def check_may_manage(actor: Account | None, target: Account | None) -> None:
    """Refuse unless ``actor`` may manage ``target`` (None actor: the CLI, always allowed).

    :raises Forbidden: When the actor's role is too low for the target.
    """
    if actor is None:
        return
    if not Role(actor.role).at_least(Role.administrator):
        raise Forbidden("managing accounts needs the administrator role")
    if target is not None and target.role is Role.superuser and actor.role is not Role.superuser:
        raise Forbidden("only a superuser manages superuser accounts")


def may_change_roles(by: Account | None) -> bool:
    """Tell whether ``by`` may give or change roles: a superuser, or the CLI (None)."""
    return by is None or by.role is Role.superuser


def is_last_active_superuser(session: Session, account: Account) -> bool:
    """Tell whether ``account`` is the only active superuser."""
    if account.role is not Role.superuser or not account.is_active:
        return False
    others = session.scalar(
        select(func.count(Account.id)).where(
            Account.role == Role.superuser,
            Account.status == AccountStatus.active,
            Account.id != account.id,
        )
    )
    return not others


def _check_username(username: Any) -> str:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "username must be 1-255 characters, no control characters, no outer spaces"
        )
    return username


def _check_email(email: Any) -> str | None:
    if email is None:
        return None
    if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
        raise InvalidInput("email must look like name@domain")
    return email


def _check_text(name: str, value: Any, *, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name} must be a string of at most {limit} characters")
    return value


def parse_role(value: Any) -> Role:
    """Return ``value`` as a Role.

    :raises InvalidInput: When it names no role.
    """
    if not isinstance(value, str) or value not in Role.__members__:
        raise InvalidInput(f"role must be one of {', '.join(Role)}")
    return Role(value)


def create_account(
    session: Session,
    *,
    username: Any,
    actor: str,
    by: Account | None = None,
    email: Any = None,
    display_name: Any = None,
    role: Any = Role.read_only.value,
    password: Any = None,
    created_by: CreatedBy = CreatedBy.administrator,
    source: AccountSource = AccountSource.local,
    link_pending: bool = True,
) -> Account:
    """Create an account; a pending provider identity with the same username links to it.

    ``by`` is the signed-in account doing it (None from the CLI). Only a superuser
    gives a role other than ``read_only``.

    :raises InvalidInput: When a value has the wrong type or the password is weak.
    :raises Forbidden: When ``by`` may not give that role.
    :raises Conflict: When the username is taken.
    """
    username = _check_username(username)
    parsed_role = parse_role(role)
    check_may_manage(by, None)
    if parsed_role is not Role.read_only and not may_change_roles(by):
        raise Forbidden("only a superuser gives a role other than read_only")
    if password is not None:
        if not isinstance(password, str):
            raise InvalidInput("password must be a string")
        check_strength(password, username=username)
    if find_by_username(session, username) is not None:
        raise Conflict(f"the username {username!r} is taken")
    account = Account(
        username=username,
        username_ci=username.casefold(),
        email=_check_email(email),
        display_name=_check_text("display_name", display_name),
        role=parsed_role,
        source=source,
        created_by=created_by,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="account.create",
        target=f"account:{username}",
        after={**summary(account), "created_by": created_by.value},
    )
    if not link_pending:
        return account
    pending = session.scalar(
        select(ProviderIdentity).where(
            ProviderIdentity.user_name_ci == account.username_ci,
            ProviderIdentity.account_id.is_(None),
        )
    )
    if pending is not None:
        link_identity(session, pending, account, actor=actor, reason="same username")
    return account


def link_identity(
    session: Session, identity: ProviderIdentity, account: Account, *, actor: str, reason: str
) -> None:
    """Link a provider identity to an account (the externalId becomes the login key).

    :raises Conflict: When either side is already linked elsewhere.
    """
    if identity.account_id is not None and identity.account_id != account.id:
        raise Conflict("this provider identity is already linked to another account")
    other = identity_of(session, account)
    if other is not None and other.id != identity.id:
        raise Conflict(f"the account {account.username!r} is already linked to another identity")
    identity.account_id = account.id
    identity.status = IdentityStatus.linked
    account.provider_subject = identity.external_id
    account.deactivated_at_provider = False
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="identity.link",
        target=f"account:{account.username}",
        after={"identity": identity.id, "external_id": identity.external_id},
        detail=reason,
    )


def update_account(
    session: Session,
    account: Account,
    changes: Mapping[str, Any],
    *,
    actor: str,
    by: Account | None,
) -> Account:
    """Change an account's profile, role, password, status or flag, all or nothing.

    :raises InvalidInput: When a field is unknown or has the wrong type.
    :raises Forbidden: When ``by`` may not make the change.
    :raises Conflict: When it would disable or demote the last active superuser.
    """
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    check_may_manage(by, account)
    before = summary(account)
    values: dict[str, Any] = {}
    if "email" in changes:
        values["email"] = _check_email(changes["email"])
    if "display_name" in changes:
        values["display_name"] = _check_text("display_name", changes["display_name"])
    if "owns_retained_data" in changes:
        if not isinstance(changes["owns_retained_data"], bool):
            raise InvalidInput("owns_retained_data must be true or false")
        values["owns_retained_data"] = changes["owns_retained_data"]
    if "flag" in changes and changes["flag"] is not False:
        raise InvalidInput("flag can only be cleared (false)")
    new_role = parse_role(changes["role"]) if "role" in changes else None
    if new_role is not None and new_role is not account.role:
        if not may_change_roles(by):
            raise Forbidden("only a superuser changes roles")
        if is_last_active_superuser(session, account):
            raise Conflict("the last active superuser cannot be demoted")
    status = changes.get("status")
    if status is not None and status not in ("active", "disabled"):
        raise InvalidInput("status must be active or disabled")
    password = changes.get("password")
    if "password" in changes:
        if password is not None and not isinstance(password, str):
            raise InvalidInput("password must be a string or null")
        if password is not None:
            check_strength(password, username=account.username)
    for key, value in values.items():
        setattr(account, key, value)
    if new_role is not None:
        account.role = new_role
    if "password" in changes:
        account.password_hash = hash_password(password) if password is not None else None
    if "flag" in changes:
        account.deactivated_at_provider = False
    audit.record(
        session,
        actor=actor,
        action="account.update",
        target=f"account:{account.username}",
        before=before,
        after={
            **summary(account),
            **({"password_changed": True} if "password" in changes else {}),
        },
    )
    if status == "disabled":
        disable_account(session, account, actor=actor, reason="disabled by an administrator")
    elif status == "active":
        enable_account(session, account, actor=actor)
    session.flush()
    return account


def disable_account(
    session: Session, account: Account, *, actor: str, reason: str, by: Account | None = None
) -> bool:
    """Disable an account and end its sessions at once; return whether it changed.

    ``by`` is the signed-in account doing it (None for the CLI and the provider).

    :raises Forbidden: When ``by`` may not manage the account.
    :raises Conflict: When it is the last active superuser.
    """
    check_may_manage(by, account)
    if not account.is_active:
        return False
    if is_last_active_superuser(session, account):
        raise Conflict("the last active superuser cannot be disabled")
    account.status = AccountStatus.disabled
    account.disabled_reason = reason[:255]
    ended = sessions.end_sessions_of(session, account.id)
    audit.record(
        session,
        actor=actor,
        action="account.disable",
        target=f"account:{account.username}",
        before={"status": "active"},
        after={"status": "disabled", "sessions_ended": ended},
        detail=reason,
    )
    session.flush()
    return True


def enable_account(
    session: Session, account: Account, *, actor: str, by: Account | None = None
) -> bool:
    """Enable a disabled account; return whether it changed.

    :raises Forbidden: When ``by`` may not manage the account.
    """
    check_may_manage(by, account)
    if account.is_active:
        return False
    account.status = AccountStatus.active
    account.disabled_reason = None
    audit.record(
        session,
        actor=actor,
        action="account.enable",
        target=f"account:{account.username}",
        before={"status": "disabled"},
        after={"status": "active"},
    )
    session.flush()
    return True


def end_sessions(session: Session, account: Account, *, actor: str, by: Account | None) -> int:
    """End every live session of the account at once (it must sign in again); return how many.

    :raises Forbidden: When ``by`` may not manage the account.
    """
    check_may_manage(by, account)
    ended = sessions.end_sessions_of(session, account.id)
    audit.record(
        session,
        actor=actor,
        action="account.sessions_end",
        target=f"account:{account.username}",
        after={"sessions_ended": ended},
    )
    session.flush()
    return ended


def delete_account(session: Session, account: Account, *, actor: str, reason: str) -> None:
    """Delete an account (its sessions and memberships go with it); unlink its identity first.

    :raises Conflict: When it is the last active superuser or owns retained data.
    """
    if is_last_active_superuser(session, account):
        raise Conflict("the last active superuser cannot be deleted")
    if account.owns_retained_data:
        raise Conflict("the account owns data the portal must keep; disable it instead")
    identity = identity_of(session, account)
    if identity is not None:
        identity.account_id = None
        identity.status = IdentityStatus.pending
    sessions.end_sessions_of(session, account.id)
    audit.record(
        session,
        actor=actor,
        action="account.delete",
        target=f"account:{account.username}",
        before=summary(account),
        detail=reason,
    )
    session.delete(account)
    session.flush()
