"""Provisioning policy (DESIGN.md rules 3 and 4), one test per rule, without HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import accounts
from portal_adapter import identities
from portal_adapter import provisioning
from portal_adapter import sessions
from portal_adapter.errors import Conflict
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import AuditEvent
from portal_adapter.models import CreatedBy
from portal_adapter.models import IdentityStatus
from portal_adapter.models import LoginSession
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from tests.portal_adapter.test_provisioning_builders import STRONG
from tests.portal_adapter.test_provisioning_builders import actions
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity
from tests.portal_adapter.test_provisioning_builders import configure

ACTOR = "scim:test-provider"


def created(session: Session, user_name: str, **kwargs: object) -> ProviderIdentity:
    """Write an identity and run the creation hook, as the SCIM layer does."""
    identity = add_identity(session, user_name, **kwargs)  # type: ignore[arg-type]
    provisioning.on_identity_created(session, identity, actor=ACTOR)
    return identity


def account_of(session: Session, identity: ProviderIdentity) -> Account | None:
    return session.get(Account, identity.account_id) if identity.account_id else None


def live_sessions(session: Session, account_id: int) -> int:
    return len(
        list(
            session.scalars(
                select(LoginSession).where(
                    LoginSession.account_id == account_id, LoginSession.ended_at.is_(None)
                )
            )
        )
    )


def test_with_auto_creation_on_a_new_provider_user_gets_an_account_with_the_default_role(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, default_role="technician")
    identity = created(session, "dave")
    account = account_of(session, identity)
    assert account is not None
    assert (account.username, account.role) == ("dave", Role.technician)
    assert account.created_by is CreatedBy.jit_scim
    assert identity.status is IdentityStatus.linked
    assert account.provider_subject == "sub-dave"


def test_with_auto_creation_off_the_provider_user_is_kept_as_a_pending_identity(
    session: Session,
) -> None:
    configure(session)
    identity = created(session, "erin")
    assert identity.account_id is None
    assert identity.status is IdentityStatus.pending
    assert accounts.find_by_username(session, "erin") is None
    assert "identity.pending" in actions(session)


def test_an_administrator_creates_the_account_of_a_pending_identity(session: Session) -> None:
    configure(session)
    admin = add_account(session, "admin", role=Role.administrator)
    identity = created(session, "erin")
    account = identities.create_account_for(session, identity, actor="account:admin", by=admin)
    assert identity.account_id == account.id and identity.status is IdentityStatus.linked
    assert account.role is Role.read_only


def test_an_account_created_later_with_the_same_username_links_automatically(
    session: Session,
) -> None:
    configure(session)
    identity = created(session, "Frank")
    account = accounts.create_account(session, username="frank", actor="account:admin")
    assert identity.account_id == account.id
    assert account.provider_subject == "sub-Frank"


def test_a_provider_user_whose_username_is_held_by_a_local_account_is_not_linked_by_name(
    session: Session,
) -> None:
    configure(session, auto_create_users=True)
    local = add_account(session, "gina", role=Role.superuser, password=STRONG)
    identity = created(session, "gina")
    assert identity.account_id is None
    assert local.provider_subject is None


def test_an_account_is_never_linked_by_email(session: Session) -> None:
    configure(session, auto_create_users=True)
    local = add_account(session, "harry.local")
    identity = add_identity(session, "harry")
    identity.email = local.email
    provisioning.on_identity_created(session, identity, actor=ACTOR)
    assert identity.account_id != local.id


def test_username_and_email_changes_at_the_provider_update_the_same_account_in_place(
    session: Session,
) -> None:
    configure(session, auto_create_users=True)
    identity = created(session, "ivan")
    account_id = identity.account_id
    identity.user_name, identity.user_name_ci = "Ivan.P", "ivan.p"
    identity.email = "ivan.p@example.com"
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    account = session.get(Account, account_id)
    assert account is not None
    assert (account.username, account.email) == ("Ivan.P", "ivan.p@example.com")


def test_deactivation_disables_the_account_and_ends_its_sessions_at_once(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True)
    identity = created(session, "judy")
    account = account_of(session, identity)
    assert account is not None
    sessions.open_session(session, account, method="oidc")
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    assert account.status is AccountStatus.disabled
    assert live_sessions(session, account.id) == 0


def test_with_auto_deprovisioning_off_a_deactivated_account_is_only_flagged(
    session: Session,
) -> None:
    configure(session, auto_create_users=True)
    identity = created(session, "kim")
    account = account_of(session, identity)
    assert account is not None
    sessions.open_session(session, account, method="oidc")
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    assert account.status is AccountStatus.active
    assert account.deactivated_at_provider is True
    assert live_sessions(session, account.id) == 1
    assert accounts.account_to_dict(account)["action_needed"] == (
        "deactivated at the provider — action needed"
    )


def test_the_last_superuser_is_never_deprovisioned_by_the_provider(session: Session) -> None:
    configure(session, auto_deprovision=True, deprovision_action="delete")
    root = add_account(session, "root", role=Role.superuser)
    identity = add_identity(session, "root", account=root)
    identity.active = False
    with pytest.raises(Conflict) as refused:
        provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    assert "last active superuser" in refused.value.detail
    with pytest.raises(Conflict):
        provisioning.on_identity_deleted(session, identity, actor=ACTOR)
    assert root.status is AccountStatus.active


def test_a_superuser_who_is_not_the_last_one_is_deprovisioned(session: Session) -> None:
    configure(session, auto_deprovision=True)
    add_account(session, "root", role=Role.superuser, password=STRONG)
    second = add_account(session, "root2", role=Role.superuser)
    identity = add_identity(session, "root2", account=second)
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    assert second.status is AccountStatus.disabled


@pytest.mark.parametrize(
    ("action", "survives"), [("disable", True), ("delete", False)], ids=["disable", "delete"]
)
def test_delete_at_the_provider_applies_the_deprovision_action(
    session: Session, action: str, survives: bool
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True, deprovision_action=action)
    identity = created(session, "leo")
    account_id = identity.account_id
    assert account_id is not None
    provisioning.on_identity_deleted(session, identity, actor=ACTOR)
    session.delete(identity)
    session.flush()
    session.expire_all()
    account = session.get(Account, account_id)
    assert (account is not None) is survives
    if account is not None:
        assert account.status is AccountStatus.disabled


def test_where_deleting_is_not_possible_the_account_is_disabled_and_the_reason_audited(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True, deprovision_action="delete")
    identity = created(session, "mia")
    account = account_of(session, identity)
    assert account is not None
    account.owns_retained_data = True
    provisioning.on_identity_deleted(session, identity, actor=ACTOR)
    assert account.status is AccountStatus.disabled
    refused = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "account.delete_refused")
    )
    assert refused is not None and "owns data" in (refused.detail or "")


def test_reactivation_restores_the_same_account_with_its_role(session: Session) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True)
    identity = created(session, "ned")
    account = account_of(session, identity)
    assert account is not None
    account.role = Role.administrator
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    identity.active = True
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=False)
    assert identity.account_id == account.id
    assert (account.status, account.role) == (AccountStatus.active, Role.administrator)


def test_reactivation_leaves_an_account_disabled_by_an_administrator_disabled(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True)
    identity = created(session, "olga")
    account = account_of(session, identity)
    assert account is not None
    accounts.disable_account(session, account, actor="account:admin", reason="by hand")
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    identity.active = True
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=False)
    assert account.status is AccountStatus.disabled


def test_a_deleted_then_recreated_identity_gets_a_fresh_correctly_linked_account(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True, deprovision_action="delete")
    first = created(session, "pia", external_id="sub-42")
    provisioning.on_identity_deleted(session, first, actor=ACTOR)
    session.delete(first)
    session.flush()
    assert accounts.find_by_username(session, "pia") is None
    again = created(session, "pia", external_id="sub-42")
    account = account_of(session, again)
    assert account is not None and again.status is IdentityStatus.linked
    assert actions(session).count("account.create") == 2
    assert account.provider_subject == "sub-42" and account.is_active
    assert (
        provisioning.provision_at_login(
            session, subject="sub-42", username="pia", email=None, display_name=None, actor="login"
        )
        is account
    )


def test_a_recreated_identity_under_the_disable_policy_gets_its_former_account_back(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True)
    first = created(session, "quinn", external_id="sub-7")
    old_id = first.account_id
    provisioning.on_identity_deleted(session, first, actor=ACTOR)
    session.delete(first)
    session.flush()
    again = created(session, "quinn", external_id="sub-7")
    account = account_of(session, again)
    assert account is not None and account.id == old_id and account.is_active


def test_login_returns_the_account_linked_by_subject(session: Session) -> None:
    configure(session, auto_create_users=True)
    identity = created(session, "rita", external_id="sub-rita")
    found = provisioning.provision_at_login(
        session, subject="sub-rita", username="renamed", email=None, display_name=None, actor="x"
    )
    assert found is not None and found.id == identity.account_id


def test_login_with_auto_creation_on_creates_an_account_just_in_time(session: Session) -> None:
    configure(session, auto_create_users=True)
    account = provision_new(session)
    assert account is not None
    assert account.created_by is CreatedBy.jit_login and account.role is Role.read_only
    identity = session.scalar(select(ProviderIdentity).where(ProviderIdentity.external_id == "s1"))
    assert identity is not None and identity.account_id == account.id


def provision_new(session: Session) -> Account | None:
    return provisioning.provision_at_login(
        session, subject="s1", username="sam", email="sam@x.org", display_name="Sam", actor="login"
    )


def test_login_with_auto_creation_off_keeps_a_pending_identity_and_returns_none(
    session: Session,
) -> None:
    configure(session)
    assert provision_new(session) is None
    identity = session.scalar(select(ProviderIdentity).where(ProviderIdentity.external_id == "s1"))
    assert identity is not None and identity.status is IdentityStatus.pending
    assert provision_new(session) is None
    assert len(list(session.scalars(select(ProviderIdentity)))) == 1


def test_login_returns_a_disabled_account_as_is_for_the_caller_to_refuse(
    session: Session,
) -> None:
    configure(session, auto_create_users=True, auto_deprovision=True)
    identity = created(session, "tom", external_id="sub-tom")
    identity.active = False
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    found = provisioning.provision_at_login(
        session, subject="sub-tom", username="tom", email=None, display_name=None, actor="x"
    )
    assert found is not None and not found.is_active


def test_a_pending_identity_updated_after_auto_creation_was_turned_on_gets_its_account(
    session: Session,
) -> None:
    configure(session)
    identity = created(session, "uma")
    configure(session, auto_create_users=True)
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    assert identity.account_id is not None and identity.status is IdentityStatus.linked


def test_a_provider_rename_onto_another_accounts_username_is_refused_and_audited(
    session: Session,
) -> None:
    configure(session, auto_create_users=True)
    identity = created(session, "vera")
    add_account(session, "victor")
    identity.user_name, identity.user_name_ci = "Victor", "victor"
    provisioning.on_identity_updated(session, identity, actor=ACTOR, was_active=True)
    account = account_of(session, identity)
    assert account is not None and account.username == "vera"
    assert "account.rename_refused" in actions(session)


def test_a_login_whose_username_another_provider_identity_holds_is_refused(
    session: Session,
) -> None:
    configure(session, auto_create_users=True)
    created(session, "walt", external_id="sub-walt")
    found = provisioning.provision_at_login(
        session, subject="sub-other", username="WALT", email=None, display_name=None, actor="x"
    )
    assert found is None
    assert "login.refused" in actions(session)
