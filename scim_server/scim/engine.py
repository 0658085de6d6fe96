"""The scim2-server engine, with the service's own choices: PATCH answers 200 with the
resource, and a value-path add that matches no entry creates one (Entra)."""

from __future__ import annotations

from typing import Any

from scim2_models import Context
from scim2_models import PatchOp
from scim2_models import Resource
from scim2_models import ResourceType
from scim2_models import ResponseParameters
from scim2_models.path import CompareOperator
from scim2_models.path import Comparison
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService


class UniviewScimService(ScimService):
    """The engine, with the service's own choices."""

    def patch_response(
        self,
        base_url: str,
        resource: Resource[Any],
        response_parameters: ResponseParameters[Any],
    ) -> ScimResponse:
        """Answer a PATCH with 200 and the resource: providers (Okta) expect the body."""
        return self.resource_response(
            self.publish(base_url, resource),
            Context.RESOURCE_REPLACEMENT_RESPONSE,
            response_parameters,
        )


class UniviewScimHandler(ScimHandler):
    """The engine's handler; an ``emails[type eq "work"].value`` add creates the entry."""

    def patch_resource(
        self,
        resource_type: ResourceType,
        resource_id: str,
        patch_op: PatchOp[Any],
        conditions: Conditions,
    ) -> Resource[Any]:
        """Apply a PATCH; a value-path add/replace matching no entry adds one (Entra)."""
        current = self.storage.get(resource_type, resource_id)
        assert current.meta is not None
        version = current.meta.version
        _create_missing_value_path_entries(current, patch_op)
        patched = self.service.apply_patch(current, patch_op, conditions)
        if patched is None:
            return current
        return self.storage.update(resource_type, patched, expected_version=version)


def _create_missing_value_path_entries(resource: Resource[Any], patch_op: PatchOp[Any]) -> None:
    """Turn ``add emails[type eq "work"].value`` into an add of a new entry when none matches.

    RFC 7644 §3.5.2.1 leaves it open; Entra sends exactly this for a user's first
    work email or phone number and expects the entry to appear.
    """
    for operation in patch_op.operations or []:
        if operation.op not in ("add", "replace") or operation.path is None:
            continue
        path = operation.path
        node = path._as_value_path()
        if node is None or node.sub_attr is None:
            continue
        condition = node.val_filter
        if not (isinstance(condition, Comparison) and condition.op == CompareOperator.eq):
            continue
        head = node.attr_path
        entries = getattr(resource, _python_name(type(resource), head.attr), None)
        if entries and any(_matches(entry, condition) for entry in entries):
            continue
        new_entry = {condition.attr_path.attr: condition.value, node.sub_attr: operation.value}
        operation.op = operation.Op.add
        operation.path = type(path)(f"{head.uri}:{head.attr}" if head.uri else head.attr)
        operation.value = [new_entry]


def _python_name(model: type[Any], scim_name: str) -> str:
    for name in model.model_fields:
        if str(model._scim_name(name)).lower() == scim_name.lower():
            return str(name)
    return scim_name


def _matches(entry: Any, condition: Any) -> bool:
    value = getattr(entry, _python_name(type(entry), condition.attr_path.attr), None)
    return isinstance(value, str) and value.lower() == str(condition.value).lower()
