"""What the SCIM service announces: Users (+ enterprise extension), Groups, its config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scim2_models import AuthenticationScheme
from scim2_models import Bulk
from scim2_models import ChangePassword
from scim2_models import ETag
from scim2_models import Filter
from scim2_models import Patch
from scim2_models import ScimProvider
from scim2_models import ServiceProviderConfig
from scim2_models import Sort
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas


def service_provider_config(config: Mapping[str, Any]) -> ServiceProviderConfig:
    """The ServiceProviderConfig (RFC 7643 §5), announcing exactly what is supported."""
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True,
            max_operations=int(config["SCIM_BULK_MAX_OPERATIONS"]),
            max_payload_size=int(config["SCIM_MAX_PAYLOAD_SIZE"]),
        ),
        filter=Filter(supported=True, max_results=int(config["SCIM_MAX_RESULTS"])),
        # Passwords are never stored: people sign in through the provider.
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="A token from `uniview-idm token create`, sent as "
                "`Authorization: Bearer <token>`.",
                primary=True,
            )
        ],
    )


def build_provider(config: Mapping[str, Any]) -> ScimProvider:
    """The service description: RFC 7643's User, EnterpriseUser and Group."""
    return ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=service_provider_config(config),
    )
