"""The SCIM blueprint: scim2-flask's server with bearer tokens, one transaction per
request, provider quirks at the edge and lean paths for the hot requests.

The scim2-server engine serves everything (discovery, PUT, PATCH, Bulk, ETags,
errors). Four hot requests take a lean path that skips its pydantic round-trips
(validate, copy, publish, dump per resource): GET by id and searches without
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
from scim2_models import ConflictException
from scim2_models import Error
from scim2_models import NotFoundException
from scim2_models import PayloadTooLargeException
from scim2_models import ResourceType
from scim2_models import SCIMException
from scim2_models import UnauthorizedException
from scim2_models import UniquenessException
from scim2_server.requests import ScimRequest
from scim2_server.responses import SCIM_MEDIA_TYPE
from scim2_server.routing import Route
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
from scim_server.scim.engine import UniviewScimHandler
from scim_server.scim.engine import UniviewScimService
from scim_server.scim.member_patch import apply_member_plan
from scim_server.scim.member_patch import member_plan
from scim_server.scim.storage import SqlScimStorage
from scim_server.scim.storage import wants_members

logger = logging.getLogger(__name__)

ACTIVITY_INTERVAL = datetime.timedelta(minutes=1)
"""``last_provider_activity_at`` is written at most this often (spares a write per request)."""

RESOURCE_QUERY_KEYS = frozenset({"filter", "startIndex", "count"})
"""Search parameters the lean search path serves; anything else goes to the engine."""


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
        session = db.session()
        token = tokens.verify_token(session, presented.strip())
        if token is None:
            raise UnauthorizedException(detail="The bearer token is invalid or revoked")
        if tokens.touch_token(token):
            # Written now, before the request's own writes: every writer then takes
            # the token's row lock first, so concurrent creates cannot deadlock
            # (one waiting on the other's userName, the other on the token row).
            session.flush()
        g.scim_actor = f"scim:{token.name}"
        self._touch_provider_activity()

    def _touch_provider_activity(self) -> None:
        now = utcnow()
        if self._activity_touched is not None and now - self._activity_touched < ACTIVITY_INTERVAL:
            return
        self._activity_touched = now
        session = db.session()
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

    def _finish(self, response: Response) -> Response:
        """Commit once, only on success; anything else rolls the request back.

        Writes are flushed inside the request, so a commit rarely fails; if it
        does, the client still gets a SCIM error, not an HTML page.
        """
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            logger.info("commit refused by a constraint on %s %s", request.method, request.path)
            return self._to_response(
                self.service.error_response(UniquenessException(detail="A unique value is taken"))
            )
        except Exception:
            return self._handle_unexpected(RuntimeError("commit failed"))
        return response

    def _handle_scim_exception(self, exception: SCIMException) -> Response:
        """A client error: logged at INFO, without traceback, then the engine's SCIM body."""
        logger.info(
            "SCIM %s %s -> %s %s",
            request.method,
            request.path,
            exception.status,
            exception.scim_type or "",
        )
        return super()._handle_scim_exception(exception)

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
        """Apply ``quirks`` to a JSON body; a non-JSON body is left for the engine to refuse."""
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
        lean_views: dict[str, Callable[..., Response | None]] = {
            "query": self._lean_query,
            "search": self._lean_search,
            "create": self._lean_create,
            "patch": self._lean_patch,
        }
        lean = lean_views.get(route.name)
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
        if (
            resource_type is None
            or request.args
            or "If-None-Match" in request.headers
            or "If-Match" in request.headers
        ):
            return None
        kind = str(resource_type.id)
        # A read needs no savepoint: nothing to undo.
        row = self.storage.load_plain(kind, resource_id)
        document = self.storage.document(kind, row, base_url=self._base_url())
        location = document["meta"]["location"]
        return self._json(
            document, headers={"ETag": etag(row.version), "Content-Location": location}
        )

    def _lean_search(self, resource_endpoint: str) -> Response | None:
        """A search with only filter/startIndex/count: filtered in SQL, served as stored."""
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
        resource = self.service.read_creation(
            resource_type, body, request.headers.get("Content-Type")
        )
        with self.storage.sole_operation():
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
            headers={
                "Location": location,
                "Content-Location": location,
                "ETag": document["meta"]["version"],
            },
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
            decoded = json.loads(self.read_body(ScimRequest("PATCH", "", "")))
        except ValueError:
            return None
        # Normalised as ``normalise_body`` would, without a dump and a second parse.
        body = quirks.normalise_patch(decoded, self._known_schemas)
        plan = member_plan(body)
        if plan is None:
            return None
        session = db.session()
        actor = str(g.get("scim_actor", "scim"))
        threshold = int(current_app.config["SCIM_LARGE_GROUP_THRESHOLD"])
        with self.storage.sole_operation():
            # The version bump comes first: it finds the group and locks its row, so
            # concurrent member PATCHes queue on it instead of interleaving.
            # RETURNING every column the response needs spares reading the row again.
            row = session.execute(
                update(Group)
                .where(Group.id == resource_id, Group.source == GroupSource.provider)
                .values(version=Group.version + 1, last_modified=utcnow())
                .returning(
                    Group.id, Group.payload, Group.created_at, Group.last_modified, Group.version
                )
            ).first()
            if row is None:
                raise NotFoundException(detail=f"Group {resource_id!r} not found")
            version = row.version
            try:
                added, removed = apply_member_plan(session, resource_id, plan, actor=actor)
            except IntegrityError as error:
                # A user named in the PATCH was deleted by a concurrent request.
                raise ConflictException(
                    detail="A member was deleted concurrently; retry the request"
                ) from error
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
            asks_members = (
                parameters is not None and bool(parameters.attributes) and wants_members(parameters)
            )
            # A bounded count, not a read of the rows: on a large group it walks
            # threshold + 1 index entries and builds no row.
            large = member_rows.count_members_up_to(session, resource_id, threshold + 1) > threshold
            if large and not asks_members:
                return Response(status=HTTPStatus.NO_CONTENT, headers={"ETag": etag(version)})
            if parameters is not None:
                resource = self.storage.get(resource_type, resource_id)
                return self._to_response(
                    self.service.patch_response(self._base_url(), resource, parameters)
                )
            document = self.storage.document(GROUP, row, base_url=self._base_url())
        return self._json(
            document,
            headers={"ETag": etag(version), "Content-Location": document["meta"]["location"]},
        )


def make_server(app: Flask) -> UniviewScimServer:
    """Build the SCIM server of ``app`` on its database session."""
    from scim_server.scim.provider import build_provider

    provider = build_provider(app.config)
    storage = SqlScimStorage(
        provider, lambda: db.session(), actor=lambda: str(g.get("scim_actor", "scim"))
    )
    return UniviewScimServer(storage, provider, url_prefix="/scim/v2", name="scim")


__all__ = ["UniviewScimServer", "make_server"]
