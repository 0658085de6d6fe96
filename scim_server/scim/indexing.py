"""Flatten a SCIM resource into attribute-value index rows (see ``ScimIndexEntry``)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from pydantic import BaseModel as PydanticModel
from scim2_models import Extension
from scim2_models import Resource
from scim2_models.path.resolution import AttributeBinding
from scim2_models.path.resolution import _bind

MAX_INDEXED_TEXT = 1024
"""Longer strings are cut: an index entry must stay within a B-tree page."""

SKIPPED_FIELDS = frozenset({"schemas", "password"})
"""Never filtered on: ``schemas`` is structural, ``password`` is never stored."""

SKIPPED_SUBFIELDS = frozenset({"location", "version"})
"""``meta.location`` and ``meta.version`` are computed on the way out."""


_BINDINGS: dict[tuple[Any, str, str | None], AttributeBinding] = {}


def binding_of(model: Any, field_name: str, sub_field_name: str | None) -> AttributeBinding:
    """Return the (cached) binding of a field: its URN and comparison rules.

    The cache is bounded by the models' fields, which are fixed at start-up.
    """
    key = (model, field_name, sub_field_name)
    binding = _BINDINGS.get(key)
    if binding is None:
        binding = _BINDINGS[key] = _bind(model, field_name, sub_field_name)
    return binding


def index_key(binding: AttributeBinding) -> str:
    """Return the index ``path`` of a binding: its URN, lower-cased (names are case-insensitive)."""
    return binding.urn.lower()


def resource_to_index_rows(
    resource: Resource[Any], *, skip: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Return the index rows of ``resource`` (without ``resource_id``), one per leaf value.

    :param skip: Top-level attribute names (Python names) to leave out, such as the
        members of a Group, which live in their own table.
    """
    rows: list[dict[str, Any]] = []
    _walk(rows, type(resource), resource, skip | SKIPPED_FIELDS)
    for extension_model in type(resource).get_extension_models().values():
        extension = getattr(resource, extension_model.__name__, None)
        if extension is not None:
            _walk(rows, extension_model, extension, SKIPPED_FIELDS)
    return rows


def _walk(rows: list[dict[str, Any]], model: type[Any], obj: Any, skip: frozenset[str]) -> None:
    for field_name in type(obj).model_fields:
        if field_name in skip:
            continue
        value = getattr(obj, field_name, None)
        if value is None or isinstance(value, Extension):
            continue
        if isinstance(value, list):
            sort_element = next(
                (i for i, item in enumerate(value) if getattr(item, "primary", None)), 0
            )
            for element, item in enumerate(value):
                _leaf_or_complex(rows, model, field_name, item, element, element == sort_element)
        else:
            _leaf_or_complex(rows, model, field_name, value, -1, True)


def _leaf_or_complex(
    rows: list[dict[str, Any]],
    model: type[Any],
    field_name: str,
    value: Any,
    element: int,
    is_sort: bool,
) -> None:
    if value is None:
        return
    if isinstance(value, PydanticModel):
        for sub_field_name in type(value).model_fields:
            if field_name == "meta" and sub_field_name in SKIPPED_SUBFIELDS:
                continue
            sub_value = getattr(value, sub_field_name, None)
            if sub_value is None or isinstance(sub_value, list | PydanticModel):
                continue
            row = _row(binding_of(model, field_name, sub_field_name), sub_value)
            if row is not None:
                rows.append({**row, "element": element, "is_sort_value": is_sort})
        return
    row = _row(binding_of(model, field_name, None), value)
    if row is not None:
        rows.append({**row, "element": element, "is_sort_value": is_sort})


def _row(binding: AttributeBinding, value: Any) -> dict[str, Any] | None:
    """Return the typed value columns of one leaf value, or None for a value filters ignore."""
    row: dict[str, Any] = {
        "path": index_key(binding),
        "text_value": None,
        "number_value": None,
        "bool_value": None,
        "datetime_value": None,
    }
    if isinstance(value, bool):
        row["bool_value"] = value
    elif isinstance(value, int | float):
        row["number_value"] = float(value)
    elif isinstance(value, datetime.datetime):
        row["datetime_value"] = (
            value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
        )
    elif isinstance(value, bytes):
        # Binary attributes (x509Certificates) only take eq/ne, on their base64 form.
        row["text_value"] = base64.b64encode(value).decode()[:MAX_INDEXED_TEXT]
    elif isinstance(value, str):
        try:
            row["text_value"] = comparable_text(binding, value)
        except ValueError:
            return None
    else:
        return None
    return row


def comparable_text(binding: AttributeBinding, value: str) -> str:
    """Return a string in the form filters and sorting compare (RFC 7643 §2.3.1).

    :raises ValueError: When the policy cannot prepare the string.
    """
    return str(binding.comparable(value))[:MAX_INDEXED_TEXT]
