"""Decide a login: OIDC claims -> account (link / JIT / refuse), local passwords, rate limits.

The auth adapter verifies the protocol (state, nonce, signatures); this module holds the
portal's rules on what a verified identity or a password may do (DESIGN.md product
rules 2, 3 and 5). It never opens a session: the adapter does, only when a function
here returned an account.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import access
from portal_adapter import audit
from portal_adapter import integration
from portal_adapter import passwords
from portal_adapter import provisioning
from portal_adapter.errors import PortalError
from portal_adapter.models import Account
from portal_adapter.models import LoginAttempt
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import utcnow


class LoginRefused(PortalError):
    """A login was refused; ``reason`` says which page the adapter shows.

    Reasons: ``invalid_credentials`` (never says whether the username exists),
    ``sso_required``, ``unified_login_off``, ``pending`` (no account yet),
    ``disabled`` (account disabled or deactivated at the provider).
    """

    code = "login_refused"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


ASK_ADMINISTRATOR = (
    "Your sign-in worked, but you have no active UniView Portal account yet. "
    "Ask your administrator to create or enable it."
)


@dataclass(frozen=True)
class ProviderClaims:
    """What a verified OIDC login says about the person (ID token + userinfo)."""

    subject: str
    username: str | None
    email: str | None
    display_name: str | None
    groups: tuple[str, ...] | None
    """The groups claim; None when the claim was absent (absent changes nothing)."""


def claims_to_provider_claims(
    claims: dict[str, Any], *, username_claim: str, email_claim: str, groups_claim: str
) -> ProviderClaims:
    """Pick the configured claims out of a verified claim set (pure)."""
    raw_groups = claims.get(groups_claim)
    groups: tuple[str, ...] | None
    if raw_groups is None:
        groups = None
    elif isinstance(raw_groups, str):
        groups = (raw_groups,)
    else:
        groups = tuple(str(g) for g in raw_groups if isinstance(g, str | int))

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) and value else None

    return ProviderClaims(
        subject=str(claims["sub"]),
        username=text(username_claim),
        email=text(email_claim),
        display_name=text("name"),
        groups=groups,
    )


def decide_provider_login(session: Session, claims: ProviderClaims, *, actor: str) -> Account:
    """Return the account a verified provider identity signs in as.

    Links by subject (the provider identity whose externalId is the ``sub``, or the
    account that last held that subject); otherwise creates it just in time through
    :func:`portal_adapter.provisioning.provision_at_login` (rule 3). Refreshes the
    provider groups from the groups claim when it is present (rule 5).

    One issuer is configured per deployment, so the subject alone is the link key.

    :raises LoginRefused: When unified login is off, the identity is pending, or the
        account is disabled (reasons ``unified_login_off``, ``pending``, ``disabled``).
    """
    settings = integration.read_settings(session)
    if not settings.unified_login:
        _audit_refusal(session, claims.subject, "unified_login_off", actor=actor)
        raise LoginRefused("unified_login_off", "Log in with KaseyaOne is turned off.")
    account = provisioning.provision_at_login(
        session,
        subject=claims.subject,
        # Without a username claim, the email or the subject still names the person.
        username=claims.username or claims.email or claims.subject,
        email=claims.email,
        display_name=claims.display_name,
        actor=actor,
    )
    if account is None:
        _audit_refusal(session, claims.subject, "pending", actor=actor)
        raise LoginRefused("pending", ASK_ADMINISTRATOR)
    identity = session.scalar(
        select(ProviderIdentity).where(ProviderIdentity.account_id == account.id)
    )
    if not account.is_active or (identity is not None and not identity.active):
        _audit_refusal(session, claims.subject, "disabled", actor=actor)
        raise LoginRefused("disabled", ASK_ADMINISTRATOR)
    if claims.groups is not None:
        access.refresh_provider_groups(session, account, list(claims.groups), actor=actor)
    audit.record(
        session,
        actor=actor,
        action="login.success",
        target=f"account:{account.username}",
        after={"method": "oidc"},
    )
    session.flush()
    return account


def _audit_refusal(session: Session, subject: str, reason: str, *, actor: str) -> None:
    audit.record(
        session,
        actor=actor,
        action="login.refused",
        target=f"subject:{subject}",
        detail=reason,
        level="warning",
    )


def authenticate_local(
    session: Session, username: str, password: str, *, via_bypass: bool, actor: str
) -> Account:
    """Return the account a local username and password sign in as.

    The password is checked first (against a dummy hash for an unknown username, so
    timing tells nothing); only a right password learns about require SSO or a
    disabled account (rule 2).

    :raises LoginRefused: ``invalid_credentials``, ``sso_required`` or ``disabled``.
    """
    username_ci = username.strip().casefold()
    account = session.scalar(select(Account).where(Account.username_ci == username_ci))
    password_hash = account.password_hash if account is not None else None
    if not passwords.verify_password(password_hash, password) or account is None:
        audit.record(
            session,
            actor=actor,
            action="login.failed",
            target=f"username:{username_ci[:200]}",
            level="warning",
        )
        raise LoginRefused("invalid_credentials", "Wrong username or password.")
    if not integration.is_local_login_allowed(session, account, via_bypass=via_bypass):
        audit.record(
            session,
            actor=actor,
            action="login.refused",
            target=f"account:{account.username}",
            detail="sso_required",
            level="warning",
        )
        raise LoginRefused(
            "sso_required",
            "This account cannot log in with a password. Use Log in with KaseyaOne.",
        )
    if not account.is_active:
        _audit_refusal(session, account.username, "disabled", actor=actor)
        raise LoginRefused("disabled", "This account is disabled. Ask your administrator.")
    audit.record(
        session,
        actor=actor,
        action="login.bypass" if via_bypass else "login.success",
        target=f"account:{account.username}",
        after={"method": "bypass" if via_bypass else "local"},
    )
    session.flush()
    return account


def is_bypass_secret(session: Session, presented: str) -> bool:
    """Tell whether ``presented`` is the bypass link's secret (constant-time compare)."""
    secret = integration.get_settings(session).bypass_secret
    if not secret:
        return False
    return hmac.compare_digest(secret.encode(), presented.encode())


def retry_after(
    session: Session, keys: Sequence[str], *, limit: int, window: datetime.timedelta
) -> int | None:
    """Return the seconds to wait when any ``key`` has ``limit`` attempts in ``window``.

    None when every key is under its limit. A sliding window over rows: the wait ends
    when the oldest counted attempt leaves the window.
    """
    since = utcnow() - window
    worst: int | None = None
    for key in keys:
        count, oldest = session.execute(
            select(func.count(LoginAttempt.id), func.min(LoginAttempt.at)).where(
                LoginAttempt.key == key, LoginAttempt.at > since
            )
        ).one()
        if count >= limit and oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=datetime.UTC)
            wait = max(1, int((oldest + window - utcnow()).total_seconds()) + 1)
            worst = max(worst or 0, wait)
    return worst


def record_attempt(session: Session, keys: Sequence[str], *, window: datetime.timedelta) -> None:
    """Count one attempt against each key, and forget attempts older than the window."""
    now = utcnow()
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window))
    for key in keys:
        session.add(LoginAttempt(key=key[:320], at=now))
    session.flush()
