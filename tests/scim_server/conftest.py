"""SCIM test helpers: a JSON client with the bearer token, and resource builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Scim:
    """Send SCIM requests through the Flask test client, with the token and media type."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(
            "/scim/v2" + path, method=method, json=body, headers=headers, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    def patch(self, path: str, *operations: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.request(
            "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **kwargs
        )

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        response = self.post(
            "/Users", {"schemas": [USER_SCHEMA], "userName": user_name, **attributes}
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return dict(response.json or {})

    def create_group(
        self, display_name: str, members: list[str] = (), **attributes: Any
    ) -> dict[str, Any]:  # type: ignore[assignment]
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": display_name,
            "members": [{"value": member} for member in members],
            **attributes,
        }
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return dict(response.json or {})


@pytest.fixture
def scim(client: FlaskClient, scim_headers: dict[str, str]) -> Scim:
    """A SCIM client authenticated with a live token."""
    return Scim(client, scim_headers)


@pytest.fixture
def member_ids(scim: Scim) -> Callable[[dict[str, Any]], set[str]]:
    """Return the member ids of a group, read back over SCIM."""

    def read(group: dict[str, Any]) -> set[str]:
        response = scim.get(f"/Groups/{group['id']}")
        assert response.status_code == 200
        return {member["value"] for member in (response.json or {}).get("members", [])}

    return read


@pytest.fixture
def served_app(app: Any) -> Any:
    """``app`` served over real HTTP on 127.0.0.1 (random port), threaded; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
