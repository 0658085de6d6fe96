"""Reset of the integration (DESIGN.md rule 6): export first, then remove it all at once."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapter import integration
from portal_adapter import reset
from portal_adapter import tokens
from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.models import Account
from portal_adapter.models import AccountStatus
from portal_adapter.models import AuditEvent
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import MembershipSource
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.models import ScimToken
from portal_adapter.models import SyncOutboxEntry
from portal_adapter.models import SyncStatus
from tests.portal_adapter.test_provisioning_builders import STRONG
from tests.portal_adapter.test_provisioning_builders import add_account
from tests.portal_adapter.test_provisioning_builders import add_identity
from tests.portal_adapter.test_provisioning_builders import configure


def populate(session: Session) -> None:
    """A superuser with a password, an SSO-only user, a linked user who has a password,
    an SSO-only user who owns data, a local user, a pending identity, a provider group."""
    add_account(session, "root", role=Role.superuser, password=STRONG)
    sso_only = add_account(session, "sso", role=Role.technician)
    both = add_account(session, "both", password=STRONG)
    keeper = add_account(session, "keeper", owns_retained_data=True)
    add_account(session, "local", password=STRONG)
    group = Group(display_name="Ops", display_name_ci="ops", source=GroupSource.provider)
    session.add(group)
    session.flush()
    for account in (sso_only, both, keeper):
        identity = add_identity(session, account.username, account=account)
        session.add(
            GroupMembership(
                group_id=group.id, identity_id=identity.id, source=MembershipSource.provider
            )
        )
    add_identity(session, "pending-person")
    tokens.issue_token(session, name="k1", actor="test")
    configure(session, auto_create_users=True, access_groups=True)
    session.flush()


def test_the_export_lists_exactly_the_linked_accounts_and_what_reset_does_to_them(
    session: Session,
) -> None:
    populate(session)
    rows = {row.username: row for row in reset.affected_accounts(session)}
    assert set(rows) == {"sso", "both", "keeper"}
    assert rows["sso"].reset_action == reset.DELETE
    assert rows["both"].reset_action == reset.UNLINK
    assert rows["keeper"].reset_action == reset.DISABLE_AND_UNLINK
    assert rows["sso"].groups == ("Ops",)
    assert rows["both"].has_local_password is True


def test_the_csv_export_has_a_header_and_one_row_per_account(session: Session) -> None:
    populate(session)
    text = reset.affected_to_csv(reset.affected_accounts(session))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [row["username"] for row in parsed] == ["both", "keeper", "sso"]
    assert parsed[2]["reset_action"] == "delete" and parsed[2]["groups"] == "Ops"


def test_the_csv_export_neutralises_spreadsheet_formulas() -> None:
    row = reset.AffectedAccount(
        account_id=1,
        username="=HYPERLINK(1)",
        email=None,
        role="read_only",
        status="active",
        groups=(),
        last_login_at=None,
        has_local_password=False,
        reset_action="delete",
    )
    assert "'=HYPERLINK(1)" in reset.affected_to_csv([row])


def test_reset_needs_the_integration_name_as_confirmation(session: Session) -> None:
    populate(session)
    with pytest.raises(InvalidInput) as refused:
        reset.reset_integration(session, actor="account:root", confirm="yes")
    assert "KaseyaOne" in refused.value.detail
    assert session.scalar(select(func.count(ProviderIdentity.id))) == 4


def test_reset_removes_mappings_deletes_integration_only_accounts_and_keeps_local_ones(
    session: Session,
) -> None:
    populate(session)
    outcome = reset.reset_integration(session, actor="account:root", confirm="kaseyaone")
    assert outcome.deleted == ["sso"]
    assert sorted(outcome.unlinked) == ["both", "keeper"] and outcome.disabled == ["keeper"]
    names = set(session.scalars(select(Account.username)))
    assert names == {"root", "both", "keeper", "local"}
    keeper = session.scalar(select(Account).where(Account.username == "keeper"))
    assert keeper is not None and keeper.status is AccountStatus.disabled
    both = session.scalar(select(Account).where(Account.username == "both"))
    assert both is not None and both.is_active and both.provider_subject is None
    assert session.scalar(select(func.count(ProviderIdentity.id))) == 0
    assert session.scalar(select(func.count(Group.id))) == 0
    assert session.scalar(select(func.count(GroupMembership.id))) == 0
    assert all(t.revoked_at is not None for t in session.scalars(select(ScimToken)))
    settings = integration.read_settings(session)
    assert not (settings.installed or settings.unified_login or settings.auto_create_users)
    queued = session.scalars(select(SyncOutboxEntry).order_by(SyncOutboxEntry.id.desc())).first()
    assert queued is not None and queued.settings["installed"] is False
    assert settings.sync_status is SyncStatus.pending


def test_reset_tells_the_story_in_the_audit_log(session: Session) -> None:
    populate(session)
    reset.reset_integration(session, actor="account:root", confirm="KaseyaOne")
    events = list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.actor == "account:root").order_by(AuditEvent.id)
        )
    )
    story = [(e.action, e.target) for e in events]
    assert story[0] == ("integration.reset", "integration:settings")
    assert ("account.delete", "account:sso") in story
    assert ("account.unlink", "account:both") in story
    assert ("account.disable", "account:keeper") in story
    assert events[-1].action == "integration.reset" and events[-1].detail == "completed"
    assert events[-1].after is not None and events[-1].after["deleted"] == 1


def test_reset_is_refused_when_no_superuser_could_log_in_afterwards(session: Session) -> None:
    root = add_account(session, "root", role=Role.superuser)
    add_identity(session, "root", account=root)
    with pytest.raises(Conflict):
        reset.reset_integration(session, actor="account:root", confirm="KaseyaOne")
    assert session.get(Account, root.id) is not None
