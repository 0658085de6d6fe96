"""SCIM bearer tokens: issue (shown once), verify in constant time, list, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.models import ScimToken
from portal_adapter.models import utcnow

TOKEN_PREFIX = "uvscim_"  # noqa: S105 - a public prefix, not a secret
MAX_NAME_LENGTH = 128
"""Token names are stored in a 128-character column (SCIM and admin API tokens alike)."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: ``secret`` is shown once and never stored."""

    token: ScimToken
    secret: str


def hash_token(secret: str) -> str:
    """Return the SHA-256 hex digest a token is stored and looked up by.

    A fast hash is right here: the token has 256 bits of entropy, so no slow KDF
    is needed against guessing, and lookups stay O(1) per request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def check_token_name(name: object) -> str:
    """Return ``name`` when it can name a token (SCIM or admin API).

    :raises InvalidInput: When it is not a non-empty string of at most 128 characters.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"name must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
        )
    return name


def issue_token(session: Session, *, name: str, actor: str) -> IssuedToken:
    """Create a token named ``name`` and return its secret (the only time it exists).

    :raises InvalidInput: When the name is empty or too long.
    :raises Conflict: When a token of that name already exists.
    """
    name = check_token_name(name)
    if session.scalar(select(ScimToken).where(ScimToken.name == name)) is not None:
        raise Conflict(f"a token named {name!r} already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(name=name, token_hash=hash_token(secret), prefix=secret[:12])
    session.add(token)
    session.flush()
    audit.record(session, actor=actor, action="token.create", target=f"token:{name}")
    return IssuedToken(token=token, secret=secret)


def verify_token(session: Session, presented: str) -> ScimToken | None:
    """Return the live token matching ``presented``, or None.

    The row is found by its hash (an index lookup), then the digests are compared
    with ``hmac.compare_digest`` so the final check does not leak timing.
    """
    digest = hash_token(presented)
    token = session.scalar(select(ScimToken).where(ScimToken.token_hash == digest))
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


def touch_token(token: ScimToken, *, min_interval_seconds: int = 60) -> bool:
    """Update the token's last-used time, at most once a minute (to spare writes)."""
    now = utcnow()
    last = token.last_used_at
    if last is not None and (now - last).total_seconds() < min_interval_seconds:
        return False
    token.last_used_at = now
    return True


def list_tokens(session: Session) -> list[ScimToken]:
    """Return every token, newest first."""
    return list(session.scalars(select(ScimToken).order_by(ScimToken.id.desc())))


def revoke_token(session: Session, *, name: str, actor: str) -> bool:
    """Revoke the token named ``name``; return False if it was already revoked.

    :raises NotFound: When no token has that name.
    """
    token = session.scalar(select(ScimToken).where(ScimToken.name == name))
    if token is None:
        raise NotFound(f"no token named {name!r}")
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record(session, actor=actor, action="token.revoke", target=f"token:{name}")
    return True
