"""The SCIM blueprint: scim2-flask's server with bearer tokens, one transaction per
request, provider quirks at the edge and lean paths for the hot requests.

The scim2-server engine serves everything (discovery, PUT, PATCH, Bulk, ETags,
errors). Four hot requests take a lean path that skips its pydantic round-trips
(measured ~5 ms of CPU per request): GET by id and searches without
``attributes``, POST, and Group member add/remove (which never reads the group's
members). Each lean path falls back to the engine for anything it does not handle.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from scim2_flask import ScimServer
from scim2_models import Context
from scim2_models import Error
from scim2_models import NotFoundException
from scim2_models import PatchOp
from scim2_models import PayloadTooLargeException
from scim2_models import Resource
from scim2_models import ResourceType
from scim2_models import ResponseParameters
from scim2_models import UnauthorizedException
from scim2_models.path import CompareOperator
from scim2_models.path import Comparison
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import SCIM_MEDIA_TYPE
from scim2_server.responses import ScimResponse
from scim2_server.routing import Route
from scim2_server.service import ScimService
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal_adapter import audit
from portal_adapter import tokens
from portal_adapter.integration import get_settings
from portal_adapter.models import Group
from portal_adapter.models import GroupSource
from portal_adapter.models import utcnow
from scim_server.extensions import db
from scim_server.scim import members as member_rows
from scim_server.scim import quirks
from scim_server.scim.documents import GROUP
from scim_server.scim.documents import USER
from scim_server.scim.documents import etag
from scim_server.scim.storage import SqlScimStorage
from scim_server.scim.storage import wants_members

logger = logging.getLogger(__name__)

ACTIVITY_INTERVAL = datetime.timedelta(minutes=1)
"""``last_provider_activity_at`` is written at most this often (spares a write per request)."""

RESOURCE_QUERY_KEYS = frozenset({"filter", "startIndex", "count"})
"""Search parameters the lean search path serves; anything else goes to the engine."""


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
    """The engine's handler, adding an ``emails[type eq "work"].value`` add that creates the entry."""

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
        if model._scim_name(name).lower() == scim_name.lower():
            return name
    return scim_name


def _matches(entry: Any, condition: Any) -> bool:
    value = getattr(entry, _python_name(type(entry), condition.attr_path.attr), None)
    return isinstance(value, str) and value.lower() == str(condition.value).lower()


class UniviewScimServer(ScimServer):
    """scim2-flask's server on the SQL storage, with the portal's edge rules."""

    storage: SqlScimStorage

    def init_app(self, app: Flask) -> None:
        """Register the blueprint, exempt it from CSRF (it authenticates by bearer token)."""
        self.service = UniviewScimService(self.provider, secret=app.secret_key)
        self.handler = UniviewScimHandler(self.service, self.storage)
        self.blueprint = self.create_blueprint()
        app.register_blueprint(self.blueprint)
        app.extensions.setdefault("scim", {})[self.name] = self
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(self.blueprint)
        self._activity_touched: datetime.datetime | None = None
        self._known_schemas = [str(schema.id) for schema in self.provider.schemas]

    def create_blueprint(self) -> Blueprint:
        """The engine's blueprint, plus authentication, transactions and a 500 handler."""
        blueprint = super().create_blueprint()
        blueprint.before_request(self._authenticate)
        blueprint.after_request(self._finish)
        blueprint.register_error_handler(Exception, self._handle_unexpected)
        return blueprint

    # -- authentication, transactions -------------------------------------------

    def _authenticate(self) -> None:
        """Accept only a live bearer token (RFC 6750); 401 with ``WWW-Authenticate`` else.

        :raises UnauthorizedException: When the token is missing, unknown or revoked.
        """
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise UnauthorizedException(detail="A bearer token is required")
        session = db.session
        token = tokens.verify_token(session, presented.strip())
        if token is None:
            raise UnauthorizedException(detail="The bearer token is invalid or revoked")
        tokens.touch_token(token)
        g.scim_actor = f"scim:{token.name}"
        self._touch_provider_activity()

    def _touch_provider_activity(self) -> None:
        now = utcnow()
        if self._activity_touched is not None and now - self._activity_touched < ACTIVITY_INTERVAL:
            return
        self._activity_touched = now
        session = db.session
        try:
            # A savepoint: two processes creating the settings row at once must not
            # fail the provider's request.
            with session.begin_nested():
                settings = get_settings(session)
                last = settings.last_provider_activity_at
                if last is None or now - last >= ACTIVITY_INTERVAL:
                    settings.last_provider_activity_at = now
                session.flush()
        except IntegrityError:
            logger.info("settings row created concurrently; activity time not recorded")

    @staticmethod
    def _finish(response: Response) -> Response:
        """Commit once, only on success; anything else rolls the request back."""
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    def _handle_unexpected(self, error: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.path)
        db.session.rollback()
        body = Error(status=500, detail="Internal server error").model_dump()
        return Response(json.dumps(body), status=500, content_type=SCIM_MEDIA_TYPE)

    # -- request reading ---------------------------------------------------------

    def read_body(self, scim_request: ScimRequest) -> bytes:
        """Read at most maxPayloadSize bytes; a larger body is a 413.

        :raises PayloadTooLargeException: When the body exceeds the announced size.
        """
        limit = int(current_app.config["SCIM_MAX_PAYLOAD_SIZE"])
        # Werkzeug's MAX_CONTENT_LENGTH bounds what is read; the body is cached so
        # the engine can read it again after a lean path declines the request.
        body: bytes = request.get_data(cache=True)
        if len(body) > limit:
            raise PayloadTooLargeException(
                detail=f"The payload exceeds the maxPayloadSize ({limit} bytes)"
            )
        return body

    def read_request(self) -> ScimRequest:
        """The engine's request, with the body's provider quirks normalised."""
        scim_request = super().read_request()
        scim_request.body = self.normalise_body(scim_request.method, scim_request.body)
        return scim_request

    def normalise_body(self, method: str, body: bytes) -> bytes:
        """Apply ``quirks`` to a JSON body; a body that is not JSON is left for the engine to refuse."""
        if method.upper() not in ("POST", "PUT", "PATCH") or not body:
            return body
        try:
            decoded = json.loads(body)
        except ValueError:
            return body
        if method.upper() == "PATCH":
            normalised = quirks.normalise_patch(decoded, self._known_schemas)
        elif isinstance(decoded, dict) and "Operations" in decoded:
            normalised = self._normalise_bulk(decoded)
        else:
            normalised = quirks.normalise_resource(decoded, self._known_schemas)
        return json.dumps(normalised).encode()

    def _normalise_bulk(self, body: dict[str, Any]) -> dict[str, Any]:
        operations = body.get("Operations")
        if not isinstance(operations, list):
            return body
        result = []
        for operation in operations:
            if isinstance(operation, dict) and "data" in operation:
                method = str(operation.get("method", "")).upper()
                data = operation["data"]
                if method == "PATCH":
                    data = quirks.normalise_patch(data, self._known_schemas)
                else:
                    data = quirks.normalise_resource(data, self._known_schemas)
                operation = {**operation, "data": data}
            result.append(operation)
        return {**body, "Operations": result}

    # -- views: a lean path first, the engine otherwise ------------------------

    def _make_view(self, route: Route) -> Any:
        engine_view = super()._make_view(route)
        lean: Callable[..., Response | None] | None = {
            "query": self._lean_query,
            "search": self._lean_search,
            "create": self._lean_create,
            "patch": self._lean_patch,
        }.get(route.name)
        if lean is None:
            return engine_view

        def view(**kwargs: str) -> Response:
            response = lean(**kwargs)
            return response if response is not None else engine_view(**kwargs)

        return view

    def _base_url(self) -> str:
        return request.url_root.rstrip("/") + self.url_prefix

    def _resource_type(self, endpoint: str) -> ResourceType | None:
        resource_type = self.service.get_resource_type_by_endpoint(endpoint)
        if resource_type is None or resource_type.id not in (USER, GROUP):
            return None
        return resource_type

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        response = Response(json.dumps(body), status=status, content_type=SCIM_MEDIA_TYPE)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _lean_query(self, resource_endpoint: str, resource_id: str) -> Response | None:
        """GET by id without attributes or conditions: the stored JSON, served as is."""
        resource_type = self._resource_type(resource_endpoint)
        if resource_type is None or request.args or "If-None-Match" in request.headers or "If-Match" in request.headers:
            return None
        kind = str(resource_type.id)
        # A read needs no savepoint: nothing to undo.
        row = self.storage.load_row(kind, resource_id)
        document = self.storage.document(kind, row, base_url=self._base_url())
        location = document["meta"]["location"]
        return self._json(document, headers={"ETag": etag(row.version), "Content-Location": location})

    def _lean_search(self, resource_endpoint: str) -> Response | None:
        """A search with only filter/startIndex/count: filtered in SQL, documents served as stored."""
        resource_type = self._resource_type(resource_endpoint)
        if resource_type is None or not set(request.args) <= RESOURCE_QUERY_KEYS:
            return None
        search_request, _ = self.service.read_search_query([resource_type], request.args.to_dict())
        total, documents = self.storage.search_documents(
            resource_type, search_request, base_url=self._base_url()
        )
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "itemsPerPage": len(documents),
            "startIndex": search_request.start_index or 1,
            "Resources": documents,
        }
        return self._json(body)

    def _lean_create(self, resource_endpoint: str) -> Response | None:
        """POST: validated by scim2-models once, stored, and the stored JSON returned."""
        resource_type = self._resource_type(resource_endpoint)
        if resource_type is None or request.args:
            return None
        body = self.normalise_body("POST", self.read_body(ScimRequest("POST", "", "")))
        resource = self.service.read_creation(resource_type, body, request.headers.get("Content-Type"))
        with self.storage.operation():
            document = self.storage.create_document(resource_type, resource)
        base_url = self._base_url()
        endpoint = "Users" if resource_type.id == USER else "Groups"
        location = f"{base_url}/{endpoint}/{document['id']}"
        document["meta"]["location"] = location
        for member in document.get("members", []):
            member["$ref"] = f"{base_url}/{member['$ref']}"
        return self._json(
            document,
            status=HTTPStatus.CREATED,
            headers={"Location": location, "Content-Location": location, "ETag": document["meta"]["version"]},
        )

    def _lean_patch(self, resource_endpoint: str, resource_id: str) -> Response | None:
        """A Group PATCH made only of member adds/removes: touches only the named rows.

        Answers 200 with the group, or 204 when the group has more than
        ``SCIM_LARGE_GROUP_THRESHOLD`` members and ``attributes`` does not ask
        for members, so that a member change never costs O(group size).
        """
        resource_type = self._resource_type(resource_endpoint)
        if resource_type is None or resource_type.id != GROUP or "If-Match" in request.headers:
            return None
        if set(request.args) - {"attributes", "excludedAttributes"}:
            return None
        content_type = request.headers.get("Content-Type")
        self.service.ensure_json(content_type)
        try:
            body = json.loads(self.normalise_body("PATCH", self.read_body(ScimRequest("PATCH", "", ""))))
        except ValueError:
            return None
        plan = member_plan(body)
        if plan is None:
            return None
        session = db.session
        actor = g.get("scim_actor", "scim")
        threshold = int(current_app.config["SCIM_LARGE_GROUP_THRESHOLD"])
        with self.storage.operation():
            # The version bump comes first: it finds the group and locks its row, so
            # concurrent member PATCHes queue on it instead of interleaving.
            version = session.execute(
                update(Group)
                .where(Group.id == resource_id, Group.source == GroupSource.provider)
                .values(version=Group.version + 1, last_modified=utcnow())
                .returning(Group.version)
            ).scalar_one_or_none()
            if version is None:
                raise NotFoundException(detail=f"Group {resource_id!r} not found")
            added = removed = 0
            for action, values in plan:
                if action == "add":
                    added += member_rows.add_members(session, resource_id, values, actor=actor)
                elif action == "remove":
                    removed += member_rows.remove_members(session, resource_id, [v for v, _ in values])
                elif action == "remove_all":
                    removed += member_rows.remove_all_members(session, resource_id)
                else:
                    member_rows.replace_members(session, resource_id, values, actor=actor)
            audit.record(
                session,
                actor=actor,
                action="scim.group.members",
                target=f"group:{resource_id}",
                detail=f"added {added}, removed {removed}",
            )
            parameters = (
                self.service.read_response_parameters(resource_type, request.args)
                if request.args
                else None
            )
            asks_members = parameters is not None and bool(parameters.attributes) and wants_members(parameters)
            large = member_rows.count_members_up_to(session, resource_id, threshold + 1) > threshold
            if large and not asks_members:
                return Response(status=HTTPStatus.NO_CONTENT, headers={"ETag": etag(version)})
            if parameters is not None:
                resource = self.storage.get(resource_type, resource_id)
                return self._to_response(
                    self.service.patch_response(self._base_url(), resource, parameters)
                )
            row = session.get(Group, resource_id, populate_existing=True)
            assert row is not None
            document = self.storage.document(GROUP, row, base_url=self._base_url())
        return self._json(
            document,
            headers={"ETag": etag(version), "Content-Location": document["meta"]["location"]},
        )


def member_plan(body: Any) -> list[tuple[str, list[tuple[str, str | None]]]] | None:
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
    plan: list[tuple[str, list[tuple[str, str | None]]]] = []
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


def make_server(app: Flask) -> UniviewScimServer:
    """Build the SCIM server of ``app`` on its database session."""
    from scim_server.scim.provider import build_provider

    provider = build_provider(app.config)
    storage = SqlScimStorage(
        provider, lambda: db.session, actor=lambda: str(g.get("scim_actor", "scim"))
    )
    return UniviewScimServer(storage, provider, url_prefix="/scim/v2", name="scim")


__all__ = ["NotFoundException", "UniviewScimServer", "make_server", "member_plan"]
