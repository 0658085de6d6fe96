"""The portal's tables; importing this package registers every one on ``Base.metadata``."""

from portal_adapter.models.accounts import Account
from portal_adapter.models.accounts import AccountSource
from portal_adapter.models.accounts import AccountStatus
from portal_adapter.models.accounts import CreatedBy
from portal_adapter.models.accounts import LoginSession
from portal_adapter.models.accounts import Role
from portal_adapter.models.api_tokens import AdminApiToken
from portal_adapter.models.audit import AuditEvent
from portal_adapter.models.base import Base
from portal_adapter.models.base import utcnow
from portal_adapter.models.identities import Group
from portal_adapter.models.identities import GroupMembership
from portal_adapter.models.identities import GroupSource
from portal_adapter.models.identities import IdentityStatus
from portal_adapter.models.identities import MembershipSource
from portal_adapter.models.identities import ProviderIdentity
from portal_adapter.models.integration import DeprovisionAction
from portal_adapter.models.integration import IntegrationSettings
from portal_adapter.models.integration import ScimToken
from portal_adapter.models.integration import SyncOutboxEntry
from portal_adapter.models.integration import SyncStatus
from portal_adapter.models.login import LoginAttempt
from portal_adapter.models.login import OidcLoginFlow
from portal_adapter.models.organizations import Organization
from portal_adapter.models.organizations import OrganizationGroup
from portal_adapter.models.scim_index import ScimIndexEntry

__all__ = [
    "Account",
    "AccountSource",
    "AccountStatus",
    "AdminApiToken",
    "AuditEvent",
    "Base",
    "CreatedBy",
    "DeprovisionAction",
    "Group",
    "GroupMembership",
    "GroupSource",
    "IdentityStatus",
    "IntegrationSettings",
    "LoginAttempt",
    "LoginSession",
    "MembershipSource",
    "OidcLoginFlow",
    "Organization",
    "OrganizationGroup",
    "ProviderIdentity",
    "Role",
    "ScimIndexEntry",
    "ScimToken",
    "SyncOutboxEntry",
    "SyncStatus",
    "utcnow",
]
