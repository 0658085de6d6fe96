"""SCIM filters (RFC 7644 §3.4.2.2) and sorting (§3.4.2.3), compiled to SQL.

Every comparison becomes an ``EXISTS`` over the attribute-value index
(``scim_index``), so any attribute, nested or multi-valued, is filtered in the
database; a few hot attributes (``id``, ``userName``, ``externalId``) compare
their own indexed columns instead. The semantics follow the reference evaluator
of scim2-models (``ScimFilter.match``), which the storage contract checks against.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from inspect import isclass
from typing import Any

from pydantic import BaseModel as PydanticModel
from scim2_models import SearchRequest
from scim2_models.path import CompareOperator
from scim2_models.path import Comparison
from scim2_models.path import FilterVisitor
from scim2_models.path import LogicalExpr
from scim2_models.path import LogicalOperator
from scim2_models.path import Not
from scim2_models.path import Present
from scim2_models.path import ValuePath
from scim2_models.path.resolution import AttributeBinding
from scim2_models.path.resolution import _resolve_filter_path
from scim2_models.path.resolution import _validate_operator
from scim2_models.path.resolution import _validate_value_selection
from scim2_models.path.resolution import coerce_value
from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.orm import aliased

from portal_adapter.models import GroupMembership
from portal_adapter.models import ScimIndexEntry
from scim_server.scim.indexing import MAX_INDEXED_TEXT
from scim_server.scim.indexing import index_key

Condition = ColumnElement[bool]


@dataclass
class Target:
    """What a filter applies to: one resource table."""

    model: type[Any]
    """The scim2-models class of the resource type."""
    id_column: Any
    """The table's id column, which index rows and memberships point at."""
    dialect: str
    """``sqlite`` or ``postgresql``: the substring operators differ."""
    columns: dict[str, Any] = field(default_factory=dict)
    """Index paths served by a column of the table instead (lookups by index)."""
    nullable_columns: frozenset[str] = frozenset()
    is_group: bool = False


def _value_column(expected: Any, entry: Any) -> Any:
    if isinstance(expected, bool):
        return entry.bool_value
    if isinstance(expected, int | float):
        return entry.number_value
    if isinstance(expected, datetime.datetime):
        return entry.datetime_value
    return entry.text_value


def _is_model(type_: Any) -> bool:
    return isclass(type_) and issubclass(type_, PydanticModel)


def _ordered(column: Any, op: CompareOperator, value: Any) -> Condition:
    if op == CompareOperator.eq:
        return column == value  # type: ignore[no-any-return]
    if op == CompareOperator.gt:
        return column > value  # type: ignore[no-any-return]
    if op == CompareOperator.ge:
        return column >= value  # type: ignore[no-any-return]
    if op == CompareOperator.lt:
        return column < value  # type: ignore[no-any-return]
    return column <= value  # type: ignore[no-any-return]


def _substring(column: Any, op: CompareOperator, value: str, dialect: str) -> Condition:
    """``co``/``sw``/``ew`` without LIKE wildcards and case-sensitively.

    Values are already in comparison form (lower-cased unless caseExact), so the
    match itself must respect case: SQLite's LIKE ignores ASCII case, hence
    ``instr``/``substr`` there.
    """
    if value == "":
        return column.is_not(None)  # type: ignore[no-any-return]
    if dialect == "postgresql":
        if op == CompareOperator.co:
            return column.contains(value, autoescape=True)  # type: ignore[no-any-return]
        if op == CompareOperator.sw:
            return column.startswith(value, autoescape=True)  # type: ignore[no-any-return]
        return column.endswith(value, autoescape=True)  # type: ignore[no-any-return]
    if op == CompareOperator.co:
        return func.instr(column, value) > 0
    if op == CompareOperator.sw:
        return func.substr(column, 1, len(value)) == value
    return func.substr(column, -len(value), len(value)) == value


class SqlFilter(FilterVisitor[Condition]):
    """Compile a filter tree into a SQL condition on one resource table.

    :param element: Inside a value path (``emails[...]``), the element column the
        comparisons must share, so all conditions hold on the same entry.
    """

    def __init__(
        self,
        target: Target,
        *,
        model: type[Any] | None = None,
        urn_prefix: str = "",
        element: Any = None,
        resource_column: Any = None,
    ) -> None:
        self.target = target
        self.model = model or target.model
        self.urn_prefix = urn_prefix
        self.element = element
        # Inside a value path, correlate with the enclosing index row, not the
        # table: a doubly nested subquery would not correlate to it.
        self.resource_column = target.id_column if resource_column is None else resource_column

    def _resolve(
        self, node: Comparison | Present | ValuePath, *, for_comparison: bool
    ) -> AttributeBinding | None:
        resolved = _resolve_filter_path(
            self.model, node.attr_path, strict=False, for_comparison=for_comparison
        )
        if resolved is None or not self.urn_prefix:
            return resolved
        return resolved._nested_in(self.urn_prefix)

    def _entries(self, key: str, *conditions: Callable[[Any], Condition]) -> Condition:
        entry = aliased(ScimIndexEntry)
        where = [entry.resource_id == self.resource_column, entry.path == key]
        if self.element is not None:
            where.append(entry.element == self.element)
        return exists(select(1).select_from(entry).where(*where, *(c(entry) for c in conditions)))

    # -- comparisons ------------------------------------------------------

    def visit_comparison(self, node: Comparison) -> Condition:
        resolved = self._resolve(node, for_comparison=True)
        if resolved is None:
            return false()
        _validate_operator(resolved, node.op)
        expected = coerce_value(resolved, node.value, node.op)
        if self.target.is_group and resolved.field_name == "members" and not self.urn_prefix:
            return self._members(resolved, node.op, expected)
        if node.op == CompareOperator.ne:
            return not_(self._compare(resolved, CompareOperator.eq, expected))
        return self._compare(resolved, node.op, expected)

    def _compare(self, resolved: AttributeBinding, op: CompareOperator, expected: Any) -> Condition:
        key = index_key(resolved)
        if expected is None:
            # Only eq null (absent) and ne null (present) can hold against null.
            return not_(self._entries(key)) if op == CompareOperator.eq else false()
        string_op = op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew)
        if isinstance(expected, bytes):
            # Binary values are indexed in their base64 form.
            expected = base64.b64encode(expected).decode()
        if isinstance(expected, str):
            try:
                expected = str(resolved.comparable(expected))[:MAX_INDEXED_TEXT]
            except ValueError:
                return false()
        if string_op and (
            not isinstance(expected, str)
            or (
                resolved.target_type is not None
                and not (isclass(resolved.target_type) and issubclass(resolved.target_type, str))
            )
        ):
            return false()
        column = self.target.columns.get(key) if self.element is None else None
        if column is not None and op == CompareOperator.eq and isinstance(expected, str):
            condition: Condition = column == expected
            return condition
        dialect = self.target.dialect
        if string_op:
            return self._entries(key, lambda e: _substring(e.text_value, op, expected, dialect))
        return self._entries(key, lambda e: _ordered(_value_column(expected, e), op, expected))

    def _members(self, resolved: AttributeBinding, op: CompareOperator, expected: Any) -> Condition:
        if op == CompareOperator.ne:
            return not_(self._members(resolved, CompareOperator.eq, expected))
        condition = _member_condition(
            resolved.sub_field_name, op, expected, resolved, self.target.dialect
        )
        return exists(select(1).where(GroupMembership.group_id == self.target.id_column, condition))

    # -- presence ---------------------------------------------------------

    def visit_present(self, node: Present) -> Condition:
        resolved = self._resolve(node, for_comparison=False)
        if resolved is None:
            return false()
        if self.target.is_group and resolved.field_name == "members" and not self.urn_prefix:
            condition = (
                _member_condition(
                    resolved.sub_field_name, None, None, resolved, self.target.dialect
                )
                if resolved.sub_field_name
                else true()
            )
            return exists(
                select(1).where(GroupMembership.group_id == self.target.id_column, condition)
            )
        key = index_key(resolved)
        entry = aliased(ScimIndexEntry)
        if _is_model(resolved.target_type):
            path_condition = entry.path.startswith(key + ".", autoescape=True)
        else:
            path_condition = entry.path == key
        where = [
            entry.resource_id == self.resource_column,
            path_condition,
            or_(entry.text_value.is_(None), entry.text_value != ""),
        ]
        if self.element is not None:
            where.append(entry.element == self.element)
        return exists(select(1).select_from(entry).where(*where))

    # -- logic ------------------------------------------------------------

    def visit_not(self, node: Not) -> Condition:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Condition:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Condition:
        """``emails[type eq "work" and value co "@x"]``: one entry meets every condition."""
        resolved = self._resolve(node, for_comparison=False)
        if resolved is None:
            return false()
        _validate_value_selection(resolved)
        if self.target.is_group and resolved.field_name == "members" and not self.urn_prefix:
            inner = MemberFilter(resolved, self.target.dialect).visit(node.val_filter)
            return exists(select(1).where(GroupMembership.group_id == self.target.id_column, inner))
        if not _is_model(resolved.field_type):
            return false()
        key = index_key(resolved)
        entry = aliased(ScimIndexEntry)
        inner_filter = SqlFilter(
            self.target,
            model=resolved.field_type,
            urn_prefix=resolved.urn,
            element=entry.element,
            resource_column=entry.resource_id,
        )
        return exists(
            select(1)
            .select_from(entry)
            .where(
                entry.resource_id == self.target.id_column,
                entry.path.startswith(key + ".", autoescape=True),
                inner_filter.visit(node.val_filter),
            )
        )


def _member_condition(
    sub_field: str | None,
    op: CompareOperator | None,
    expected: Any,
    resolved: AttributeBinding,
    dialect: str,
) -> Condition:
    """A condition on one ``group_memberships`` row for ``members.<sub_field>``."""
    if sub_field in (None, "value"):
        column: Any = GroupMembership.identity_id
    elif sub_field == "display":
        column = func.lower(GroupMembership.display)
    elif sub_field == "type":
        column = func.lower("user")
    else:
        return false()
    if op is None:
        return column.is_not(None)  # type: ignore[no-any-return]
    if expected is None:
        return column.is_(None) if op == CompareOperator.eq else false()
    if isinstance(expected, str):
        try:
            expected = resolved.comparable(expected)
        except ValueError:
            return false()
        if sub_field in (None, "value"):
            column = func.lower(column)
            expected = expected.lower()
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        if not isinstance(expected, str):
            return false()
        return _substring(column, op, expected, dialect)
    return _ordered(column, op, expected)


class MemberFilter(FilterVisitor[Condition]):
    """The inner filter of ``members[...]``, as a condition on one membership row."""

    def __init__(self, members: AttributeBinding, dialect: str) -> None:
        self.members = members
        self.dialect = dialect

    def _binding(self, node: Comparison | Present) -> AttributeBinding | None:
        model = self.members.field_type
        return _resolve_filter_path(model, node.attr_path, strict=False)  # type: ignore[arg-type]

    def visit_comparison(self, node: Comparison) -> Condition:
        resolved = self._binding(node)
        if resolved is None:
            return false()
        expected = coerce_value(resolved, node.value, node.op)
        if node.op == CompareOperator.ne:
            return not_(
                _member_condition(
                    resolved.field_name, CompareOperator.eq, expected, resolved, self.dialect
                )
            )
        return _member_condition(resolved.field_name, node.op, expected, resolved, self.dialect)

    def visit_present(self, node: Present) -> Condition:
        resolved = self._binding(node)
        if resolved is None:
            return false()
        return _member_condition(resolved.field_name, None, None, resolved, self.dialect)

    def visit_not(self, node: Not) -> Condition:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Condition:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Condition:
        return false()


def sort_expression(target: Target, search_request: SearchRequest[Any]) -> Any:
    """Return the SQL value a search sorts on, or None when unsorted or unsortable.

    Multi-valued attributes sort on their primary (or else first) entry, which
    the index marks with ``is_sort_value``.
    """
    binding = search_request.sort_binding(target.model)
    if binding is None:
        return None
    if target.is_group and binding.field_name == "members":
        return None
    key = index_key(binding)
    column = target.columns.get(key)
    if column is not None:
        return column
    entry = aliased(ScimIndexEntry)
    kind = binding.target_type
    value: Any
    if isclass(kind) and issubclass(kind, bool):
        value = entry.bool_value
    elif isclass(kind) and issubclass(kind, int | float):
        value = entry.number_value
    elif isclass(kind) and issubclass(kind, datetime.datetime):
        value = entry.datetime_value
    else:
        value = entry.text_value
    return (
        select(value)
        .where(entry.resource_id == target.id_column, entry.path == key, entry.is_sort_value)
        .limit(1)
        .scalar_subquery()
    )
