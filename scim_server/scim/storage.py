"""``SqlScimStorage``: scim2-server's storage contract over the portal's tables.

Users are ``provider_identities`` rows, Groups are ``groups`` rows with
``source=provider`` and their members ``group_memberships`` rows. Every write
rewrites the resource's ``scim_index`` rows, which filters and sorting query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import cast

from scim2_models import NotFoundException
from scim2_models import NotImplementedException
from scim2_models import PreconditionFailedException
from scim2_models import Resource
from scim2_models import ResourceType
from scim2_models import ResponseParameters
from scim2_models import ScimProvider
from scim2_models import SearchRequest
from scim2_models import UniquenessException
from scim2_server.storage import ScimStorage
from scim2_server.storage import SearchPage
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal_adapter import audit
from portal_adapter import provisioning
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import ScimIndexEntry
from portal_adapter.models import utcnow
from portal_adapter.models.base import new_uuid
from scim_server.scim import members as member_rows
from scim_server.scim.documents import GROUP
from scim_server.scim.documents import USER
from scim_server.scim.documents import etag
from scim_server.scim.documents import resource_dump_to_payload
from scim_server.scim.documents import row_to_document
from scim_server.scim.errors import translate_portal_errors
from scim_server.scim.filters import SqlFilter
from scim_server.scim.filters import Target
from scim_server.scim.filters import sort_expression
from scim_server.scim.indexing import binding_of
from scim_server.scim.indexing import comparable_text
from scim_server.scim.indexing import resource_to_index_rows

logger = logging.getLogger(__name__)

INDEX_TABLE = cast("Table", ScimIndexEntry.__table__)

SOLE_OPERATION = "uniview.scim.sole_operation"
"""``Session.info`` key set while the request's only operation runs (no savepoint)."""

INDEX_SKIP = frozenset({"id", "meta", "members"})
"""Indexed apart: ``id`` and ``meta`` from columns, members as rows."""


class SqlScimStorage(ScimStorage):
    """Store SCIM Users and Groups in the portal's SQL tables.

    :param session: Returns the SQLAlchemy session of the current request.
    :param actor: Returns who acts, for the audit log and the provisioning hooks.
    """

    supports_cursors = False

    def __init__(
        self,
        provider: ScimProvider,
        session: Callable[[], Session],
        *,
        actor: Callable[[], str] = lambda: "scim",
    ) -> None:
        self.provider = provider
        self._session = session
        self._actor = actor

    # -- helpers ------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The session of the current request."""
        return self._session()

    def model(self, resource_type: ResourceType) -> type[Resource[Any]]:
        """The scim2-models class of a resource type, extensions included."""
        return self.provider.model_for(resource_type)  # type: ignore[return-value]

    @staticmethod
    def kind(resource_type: ResourceType) -> str:
        """``User`` or ``Group``."""
        if resource_type.id in (USER, GROUP):
            return str(resource_type.id)
        raise NotFoundException(detail=f"Unknown resource type {resource_type.id!r}")

    def target(self, resource_type: ResourceType) -> Target:
        """The table a filter on ``resource_type`` applies to."""
        model = self.model(resource_type)
        dialect = self.session.get_bind().dialect.name
        if self.kind(resource_type) == USER:
            return Target(
                model=model,
                id_column=ProviderIdentity.id,
                dialect=dialect,
                columns={
                    binding_of(model, "user_name", None).urn.lower(): ProviderIdentity.user_name_ci,
                    binding_of(model, "id", None).urn.lower(): ProviderIdentity.id,
                    binding_of(
                        model, "external_id", None
                    ).urn.lower(): ProviderIdentity.external_id,
                },
            )
        return Target(
            model=model,
            id_column=Group.id,
            dialect=dialect,
            columns={
                binding_of(model, "id", None).urn.lower(): Group.id,
                binding_of(model, "external_id", None).urn.lower(): Group.external_id,
            },
            is_group=True,
        )

    def load_row(
        self, kind: str, resource_id: str, *, for_update: bool = False
    ) -> ProviderIdentity | Group:
        """The row of a resource.

        :raises NotFoundException: When no such resource exists.
        """
        table: type[ProviderIdentity] | type[Group] = ProviderIdentity if kind == USER else Group
        query = select(table).where(table.id == resource_id)
        if kind == GROUP:
            query = query.where(Group.source == GroupSource.provider)
        if for_update:
            query = query.with_for_update()
        row = cast("ProviderIdentity | Group | None", self.session.scalar(query))
        if row is None:
            raise NotFoundException(detail=f"{kind} {resource_id!r} not found")
        return row

    def load_plain(self, kind: str, resource_id: str) -> Any:
        """The columns a document needs, as a plain row (no ORM object: reads only).

        :raises NotFoundException: When no such resource exists.
        """
        table: Any = ProviderIdentity if kind == USER else Group
        query = select(
            table.id, table.payload, table.created_at, table.last_modified, table.version
        ).where(table.id == resource_id)
        if kind == GROUP:
            query = query.where(Group.source == GroupSource.provider)
        row = self.session.execute(query).first()
        if row is None:
            raise NotFoundException(detail=f"{kind} {resource_id!r} not found")
        return row

    def document(
        self,
        kind: str,
        row: Any,
        *,
        with_members: bool = True,
        base_url: str = "",
    ) -> dict[str, Any]:
        """The SCIM document of a row (members loaded for Groups when asked)."""
        members = None
        if kind == GROUP and with_members:
            members = member_rows.members_of(self.session, row.id)
        return row_to_document(kind, row, members=members, base_url=base_url)

    def _to_resource(self, resource_type: ResourceType, document: dict[str, Any]) -> Resource[Any]:
        return self.model(resource_type).model_validate(document)

    @staticmethod
    def _check_version(row: ProviderIdentity | Group, expected_version: str | None) -> None:
        if expected_version is not None and expected_version != etag(row.version):
            raise PreconditionFailedException(
                detail=f"The resource is at version {etag(row.version)}, not {expected_version}"
            )

    def _write_index(self, resource_id: str, rows: list[dict[str, Any]], *, replace: bool) -> None:
        if replace:
            self.session.execute(
                delete(ScimIndexEntry).where(ScimIndexEntry.resource_id == resource_id)
            )
        if rows:
            for row in rows:
                row["resource_id"] = resource_id
            # A Core executemany: one statement for all rows (the ORM bulk form
            # splits them by which columns are null).
            self.session.execute(insert(INDEX_TABLE), rows)

    def _meta_rows(
        self, model: type[Any], kind: str, row: ProviderIdentity | Group
    ) -> list[dict[str, Any]]:
        base: dict[str, Any] = {
            "element": -1,
            "is_sort_value": True,
            "text_value": None,
            "number_value": None,
            "bool_value": None,
        }
        return [
            {
                **base,
                "path": binding_of(model, "meta", "created").urn.lower(),
                "datetime_value": row.created_at,
            },
            {
                **base,
                "path": binding_of(model, "meta", "last_modified").urn.lower(),
                "datetime_value": row.last_modified,
            },
            {
                **base,
                "path": binding_of(model, "meta", "resource_type").urn.lower(),
                "datetime_value": None,
                "text_value": kind.lower(),
            },
        ]

    def index_rows(
        self, resource: Resource[Any], kind: str, row: ProviderIdentity | Group
    ) -> list[dict[str, Any]]:
        """The index rows of a resource about to be stored as ``row``."""
        return resource_to_index_rows(resource, skip=INDEX_SKIP) + self._meta_rows(
            type(resource), kind, row
        )

    # -- projections of users ------------------------------------------------

    @staticmethod
    def _project_user(
        row: ProviderIdentity, resource: Resource[Any], payload: dict[str, Any]
    ) -> None:
        user_name = getattr(resource, "user_name", None) or ""
        row.user_name = user_name
        row.user_name_ci = comparable_text(binding_of(type(resource), "user_name", None), user_name)
        row.external_id = resource.external_id
        row.display_name = getattr(resource, "display_name", None)
        emails = getattr(resource, "emails", None) or []
        primary = next(
            (e for e in emails if getattr(e, "primary", None)), emails[0] if emails else None
        )
        row.email = primary.value if primary is not None else None
        active = getattr(resource, "active", None)
        row.active = True if active is None else bool(active)
        row.payload = payload

    def _check_user_name_free(self, user_name_ci: str, own_id: str | None) -> None:
        query = select(ProviderIdentity.id).where(ProviderIdentity.user_name_ci == user_name_ci)
        taken = self.session.scalar(query)
        if taken is not None and taken != own_id:
            raise UniquenessException(detail="userName is already taken")

    # -- ScimStorage ------------------------------------------------------------

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A savepoint for a write, unless ``operation()`` already opened one or the
        operation is the whole request (``sole_operation()``)."""
        session = self.session
        if session.in_nested_transaction() or session.info.get(SOLE_OPERATION):
            yield
            return
        with session.begin_nested():
            yield

    @contextmanager
    def operation(self) -> Iterator[None]:
        """A savepoint around one SCIM operation: a failed Bulk operation undoes only itself.

        The request commits once at its end (or rolls back on an error response).
        """
        with self.session.begin_nested():
            yield

    @contextmanager
    def sole_operation(self) -> Iterator[None]:
        """One SCIM operation that is the whole request: no savepoint at all.

        The request's transaction already is the unit (an error response rolls it
        all back), so a savepoint would only add a SAVEPOINT/RELEASE round trip and
        a flush. The hot paths (POST, member PATCH) use this; Bulk uses ``operation()``.
        """
        info = self.session.info
        info[SOLE_OPERATION] = True
        try:
            yield
        finally:
            info.pop(SOLE_OPERATION, None)

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        """Return a stored resource; Group members are skipped when the response drops them."""
        kind = self.kind(resource_type)
        row = self.load_row(kind, resource_id)
        with_members = kind == GROUP and wants_members(response_parameters)
        return self._to_resource(resource_type, self.document(kind, row, with_members=with_members))

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """Store a new resource.

        :raises UniquenessException: When its userName (any case) or externalId is taken.
        """
        return self._to_resource(resource_type, self.create_document(resource_type, resource))

    def create_document(
        self, resource_type: ResourceType, resource: Resource[Any]
    ) -> dict[str, Any]:
        """Store a new resource and return its document (members as relative refs)."""
        kind = self.kind(resource_type)
        payload = resource_dump_to_payload(resource.model_dump(), kind=kind)
        now = utcnow()
        session = self.session
        actor = self._actor()
        row: ProviderIdentity | Group
        try:
            with self._savepoint():
                if kind == USER:
                    row = ProviderIdentity(
                        id=new_uuid(), created_at=now, last_modified=now, version=1
                    )
                    self._project_user(row, resource, payload)
                else:
                    row = Group(
                        id=new_uuid(),
                        created_at=now,
                        last_modified=now,
                        version=1,
                        source=GroupSource.provider,
                    )
                    self._project_group(row, resource, payload)
                session.add(row)
                # Added before the flush so that both rows go in one unit of work.
                audit.record(
                    session,
                    actor=actor,
                    action=f"scim.{kind.lower()}.create",
                    target=f"{kind.lower()}:{row.id}",
                )
                # The unique indexes on user_name_ci and external_id decide: no
                # SELECT first (it would also race with a concurrent create).
                session.flush()
        except IntegrityError as error:
            raise UniquenessException(
                detail=f"A {kind} with the same userName or externalId exists"
            ) from error
        self._write_index(row.id, self.index_rows(resource, kind, row), replace=False)
        if kind == GROUP:
            member_rows.add_members(session, row.id, member_values(resource), actor=actor)
        else:
            with translate_portal_errors():
                provisioning.on_identity_created(session, row, actor=actor)  # type: ignore[arg-type]
        return self.document(kind, row)

    @staticmethod
    def _project_group(row: Group, resource: Resource[Any], payload: dict[str, Any]) -> None:
        display_name = getattr(resource, "display_name", None) or ""
        row.display_name = display_name
        row.display_name_ci = display_name.lower()
        row.external_id = resource.external_id
        row.payload = payload

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        """Replace a stored resource with ``resource`` (PUT, or PATCH applied by the engine).

        :raises NotFoundException: When it does not exist.
        :raises PreconditionFailedException: When it is not at ``expected_version``.
        :raises UniquenessException: When its new userName or externalId is taken.
        """
        kind = self.kind(resource_type)
        session = self.session
        row = self.load_row(kind, str(resource.id), for_update=True)
        self._check_version(row, expected_version)
        payload = resource_dump_to_payload(resource.model_dump(), kind=kind)
        was_active = bool(getattr(row, "active", True))
        try:
            with self._savepoint():
                if kind == USER:
                    assert isinstance(row, ProviderIdentity)
                    self._project_user(row, resource, payload)
                    self._check_user_name_free(row.user_name_ci, row.id)
                else:
                    assert isinstance(row, Group)
                    self._project_group(row, resource, payload)
                row.version += 1
                row.last_modified = utcnow()
                session.flush()
        except IntegrityError as error:
            raise UniquenessException(
                detail=f"A {kind} with the same userName or externalId exists"
            ) from error
        self._write_index(row.id, self.index_rows(resource, kind, row), replace=True)
        actor = self._actor()
        audit.record(
            session,
            actor=actor,
            action=f"scim.{kind.lower()}.update",
            target=f"{kind.lower()}:{row.id}",
        )
        if kind == GROUP:
            member_rows.replace_members(session, row.id, member_values(resource), actor=actor)
        else:
            with translate_portal_errors():
                provisioning.on_identity_updated(session, row, actor=actor, was_active=was_active)  # type: ignore[arg-type]
        return self._to_resource(resource_type, self.document(kind, row))

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """Delete a stored resource, its index rows and its memberships.

        :raises NotFoundException: When it does not exist.
        :raises PreconditionFailedException: When it is not at ``expected_version``.
        """
        kind = self.kind(resource_type)
        session = self.session
        row = self.load_row(kind, resource_id, for_update=True)
        self._check_version(row, expected_version)
        actor = self._actor()
        if kind == USER:
            with translate_portal_errors():
                provisioning.on_identity_deleted(session, row, actor=actor)  # type: ignore[arg-type]
            session.execute(
                delete(GroupMembership).where(GroupMembership.identity_id == resource_id)
            )
        else:
            # Issue 5: the group's organization mappings are audited before they go.
            from portal_adapter.groups import on_provider_group_deleting

            on_provider_group_deleting(session, row, actor=actor)  # type: ignore[arg-type]
            session.execute(delete(GroupMembership).where(GroupMembership.group_id == resource_id))
        session.execute(delete(ScimIndexEntry).where(ScimIndexEntry.resource_id == resource_id))
        session.delete(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=f"scim.{kind.lower()}.delete",
            target=f"{kind.lower()}:{resource_id}",
        )

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        """Filter, sort and page in SQL; ``totalResults`` is an exact count."""
        if len(resource_types) == 1:
            total, documents = self.search_documents(resource_types[0], search_request)
            return SearchPage(total, [self._to_resource(resource_types[0], d) for d in documents])
        return self._search_root(resource_types, search_request)

    def search_documents(
        self,
        resource_type: ResourceType,
        search_request: SearchRequest[Any],
        *,
        base_url: str = "",
        limit: int | None = None,
        offset: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """The total and the page of documents of a search on one resource type."""
        kind = self.kind(resource_type)
        target = self.target(resource_type)
        table: Any = ProviderIdentity if kind == USER else Group
        conditions = []
        if kind == GROUP:
            conditions.append(Group.source == GroupSource.provider)
        if search_request.filter is not None:
            conditions.append(SqlFilter(target).visit(search_request.filter.ast))
        session = self.session
        count = search_request.count if limit is None else limit
        if count == 0:
            return self._count(table, conditions), []
        # Plain columns, not ORM objects: a document needs nothing else.
        query = select(
            table.id, table.payload, table.created_at, table.last_modified, table.version
        ).where(*conditions)
        sort = sort_expression(target, search_request)
        descending = search_request.sort_order == SearchRequest.SortOrder.descending
        if sort is not None:
            missing = sort.is_(None)
            if descending:
                query = query.order_by(missing.desc(), sort.desc(), table.id.desc())
            else:
                query = query.order_by(missing, sort, table.id)
        else:
            query = query.order_by(table.id)
        start = (search_request.start_index_0 or 0) if offset is None else offset
        if start:
            query = query.offset(start)
        if count is not None:
            query = query.limit(count)
        rows = list(session.execute(query))
        if (rows or not start) and (count is None or len(rows) < count):
            # The page is the last one: the total is known without a COUNT (a
            # ``userName eq`` lookup is then a single query).
            total = start + len(rows)
        else:
            total = self._count(table, conditions)
        want = wants_members(search_request)
        documents = self.documents_of(kind, rows, with_members=want, base_url=base_url)
        return total, documents

    def _count(self, table: Any, conditions: list[Any]) -> int:
        """The exact number of rows matching ``conditions`` (``totalResults``)."""
        query = select(func.count()).select_from(table).where(*conditions)
        return int(self.session.scalar(query) or 0)

    def documents_of(
        self, kind: str, rows: list[Any], *, with_members: bool, base_url: str = ""
    ) -> list[dict[str, Any]]:
        """Documents of several rows, loading every Group's members in one query."""
        if kind != GROUP or not with_members or not rows:
            return [row_to_document(kind, row, base_url=base_url) for row in rows]
        by_group: dict[str, list[tuple[str, str | None]]] = {row.id: [] for row in rows}
        memberships = self.session.execute(
            select(GroupMembership.group_id, GroupMembership.identity_id, GroupMembership.display)
            .where(
                GroupMembership.group_id.in_(list(by_group)),
                GroupMembership.identity_id.is_not(None),
            )
            .order_by(GroupMembership.id)
        )
        for group_id, identity_id, display in memberships:
            by_group[group_id].append((str(identity_id), display))
        return [
            row_to_document(kind, row, members=by_group[row.id], base_url=base_url) for row in rows
        ]

    def _search_root(
        self, resource_types: list[ResourceType], search_request: SearchRequest[Any]
    ) -> SearchPage:
        """A search at the root: each type searched, merged in Python by the sort value.

        Only the first ``startIndex + count`` of each type are read, so paging
        stays bounded; this endpoint is rarely used by providers.
        """
        start = search_request.start_index_0 or 0
        wanted = None if search_request.count is None else start + search_request.count
        total = 0
        found: list[Resource[Any]] = []
        for resource_type in resource_types:
            try:
                self.kind(resource_type)
            except NotFoundException:
                raise NotImplementedException(detail="Unknown resource type") from None
            count, documents = self.search_documents(
                resource_type, search_request, limit=wanted, offset=0
            )
            total += count
            found.extend(self._to_resource(resource_type, d) for d in documents)
        ordered = search_request.sort(found) if search_request.sort_by is not None else found
        stop = None if search_request.count is None else start + search_request.count
        return SearchPage(total, ordered[start:stop])


def wants_members(parameters: ResponseParameters[Any] | None) -> bool:
    """Whether a response with these parameters shows Group members."""
    if parameters is None:
        return True
    attributes = [str(a).lower() for a in (parameters.attributes or [])]
    excluded = [str(a).lower() for a in (parameters.excluded_attributes or [])]
    if attributes:
        return any("members" in a.split(":")[-1].split(".")[0] for a in attributes)
    return not any(a.split(":")[-1] == "members" for a in excluded)


def member_values(resource: Resource[Any]) -> list[tuple[str, str | None]]:
    """The (id, display) of each member of a Group resource."""
    return [
        (str(member.value), member.display)
        for member in (getattr(resource, "members", None) or [])
        if member.value is not None
    ]


__all__ = ["SqlScimStorage", "member_values", "wants_members"]
