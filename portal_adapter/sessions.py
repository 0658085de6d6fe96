"""Browser sessions as rows: opened at login, checked on every request, ended at once."""

from __future__ import annotations

import datetime
import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session

from portal_adapter.models import Account
from portal_adapter.models import LoginSession
from portal_adapter.models import utcnow


def open_session(
    session: Session, account: Account, *, method: str, id_token_hint: str | None = None
) -> LoginSession:
    """Open a new login session for ``account`` (a fresh random id: rotation at login)."""
    login_session = LoginSession(
        id=secrets.token_urlsafe(32),
        account_id=account.id,
        method=method,
        id_token_hint=id_token_hint,
    )
    session.add(login_session)
    account.last_login_at = utcnow()
    session.flush()
    return login_session


def resolve_session(
    session: Session,
    session_id: str,
    *,
    absolute_lifetime: datetime.timedelta,
    idle_lifetime: datetime.timedelta,
) -> tuple[LoginSession, Account] | None:
    """Return the live session and its active account, or None (ended, expired, disabled).

    An expired session is ended on the way, so it never comes back.
    """
    login_session = session.get(LoginSession, session_id)
    if login_session is None or login_session.ended_at is not None:
        return None
    now = utcnow()
    expired = (
        now - login_session.created_at > absolute_lifetime
        or now - login_session.last_seen_at > idle_lifetime
    )
    account = session.get(Account, login_session.account_id)
    if expired or account is None or not account.is_active:
        login_session.ended_at = now
        return None
    # Writing last_seen on every request would make every read a write; a minute is enough.
    if (now - login_session.last_seen_at).total_seconds() > 60:
        login_session.last_seen_at = now
    return login_session, account


def end_session(session: Session, session_id: str) -> None:
    """End one session (logout)."""
    login_session = session.get(LoginSession, session_id)
    if login_session is not None and login_session.ended_at is None:
        login_session.ended_at = utcnow()


def end_sessions_of(session: Session, account_id: int) -> int:
    """End every live session of an account at once; return how many were ended."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
