"""Group PATCH bodies made only of member operations, and their lean application."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scim_server.scim import members as member_rows
from scim_server.scim import quirks

MemberPlan = list[tuple[str, list[tuple[str, str | None]]]]
"""Ordered (action, [(member id, display)]) pairs: add, remove, remove_all, replace."""


def apply_member_plan(
    session: Session,
    group_id: str,
    plan: MemberPlan,
    *,
    actor: str,
) -> tuple[int, int]:
    """Apply the member actions of ``member_plan`` in order; return (added, removed)."""
    added = removed = 0
    for action, values in plan:
        if action == "add":
            added += member_rows.add_members(session, group_id, values, actor=actor)
        elif action == "remove":
            removed += member_rows.remove_members(session, group_id, [v for v, _ in values])
        elif action == "remove_all":
            removed += member_rows.remove_all_members(session, group_id)
        else:
            member_rows.replace_members(session, group_id, values, actor=actor)
    return added, removed


def member_plan(body: Any) -> MemberPlan | None:
    """The member actions of a PATCH body, or None when it does anything else.

    Recognised: ``add``/``replace`` of ``members`` (with a path or as a path-less
    ``{"members": [...]}``), ``remove`` of ``members`` with a value list (removes
    only those), without a value (removes all), and of ``members[value eq "id"]``.
    """
    if not isinstance(body, dict):
        return None
    if "urn:ietf:params:scim:api:messages:2.0:PatchOp" not in (body.get("schemas") or []):
        return None
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        return None
    plan: MemberPlan = []
    for operation in operations:
        if not isinstance(operation, dict) or set(operation) - {"op", "path", "value"}:
            return None
        op = operation.get("op")
        path = operation.get("path")
        value = operation.get("value")
        if path is None and op in ("add", "replace") and isinstance(value, dict):
            if [k.lower() for k in value] != ["members"]:
                return None
            path, value = "members", next(iter(value.values()))
        if not isinstance(path, str):
            return None
        if path.strip().lower() == "members":
            if op == "remove" and value is None:
                plan.append(("remove_all", []))
                continue
            entries = _member_entries(value)
            if entries is None or op not in ("add", "remove", "replace"):
                return None
            plan.append((op, entries))
            continue
        named = quirks.member_filter_value(path)
        if named is None or op != "remove" or value is not None:
            return None
        plan.append(("remove", [(named, None)]))
    return plan


def _member_entries(value: Any) -> list[tuple[str, str | None]] | None:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    entries = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            return None
        if set(item) - {"value", "display", "$ref", "type"}:
            return None
        display = item.get("display")
        entries.append((item["value"], display if isinstance(display, str) else None))
    return entries
