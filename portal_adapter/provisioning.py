"""Apply what the identity provider pushes (SCIM Users) or asserts at login to accounts.

DESIGN.md rules 3 and 4. The SCIM layer calls the ``on_identity_*`` hooks inside its
transaction, after it wrote the identity row (or before it deletes it); the login
decision calls :func:`provision_at_login`. The linking key is the identity's
``externalId`` (the OIDC ``sub``); username and email are profile data only, and an
email never links anything.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter import audit
from portal_adapter.errors import Conflict
from portal_adapter.integration import read_settings
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import CreatedBy
from portal_adapter.models import DeprovisionAction
from portal_adapter.models import IdentityStatus
from portal_adapter.models import ProviderIdentity

PROVIDER_DISABLED = "deactivated at the provider"
PROVIDER_DELETED = "deleted at the provider"
FLAG_DETAIL = "deactivated at the provider — action needed (automatic deprovisioning is off)"


def _target(identity: ProviderIdentity) -> str:
    return f"identity:{identity.user_name}"


def _account_of(session: Session, identity: ProviderIdentity) -> Account | None:
    return session.get(Account, identity.account_id) if identity.account_id is not None else None


def _former_account(session: Session, identity: ProviderIdentity) -> Account | None:
    """The unlinked account this identity's subject was linked to before, if any."""
    if not identity.external_id:
        return None
    candidate = session.scalar(
        select(Account).where(Account.provider_subject == identity.external_id)
    )
    if candidate is None or accounts.identity_of(session, candidate) is not None:
        return None
    return candidate


def _create_for(
    session: Session, identity: ProviderIdentity, *, actor: str, created_by: CreatedBy
) -> Account | None:
    """Create and link an account with the default role, or keep the identity pending
    when another person already holds the username (never link by a shared name)."""
    settings = read_settings(session)
    if accounts.find_by_username(session, identity.user_name) is not None:
        audit.record(
            session,
            actor=actor,
            action="identity.pending",
            target=_target(identity),
            detail="an account with this username exists; an administrator must link it",
            level="warning",
        )
        return None
    account = accounts.create_account(
        session,
        username=identity.user_name,
        actor=actor,
        email=identity.email,
        display_name=identity.display_name,
        role=settings.default_role.value,
        created_by=created_by,
        source=AccountSource.provider,
        link_pending=False,
    )
    accounts.link_identity(session, identity, account, actor=actor, reason="created for it")
    if not identity.active:
        account.status = AccountStatus.disabled
        account.disabled_reason = PROVIDER_DISABLED
    session.flush()
    return account


def on_identity_created(session: Session, identity: ProviderIdentity, *, actor: str) -> None:
    """A provider user was created: link its former account, create one, or keep it pending.

    With automatic creation on, a new account gets the default role. With it off, the
    identity stays pending (an administrator creates or links the account later).
    """
    if identity.account_id is not None:
        return
    former = _former_account(session, identity)
    if former is not None:
        # The same person (same externalId) came back after a delete under the
        # "disable" policy: relink the account they had, restored as on reactivation.
        accounts.link_identity(session, identity, former, actor=actor, reason="same externalId")
        if identity.active and former.disabled_reason in (PROVIDER_DISABLED, PROVIDER_DELETED):
            accounts.enable_account(session, former, actor=actor)
        return
    if read_settings(session).auto_create_users:
        _create_for(session, identity, actor=actor, created_by=CreatedBy.jit_scim)
        return
    audit.record(
        session,
        actor=actor,
        action="identity.pending",
        target=_target(identity),
        detail="automatic user creation is off; an administrator creates or links the account",
    )


def _sync_profile(
    session: Session, identity: ProviderIdentity, account: Account, *, actor: str
) -> None:
    """Copy username, email and display name from the identity (profile data, changed in place)."""
    before = accounts.summary(account)
    account.email = identity.email
    account.display_name = identity.display_name
    if identity.user_name_ci != account.username_ci:
        holder = accounts.find_by_username(session, identity.user_name)
        if holder is None:
            account.username = identity.user_name
            account.username_ci = identity.user_name_ci
        else:
            audit.record(
                session,
                actor=actor,
                action="account.rename_refused",
                target=f"account:{account.username}",
                detail=f"the username {identity.user_name!r} belongs to another account",
                level="warning",
            )
    after = accounts.summary(account)
    if after != before:
        audit.record(
            session,
            actor=actor,
            action="account.update",
            target=f"account:{account.username}",
            before=before,
            after=after,
        )


def deprovision(session: Session, account: Account, *, actor: str, deleted: bool) -> str:
    """Apply the deprovisioning policy to a provider-deactivated or deleted account.

    Return what happened: ``flagged``, ``disabled``, ``deleted`` or ``unchanged``.

    :raises Conflict: When the account is the last active superuser.
    """
    settings = read_settings(session)
    if not settings.auto_deprovision:
        if not account.deactivated_at_provider:
            account.deactivated_at_provider = True
            audit.record(
                session,
                actor=actor,
                action="account.flag",
                target=f"account:{account.username}",
                after={"deactivated_at_provider": True},
                detail=FLAG_DETAIL,
            )
        return "flagged"
    if accounts.is_last_active_superuser(session, account):
        raise Conflict(
            f"{account.username} is the last active superuser of the portal and is never "
            "deprovisioned by the provider; make another superuser first"
        )
    if deleted and settings.deprovision_action is DeprovisionAction.delete:
        if not account.owns_retained_data:
            accounts.delete_account(session, account, actor=actor, reason=PROVIDER_DELETED)
            return "deleted"
        reason = "deletion not possible (the account owns data the portal must keep): disabled"
        changed = accounts.disable_account(session, account, actor=actor, reason=PROVIDER_DELETED)
        audit.record(
            session,
            actor=actor,
            action="account.delete_refused",
            target=f"account:{account.username}",
            detail=reason,
            level="warning",
        )
        return "disabled" if changed else "unchanged"
    reason = PROVIDER_DELETED if deleted else PROVIDER_DISABLED
    changed = accounts.disable_account(session, account, actor=actor, reason=reason)
    return "disabled" if changed else "unchanged"


def on_identity_updated(
    session: Session, identity: ProviderIdentity, *, actor: str, was_active: bool
) -> None:
    """A provider user changed; ``identity.active`` against ``was_active`` tells a (re)activation.

    Deactivation disables the account and ends its sessions (or flags it when automatic
    deprovisioning is off); reactivation restores the same account with its role.

    :raises portal_adapter.errors.Conflict: When deactivating would disable the last superuser.
    """
    account = _account_of(session, identity)
    if account is None:
        if identity.active and read_settings(session).auto_create_users:
            on_identity_created(session, identity, actor=actor)
        return
    _sync_profile(session, identity, account, actor=actor)
    if was_active and not identity.active:
        deprovision(session, account, actor=actor, deleted=False)
    elif identity.active and not was_active:
        _reactivate(session, account, actor=actor)
    session.flush()


def _reactivate(session: Session, account: Account, *, actor: str) -> None:
    """Restore an account the provider had deactivated; one disabled by an administrator stays."""
    account.deactivated_at_provider = False
    if account.disabled_reason in (PROVIDER_DISABLED, PROVIDER_DELETED):
        accounts.enable_account(session, account, actor=actor)


def on_identity_deleted(session: Session, identity: ProviderIdentity, *, actor: str) -> None:
    """A provider user is about to be deleted: apply the deprovisioning policy.

    :raises portal_adapter.errors.Conflict: When it would remove the last superuser.
    """
    account = _account_of(session, identity)
    audit.record(
        session,
        actor=actor,
        action="identity.delete",
        target=_target(identity),
        before={
            "external_id": identity.external_id,
            "account": account.username if account else None,
        },
    )
    if account is None:
        return
    deprovision(session, account, actor=actor, deleted=True)
    # The identity row is deleted next; the account (if kept) stays findable by subject.
    identity.account_id = None
    session.flush()


def provision_at_login(
    session: Session,
    *,
    subject: str,
    username: str,
    email: str | None,
    display_name: str | None,
    actor: str,
) -> Account | None:
    """Return the account for a provider login, creating it just in time if allowed.

    Looks up the identity by ``subject`` (the linking key), then an account formerly
    linked to it. Without either: with automatic creation on, an account is created
    (``created_by=jit_login``); with it off, a pending identity is kept and None is
    returned. A disabled account is returned as is (the caller checks ``is_active``).
    """
    identity = session.scalar(
        select(ProviderIdentity).where(ProviderIdentity.external_id == subject)
    )
    if identity is not None:
        account = _account_of(session, identity)
        if account is not None:
            return account
        former = _former_account(session, identity)
        if former is not None:
            accounts.link_identity(session, identity, former, actor=actor, reason="same subject")
            return former
        if not read_settings(session).auto_create_users:
            return None
        return _create_for(session, identity, actor=actor, created_by=CreatedBy.jit_login)
    former = session.scalar(select(Account).where(Account.provider_subject == subject))
    if former is not None:
        return former
    identity = _pending_identity(
        session,
        subject=subject,
        username=username,
        email=email,
        display_name=display_name,
        actor=actor,
    )
    if identity is None or not read_settings(session).auto_create_users:
        return None
    return _create_for(session, identity, actor=actor, created_by=CreatedBy.jit_login)


def _pending_identity(
    session: Session,
    *,
    subject: str,
    username: str,
    email: str | None,
    display_name: str | None,
    actor: str,
) -> ProviderIdentity | None:
    """Record a person seen only at login as a pending identity (None if the username is
    held by another identity: two subjects never share one)."""
    username_ci = username.casefold()
    taken = session.scalar(
        select(ProviderIdentity).where(ProviderIdentity.user_name_ci == username_ci)
    )
    if taken is not None:
        audit.record(
            session,
            actor=actor,
            action="login.refused",
            target=f"identity:{username}",
            detail="another provider identity holds this username",
            level="warning",
        )
        return None
    payload: dict[str, object] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": username,
        "externalId": subject,
        "active": True,
    }
    if display_name:
        payload["displayName"] = display_name
    if email:
        payload["emails"] = [{"value": email, "primary": True}]
    identity = ProviderIdentity(
        external_id=subject,
        user_name=username,
        user_name_ci=username_ci,
        display_name=display_name,
        email=email,
        active=True,
        status=IdentityStatus.pending,
        payload=payload,
    )
    session.add(identity)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="identity.pending",
        target=f"identity:{username}",
        detail="seen at login",
    )
    return identity
