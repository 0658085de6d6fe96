"""A tiny OIDC provider we control, served over real HTTP in a thread.

It checks what a real provider checks (client secret, single-use codes, PKCE S256,
redirect URI) and lets each test forge one thing wrong in its answer: the discovery
issuer, the ID token's claims, header, algorithm or key, the userinfo subject, or the
absence of an ID token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask
from flask import jsonify
from flask import request
from joserfc import jwt
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "uniview-portal"
CLIENT_SECRET = "fake-client-secret-that-is-long-enough-for-hmac-0123456789"


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Grant:
    """An issued authorization code and what it was issued for."""

    nonce: str
    code_challenge: str
    code_challenge_method: str
    redirect_uri: str
    used: bool = False


@dataclass
class Behaviour:
    """What the provider does wrong for one test (all correct by default)."""

    discovery_issuer: str | None = None
    advertise_iss_parameter: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    drop_claims: tuple[str, ...] = ()
    header: dict[str, Any] = field(default_factory=dict)
    alg: str = "RS256"
    sign_with_unpublished_key: bool = False
    omit_id_token: bool = False
    userinfo_sub: str | None = None
    userinfo_extra: dict[str, Any] = field(default_factory=dict)
    end_session: bool = True


class FakeProvider:
    """The provider: its Flask app, keys, codes and the behaviour of the current test."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        self.unpublished_key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        self.published: list[RSAKey] = [self.key]
        self.grants: dict[str, Grant] = {}
        self.behaviour = Behaviour()
        self.subject = "subject-alice"
        self.userinfo: dict[str, Any] = {}
        self.jwks_fetches = 0
        self.app = self._build_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self) -> None:
        """Forget codes and forgeries between tests."""
        self.grants.clear()
        self.behaviour = Behaviour()
        self.published = [self.key]
        self.subject = "subject-alice"
        self.userinfo = {
            "preferred_username": "alice",
            "email": "alice@example.com",
            "name": "Alice Example",
        }
        self.jwks_fetches = 0

    def start(self) -> None:
        """Serve in a daemon thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()

    def authorize(self, params: dict[str, str]) -> str:
        """Do what the user's consent at the provider does: issue a code for ``params``."""
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            nonce=params["nonce"],
            code_challenge=params["code_challenge"],
            code_challenge_method=params["code_challenge_method"],
            redirect_uri=params["redirect_uri"],
        )
        return code

    def id_token(self, nonce: str) -> str:
        """Build the ID token of the current behaviour (possibly forged)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            **self.userinfo,
            **self.behaviour.claims,
        }
        for name in self.behaviour.drop_claims:
            claims.pop(name, None)
        alg = self.behaviour.alg
        header: dict[str, Any] = {"alg": alg, "typ": "JWT", **self.behaviour.header}
        if alg == "none":
            return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
        if alg.startswith("HS"):
            return jwt.encode(header, claims, OctKey.import_key(CLIENT_SECRET), algorithms=[alg])
        key = self.unpublished_key if self.behaviour.sign_with_unpublished_key else self.key
        header.setdefault("kid", key.kid)
        return jwt.encode(header, claims, key, algorithms=[alg])

    def _build_app(self) -> Flask:
        app = Flask("fake_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            document = {
                "issuer": self.behaviour.discovery_issuer or self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
                "code_challenge_methods_supported": ["S256"],
            }
            if self.behaviour.end_session:
                document["end_session_endpoint"] = f"{self.issuer}/logout"
            if self.behaviour.advertise_iss_parameter:
                document["authorization_response_iss_parameter_supported"] = True
            return jsonify(document)

        @app.get("/jwks")
        def jwks() -> Any:
            self.jwks_fetches += 1
            return jsonify({"keys": [key.as_dict(private=False) for key in self.published]})

        @app.post("/token")
        def token() -> Any:
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            grant = self.grants.get(request.form.get("code", ""))
            if grant is None or grant.used:
                return jsonify(error="invalid_grant"), 400
            grant.used = True
            verifier = request.form.get("code_verifier", "")
            challenge = b64url(hashlib.sha256(verifier.encode()).digest())
            if grant.code_challenge_method != "S256" or challenge != grant.code_challenge:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            if request.form.get("redirect_uri") != grant.redirect_uri:
                return jsonify(error="invalid_grant", error_description="redirect_uri"), 400
            body: dict[str, Any] = {
                "access_token": "access-" + secrets.token_urlsafe(8),
                "token_type": "Bearer",
                "expires_in": 300,
            }
            if not self.behaviour.omit_id_token:
                body["id_token"] = self.id_token(grant.nonce)
            return jsonify(body)

        @app.get("/userinfo")
        def userinfo() -> Any:
            if not (request.headers.get("Authorization") or "").startswith("Bearer access-"):
                return jsonify(error="invalid_token"), 401
            sub = self.behaviour.userinfo_sub or self.subject
            return jsonify({"sub": sub, **self.userinfo, **self.behaviour.userinfo_extra})

        return app
