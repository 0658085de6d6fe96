"""Reset the integration (DESIGN.md rule 6): export who is affected, then remove it all.

The reset removes the settings, every provider identity (user mapping), every provider
group, revokes the provider's SCIM tokens, deletes the accounts that exist only because
of the integration (no local password) and unlinks the accounts that can still log in
locally. It runs in the caller's single transaction: all of it happens or none.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter import audit
from portal_adapter import settings_sync
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.integration import get_settings
from portal_adapter.integration import read_settings
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import DeprovisionAction
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import LoginSession
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.models import ScimIndexEntry
from portal_adapter.models import ScimToken
from portal_adapter.models import utcnow

CHUNK = 500
"""Ids per statement in bulk steps: well under every database's bound-parameter limit."""
DELETE = "delete"
UNLINK = "unlink"
DISABLE_AND_UNLINK = "disable and unlink"
EXPORT_FIELDS = (
    "username",
    "email",
    "role",
    "status",
    "groups",
    "last_login_at",
    "has_local_password",
    "reset_action",
)


@dataclass(frozen=True)
class AffectedAccount:
    """One account linked to the provider and what a reset will do to it."""

    account_id: int
    username: str
    email: str | None
    role: str
    status: str
    groups: tuple[str, ...]
    last_login_at: str | None
    has_local_password: bool
    reset_action: str

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (without the internal id)."""
        data = asdict(self)
        data.pop("account_id")
        data["groups"] = list(self.groups)
        return data


@dataclass(frozen=True)
class ResetOutcome:
    """What the reset did."""

    deleted: list[str]
    unlinked: list[str]
    disabled: list[str]
    identities_removed: int
    groups_removed: int
    tokens_revoked: int


def _action_for(account: Account) -> str:
    if account.has_local_password:
        return UNLINK
    if account.owns_retained_data:
        return DISABLE_AND_UNLINK
    return DELETE


def affected_accounts(session: Session) -> list[AffectedAccount]:
    """Every account linked to the provider, with what a reset will do to it, by username."""
    linked_ids = select(ProviderIdentity.account_id).where(ProviderIdentity.account_id.is_not(None))
    rows = list(
        session.scalars(
            select(Account)
            .where(
                or_(
                    Account.id.in_(linked_ids),
                    Account.provider_subject.is_not(None),
                    Account.source == AccountSource.provider,
                )
            )
            .order_by(Account.username_ci)
        )
    )
    groups = _group_names(session, [a.id for a in rows])
    return [
        AffectedAccount(
            account_id=a.id,
            username=a.username,
            email=a.email,
            role=Role(a.role).value,
            status=AccountStatus(a.status).value,
            groups=tuple(sorted(groups.get(a.id, ()))),
            last_login_at=a.last_login_at.isoformat() if a.last_login_at else None,
            has_local_password=a.has_local_password,
            reset_action=_action_for(a),
        )
        for a in rows
    ]


def _group_names(session: Session, account_ids: list[int]) -> dict[int, set[str]]:
    """Group names per account: manual memberships and provider ones through the identity."""
    names: dict[int, set[str]] = defaultdict(set)
    if not account_ids:
        return names
    wanted = set(account_ids)
    # Joins over every membership rather than an IN list of ids: a large tenant's list
    # would pass the database's bound-parameter limit (65535 on PostgreSQL).
    manual = session.execute(
        select(GroupMembership.account_id, Group.display_name)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(GroupMembership.account_id.is_not(None))
    )
    provider = session.execute(
        select(ProviderIdentity.account_id, Group.display_name)
        .join(GroupMembership, GroupMembership.identity_id == ProviderIdentity.id)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(ProviderIdentity.account_id.is_not(None))
    )
    for account_id, name in [*manual, *provider]:
        if account_id in wanted:
            names[account_id].add(name)
    return names


def affected_to_csv(rows: list[AffectedAccount]) -> str:
    """Render the export as CSV (groups joined with ``;``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        data = row.as_dict()
        data["groups"] = ";".join(row.groups)
        writer.writerow([_csv_safe(data[field]) for field in EXPORT_FIELDS])
    return buffer.getvalue()


def _csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in provider-controlled text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def reset_integration(session: Session, *, actor: str, confirm: Any) -> ResetOutcome:
    """Remove the integration and every user mapping; ``confirm`` must be its name.

    :raises InvalidInput: When ``confirm`` is not the integration's name.
    :raises Conflict: When no superuser able to log in locally would remain.
    """
    settings = get_settings(session)
    if not isinstance(confirm, str) or confirm.strip().casefold() != settings.name.casefold():
        raise InvalidInput(f"to confirm the reset, send confirm={settings.name!r}")
    rows = affected_accounts(session)
    by_id = {row.account_id: row for row in rows}
    remaining_superusers = [
        a
        for a in session.scalars(
            select(Account).where(
                Account.role == Role.superuser, Account.status == AccountStatus.active
            )
        )
        if a.id not in by_id or by_id[a.id].reset_action == UNLINK
    ]
    if not remaining_superusers:
        raise Conflict(
            "the reset would leave no superuser able to log in: give a superuser a local "
            "password first"
        )
    audit.record(
        session,
        actor=actor,
        action="integration.reset",
        target="integration:settings",
        before={"accounts": len(rows)},
        detail="started",
    )
    deleted: list[str] = []
    unlinked: list[str] = []
    disabled: list[str] = []
    identities_removed = session.scalar(select(func.count(ProviderIdentity.id))) or 0
    session.execute(update(ProviderIdentity).values(account_id=None))
    doomed = [row for row in rows if row.reset_action == DELETE]
    _delete_accounts(session, doomed, actor=actor)
    deleted.extend(row.username for row in doomed)
    for row in rows:
        if row.reset_action == DELETE:
            continue
        account = session.get(Account, row.account_id)
        if account is None:
            continue
        if row.reset_action == DISABLE_AND_UNLINK:
            accounts.disable_account(session, account, actor=actor, reason="integration reset")
            disabled.append(row.username)
        account.provider_subject = None
        account.source = AccountSource.local
        account.deactivated_at_provider = False
        audit.record(
            session,
            actor=actor,
            action="account.unlink",
            target=f"account:{row.username}",
            detail="integration reset: kept, can still log in locally"
            if row.reset_action == UNLINK
            else "integration reset: kept disabled (owns data the portal must keep)",
        )
        unlinked.append(row.username)
    # Subqueries, not id lists: see _group_names.
    provider_groups = select(Group.id).where(Group.source == GroupSource.provider)
    groups_removed = (
        session.scalar(select(func.count()).select_from(provider_groups.subquery())) or 0
    )
    session.execute(
        delete(GroupMembership).where(
            or_(
                GroupMembership.identity_id.is_not(None),
                GroupMembership.group_id.in_(provider_groups),
            )
        )
    )
    session.execute(
        delete(ScimIndexEntry).where(
            or_(
                ScimIndexEntry.resource_id.in_(select(ProviderIdentity.id)),
                ScimIndexEntry.resource_id.in_(provider_groups),
            )
        )
    )
    session.execute(delete(Group).where(Group.source == GroupSource.provider))
    session.execute(delete(ProviderIdentity))
    tokens = list(session.scalars(select(ScimToken).where(ScimToken.revoked_at.is_(None))))
    for token in tokens:
        token.revoked_at = utcnow()
    _clear_settings(session)
    session.expire_all()
    outcome = ResetOutcome(
        deleted=deleted,
        unlinked=unlinked,
        disabled=disabled,
        identities_removed=identities_removed,
        groups_removed=groups_removed,
        tokens_revoked=len(tokens),
    )
    audit.record(
        session,
        actor=actor,
        action="integration.reset",
        target="integration:settings",
        after={
            "deleted": len(deleted),
            "unlinked": len(unlinked),
            "disabled": len(disabled),
            "identities_removed": outcome.identities_removed,
            "groups_removed": outcome.groups_removed,
            "tokens_revoked": outcome.tokens_revoked,
        },
        detail="completed",
    )
    session.flush()
    return outcome


def _delete_accounts(session: Session, rows: list[AffectedAccount], *, actor: str) -> None:
    """Delete integration-only accounts in bulk, one audit event each.

    The per-account path (``accounts.delete_account``) checks the last superuser and
    the linked identity one account at a time; here the caller already made sure a
    superuser remains and unlinked every identity, so statements go by chunks.
    """
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        ids = [row.account_id for row in chunk]
        session.execute(
            update(LoginSession)
            .where(LoginSession.account_id.in_(ids), LoginSession.ended_at.is_(None))
            .values(ended_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        for row in chunk:
            audit.record(
                session,
                actor=actor,
                action="account.delete",
                target=f"account:{row.username}",
                before={"username": row.username, "email": row.email, "role": row.role},
                detail="integration reset: existed only because of the integration",
            )
        session.flush()
        # No in-memory sync: matching 20k loaded accounts per chunk is quadratic, and
        # the session is expired once the reset is done anyway.
        session.execute(
            delete(Account).where(Account.id.in_(ids)),
            execution_options={"synchronize_session": False},
        )


def _clear_settings(session: Session) -> None:
    """Back to a removed integration: everything off, no bypass link, nothing to push."""
    row = get_settings(session)
    row.installed = False
    row.unified_login = False
    row.require_sso = False
    row.sso_exceptions = []
    row.auto_create_users = False
    row.default_role = Role.read_only
    row.auto_deprovision = False
    row.deprovision_action = DeprovisionAction.disable
    row.access_groups = False
    row.bypass_secret = None
    row.revision += 1
    row.updated_at = utcnow()
    settings_sync.supersede_pending(session, row)
    # The provider learns that the integration is gone (it removes the module on its side).
    session.flush()
    settings_sync.enqueue(session, row, {**read_settings(session).as_dict(), "installed": False})
