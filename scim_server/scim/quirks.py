"""Provider quirks, normalised at the edge before scim2-models validates a body.

Each rule is documented in ``docs/scim.md`` with the provider that needs it, and
has a test named after it. The functions take and return decoded JSON; anything
they do not recognise passes through unchanged, so validation still reports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

BOOLEAN_KEYS = frozenset({"active", "primary"})
"""Boolean attributes providers send as strings (Entra: ``"False"``)."""

MEMBERS_FILTER = re.compile(
    r'^\s*members\s*\[\s*value\s+eq\s+"(?P<value>(?:[^"\\]|\\.)*)"\s*\]\s*$', re.IGNORECASE
)
"""``members[value eq "id"]``, the removal path Entra and Okta send."""


def _coerce_boolean(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _normalise_values(value: Any) -> Any:
    """Booleans-as-strings and bare-string managers, anywhere in a value."""
    if isinstance(value, list):
        return [_normalise_values(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key.rsplit(":", 1)[-1].lower()
        if name in BOOLEAN_KEYS:
            item = _coerce_boolean(item)
        elif name == "manager" and isinstance(item, str):
            # Entra and some HR connectors send the manager as a bare id.
            item = {"value": item} if item else None
        result[key] = _normalise_values(item)
    return result


def _last_name(path: str) -> str:
    return path.rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()


def normalise_resource(body: Any, known_schemas: Iterable[str]) -> Any:
    """Normalise a POST/PUT body: unknown schema URNs dropped, strings coerced.

    Extra schema URNs (and the URN-keyed objects of unknown extensions) are
    dropped: some provisioning agents declare schemas this server does not serve.
    """
    if not isinstance(body, dict):
        return body
    known = {urn.lower() for urn in known_schemas}
    schemas = body.get("schemas")
    if isinstance(schemas, list) and all(isinstance(s, str) for s in schemas):
        kept = [s for s in schemas if s.lower() in known]
        if kept:
            body = {**body, "schemas": kept}
            body = {
                key: value
                for key, value in body.items()
                if not (key.lower().startswith("urn:") and key.lower() not in known)
            }
    return _normalise_values(body)


def _split_pathless(operation: dict[str, Any], known: set[str]) -> list[dict[str, Any]]:
    """Split a path-less add/replace whose keys are dotted or URN-prefixed into one op per key.

    ``{"name.givenName": "B"}`` becomes ``path: name.givenName``, and
    ``{"urn:...:enterprise:2.0:User:employeeNumber": "7"}`` becomes that path,
    so only the named sub-attributes change (RFC 7644 §3.5.2.3).
    """
    value = operation.get("value")
    if operation.get("path") or not isinstance(value, dict):
        return [operation]
    plain: dict[str, Any] = {}
    split: list[dict[str, Any]] = []
    for key, item in value.items():
        lowered = key.lower()
        if lowered in known:
            plain[key] = item
        elif "." in key or lowered.startswith("urn:"):
            split.append({**operation, "path": key, "value": item})
        else:
            plain[key] = item
    result = [{**operation, "value": plain}] if plain else []
    return result + [_normalise_operation(op, known) for op in split]


def _normalise_operation(operation: dict[str, Any], known: set[str]) -> dict[str, Any]:
    path = operation.get("path")
    value = operation.get("value")
    if isinstance(path, str):
        name = _last_name(path)
        if name in BOOLEAN_KEYS:
            value = _coerce_boolean(value)
        elif name == "manager" and isinstance(value, str):
            value = {"value": value}
    value = _normalise_values(value)
    return {**operation, "value": value} if "value" in operation else operation


def normalise_patch(body: Any, known_schemas: Iterable[str]) -> Any:
    """Normalise a PATCH body: op names in any case, path-less dotted/URN keys, strings coerced."""
    if not isinstance(body, dict):
        return body
    key = next((k for k in body if k.lower() == "operations"), None)
    operations = body.get(key) if key else None
    if not isinstance(operations, list):
        return body
    known = {urn.lower() for urn in known_schemas}
    normalised: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            normalised.append(operation)
            continue
        op = operation.get("op")
        if isinstance(op, str):
            # Entra sends "Replace"/"Add"/"Remove".
            operation = {**operation, "op": op.lower()}
        operation = _normalise_operation(operation, known)
        if operation.get("op") in ("add", "replace"):
            normalised.extend(_split_pathless(operation, known))
        else:
            normalised.append(operation)
    return {**body, "Operations": normalised} if key == "Operations" else {**body, key: normalised}


def member_filter_value(path: str) -> str | None:
    """The id named by a ``members[value eq "id"]`` path, or None for another path."""
    match = MEMBERS_FILTER.match(path)
    if match is None:
        return None
    return match.group("value").replace('\\"', '"').replace("\\\\", "\\")
