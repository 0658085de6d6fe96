"""Stored rows to SCIM JSON documents and back, without pydantic on the hot paths.

A provider resource is stored as received (``payload``: the resource as
scim2-models dumps it, without ``id``, ``meta``, ``password`` and, for Groups,
``members``); ``meta`` comes from the row's columns and Group members from their
rows. The result is response-ready: only ``meta.location`` and the ``$ref`` of
members depend on the request's base URL.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

USER = "User"
GROUP = "Group"

STRIPPED_KEYS = ("id", "meta", "password")
"""Never kept in the payload: ``id``/``meta`` are columns, a password is never stored."""


def format_datetime(value: datetime.datetime) -> str:
    """Format a timestamp as scim2-models does (``2026-01-01T00:00:00.123456Z``)."""
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def etag(version: int) -> str:
    """The weak ETag of a stored version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def meta_of(kind: str, row: Any) -> dict[str, Any]:
    """The ``meta`` of a stored resource, without its location."""
    return {
        "resourceType": kind,
        "created": format_datetime(row.created_at),
        "lastModified": format_datetime(row.last_modified),
        "version": etag(row.version),
    }


def member_to_document(member: tuple[str, str | None], base_url: str = "") -> dict[str, Any]:
    """One ``members`` entry of an (identity id, display) pair; ``$ref`` is relative
    to the SCIM root unless a base is given."""
    identity_id, display = member
    prefix = f"{base_url}/" if base_url else ""
    entry: dict[str, Any] = {
        "value": identity_id,
        "$ref": f"{prefix}Users/{identity_id}",
        "type": "User",
    }
    if display:
        entry["display"] = display
    return entry


def row_to_document(
    kind: str,
    row: Any,
    *,
    members: Iterable[tuple[str, str | None]] | None = None,
    base_url: str = "",
) -> dict[str, Any]:
    """The SCIM document of a stored row; with ``base_url``, ready to send."""
    document: dict[str, Any] = {"id": row.id, **row.payload, "meta": meta_of(kind, row)}
    if base_url:
        endpoint = "Users" if kind == USER else "Groups"
        document["meta"]["location"] = f"{base_url}/{endpoint}/{row.id}"
    if members is not None:
        entries = [member_to_document(m, base_url) for m in members]
        if entries:
            document["members"] = entries
    return document


def resource_dump_to_payload(dumped: dict[str, Any], *, kind: str) -> dict[str, Any]:
    """The payload column of a dumped resource: what the provider sent, minus columns."""
    payload = {key: value for key, value in dumped.items() if key not in STRIPPED_KEYS}
    if kind == GROUP:
        payload.pop("members", None)
    return payload
