"""Admin API tokens: issue (shown once), verify, list, revoke; bound to one account."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter.errors import Conflict
from portal_adapter.errors import NotFound
from portal_adapter.models import Account
from portal_adapter.models import AdminApiToken
from portal_adapter.models import utcnow
from portal_adapter.tokens import check_token_name
from portal_adapter.tokens import hash_token

TOKEN_PREFIX = "uvapi_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class IssuedApiToken:
    """A fresh token: ``secret`` is shown once and never stored."""

    token: AdminApiToken
    secret: str


def token_to_dict(token: AdminApiToken) -> dict[str, Any]:
    """Return the JSON view of a token (never its hash)."""
    return {
        "id": token.id,
        "name": token.name,
        "account_id": token.account_id,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


def issue_api_token(session: Session, account: Account, *, name: Any, actor: str) -> IssuedApiToken:
    """Create a token acting as ``account``; return its secret (the only time it exists).

    :raises InvalidInput: When the name is empty or too long.
    :raises Conflict: When the account has a token of that name.
    """
    name = check_token_name(name)
    exists = session.scalar(
        select(AdminApiToken).where(
            AdminApiToken.account_id == account.id, AdminApiToken.name == name
        )
    )
    if exists is not None:
        raise Conflict(f"a token named {name!r} already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AdminApiToken(
        account_id=account.id, name=name, token_hash=hash_token(secret), prefix=secret[:12]
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_token.create",
        target=f"account:{account.username}",
        after={"name": name, "prefix": token.prefix},
    )
    return IssuedApiToken(token=token, secret=secret)


def verify_api_token(session: Session, presented: str) -> tuple[AdminApiToken, Account] | None:
    """Return the live token and its active account for ``presented``, or None."""
    digest = hash_token(presented)
    token = session.scalar(select(AdminApiToken).where(AdminApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        return None
    now = utcnow()
    # Writing on every call would turn every read into a write; a minute is precise enough.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return token, account


def list_api_tokens(session: Session, account: Account | None = None) -> list[AdminApiToken]:
    """Return the tokens of ``account`` (every token when None), newest first."""
    query = select(AdminApiToken).order_by(AdminApiToken.id.desc())
    if account is not None:
        query = query.where(AdminApiToken.account_id == account.id)
    return list(session.scalars(query))


def revoke_api_token(session: Session, token_id: int, *, owner: Account | None, actor: str) -> bool:
    """Revoke a token (of ``owner`` only, unless None); return False if already revoked.

    :raises NotFound: When there is no such token (or it belongs to someone else).
    """
    token = session.get(AdminApiToken, token_id)
    if token is None or (owner is not None and token.account_id != owner.id):
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record(session, actor=actor, action="api_token.revoke", target=f"api_token:{token.name}")
    return True
