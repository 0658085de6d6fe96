"""The OIDC relying party: authorization-code flow with every check a portal login needs.

authlib's Flask client does discovery, builds the authorization URL (with PKCE S256)
and exchanges the code. Everything that decides whether to trust the answer is done
here, explicitly, because authlib alone accepts some of it (an ``iss`` parameter it
does not read, the algorithms the provider lists, a token response without an ID
token):

- state: random, held in the browser session *and* as a database row the callback
  deletes, so a response is bound to the browser and usable once, across processes;
- nonce: stored with the flow, must equal the ID token's (OIDC Core §3.1.3.7);
- discovery ``issuer`` must equal the configured issuer (OIDC Discovery §4.3);
- RFC 9207 ``iss`` response parameter: checked when present, required when the
  provider advertises ``authorization_response_iss_parameter_supported``;
- ID token: asymmetric signature from the JWKS (re-fetched once on an unknown ``kid``;
  ``none`` and HMAC refused), ``iss``, ``aud`` contains the client id, ``azp`` equals
  it when present (required with several audiences), ``exp``/``iat`` with a small
  leeway, ``sub`` present;
- userinfo ``sub`` must equal the ID token's (OIDC Core §5.3.2).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import current_app
from flask import session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.orm import Session

from portal_adapter.models import OidcLoginFlow
from portal_adapter.models import utcnow

logger = logging.getLogger(__name__)

CLIENT_NAME = "kaseyaone"
STATE_KEY = "oidc_state"
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric algorithms only: ``none`` proves nothing, and an HMAC key would be the
client secret, which an attacker who knows it could use to forge tokens."""
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
LEEWAY_SECONDS = 60
FLOW_LIFETIME = datetime.timedelta(minutes=10)
METADATA_LIFETIME_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 10


class OidcError(Exception):
    """The provider's answer cannot be trusted; ``reason`` is a stable code for logs and tests."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedLogin:
    """What a verified callback yields: the merged claims and the raw ID token."""

    claims: dict[str, Any]
    id_token: str


class RelyingParty:
    """The configured provider client of one application, with its JWKS cache."""

    def __init__(self, app: Flask, oauth: OAuth) -> None:
        self.issuer: str | None = app.config.get("OIDC_ISSUER") or None
        self.client_id: str | None = app.config.get("OIDC_CLIENT_ID") or None
        self.base_url: str = app.config["BASE_URL"]
        self.client: Any = None
        self._jwks: KeySet | None = None
        if self.issuer and self.client_id:
            self.client = oauth.register(
                CLIENT_NAME,
                client_id=self.client_id,
                client_secret=app.config.get("OIDC_CLIENT_SECRET"),
                server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": app.config["OIDC_SCOPES"],
                    "code_challenge_method": "S256",
                    "default_timeout": HTTP_TIMEOUT_SECONDS,
                },
            )

    @property
    def is_configured(self) -> bool:
        """Whether an issuer and a client id are set."""
        return self.client is not None

    @property
    def redirect_uri(self) -> str:
        """The callback URL registered at the provider, built from ``BASE_URL``."""
        return f"{self.base_url}/login/kaseyaone/callback"

    def metadata(self) -> dict[str, Any]:
        """Return the provider's discovery document, checked against the configured issuer.

        :raises OidcError: ``discovery_failed`` or ``issuer_mismatch``.
        """
        cached = self.client.server_metadata
        if time.time() - cached.get("_loaded_at", 0) > METADATA_LIFETIME_SECONDS:
            cached.pop("_loaded_at", None)
        try:
            metadata: dict[str, Any] = self.client.load_server_metadata()
        except (requests.RequestException, ValueError) as error:
            logger.warning("OIDC discovery failed: %s", type(error).__name__)
            raise OidcError("discovery_failed") from error
        if metadata.get("issuer") != self.issuer:
            # A discovery document for another issuer: a misconfiguration or a mix-up
            # attack (OIDC Discovery §4.3). Drop it so a fixed provider is re-read.
            metadata.pop("_loaded_at", None)
            raise OidcError("issuer_mismatch")
        return metadata

    def start(self, db: Session, *, next_path: str) -> str:
        """Begin a login: store the flow, bind its state to the browser, return the URL.

        :raises OidcError: When discovery fails or names another issuer.
        """
        self.metadata()
        created = self.client.create_authorization_url(self.redirect_uri)
        state: str = created["state"]
        db.execute(delete(OidcLoginFlow).where(OidcLoginFlow.created_at < utcnow() - FLOW_LIFETIME))
        db.add(
            OidcLoginFlow(
                state_hash=_digest(state),
                nonce=created["nonce"],
                code_verifier=created["code_verifier"],
                next_path=next_path,
            )
        )
        db.flush()
        session[STATE_KEY] = state
        url: str = created["url"]
        return url

    def finish(self, db: Session, args: dict[str, str]) -> tuple[VerifiedLogin, str]:
        """Verify an authorization response; return the login and the stored ``next`` path.

        The flow row is deleted first, so even a failed attempt uses the state up.

        :raises OidcError: With the reason of the first check that failed.
        """
        expected_state = session.pop(STATE_KEY, None)
        state = args.get("state")
        if not state or not expected_state or not hmac.compare_digest(state, expected_state):
            raise OidcError("state_mismatch")
        flow = db.get(OidcLoginFlow, _digest(state))
        if flow is None:
            raise OidcError("state_unknown")
        db.delete(flow)
        db.flush()
        if utcnow() - flow.created_at > FLOW_LIFETIME:
            raise OidcError("flow_expired")
        if args.get("error"):
            raise OidcError("provider_error")
        metadata = self.metadata()
        self._check_iss_parameter(metadata, args.get("iss"))
        code = args.get("code")
        if not code:
            raise OidcError("code_missing")
        try:
            token = self.client.fetch_access_token(
                redirect_uri=self.redirect_uri, code=code, code_verifier=flow.code_verifier
            )
        except (OAuthError, requests.RequestException, ValueError) as error:
            logger.info("OIDC token request refused: %s", type(error).__name__)
            raise OidcError("token_error") from error
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise OidcError("id_token_missing")
        claims = self.verify_id_token(metadata, id_token, nonce=flow.nonce)
        userinfo = self._userinfo(metadata, token.get("access_token"), subject=claims["sub"])
        return VerifiedLogin(claims={**userinfo, **claims}, id_token=id_token), flow.next_path

    def _check_iss_parameter(self, metadata: dict[str, Any], iss: str | None) -> None:
        """RFC 9207 §2.4: the ``iss`` parameter names who answered (mix-up defence)."""
        if iss is None:
            if metadata.get("authorization_response_iss_parameter_supported") is True:
                raise OidcError("iss_missing")
            return
        if iss != self.issuer:
            raise OidcError("iss_mismatch")

    def verify_id_token(
        self, metadata: dict[str, Any], id_token: str, *, nonce: str
    ) -> dict[str, Any]:
        """Check an ID token's signature and claims (OIDC Core §3.1.3.7); return its claims.

        :raises OidcError: ``malformed_token``, ``alg_refused``, ``unknown_key``,
            ``bad_signature``, ``issuer_mismatch``, ``audience_mismatch``,
            ``azp_mismatch``, ``expired``, ``iat_invalid``, ``nonce_mismatch``,
            ``sub_missing``.
        """
        header = _header_of(id_token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise OidcError("alg_refused")
        kid = header.get("kid")
        key = _pick_key(self._key_set(metadata), kid, alg)
        if key is None:
            # Providers rotate keys: an unknown kid earns exactly one fresh fetch.
            key = _pick_key(self._key_set(metadata, refresh=True), kid, alg)
        if key is None:
            raise OidcError("unknown_key")
        try:
            decoded = jwt.decode(id_token, key, algorithms=[alg])
        except (JoseError, ValueError) as error:
            raise OidcError("bad_signature") from error
        claims = dict(decoded.claims)
        self._check_claims(claims, nonce=nonce)
        return claims

    def _check_claims(self, claims: dict[str, Any], *, nonce: str) -> None:
        if claims.get("iss") != self.issuer:
            raise OidcError("issuer_mismatch")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.client_id not in audiences:
            raise OidcError("audience_mismatch")
        azp = claims.get("azp")
        if (azp is not None or len(audiences) > 1) and azp != self.client_id:
            raise OidcError("azp_mismatch")
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + LEEWAY_SECONDS < now:
            raise OidcError("expired")
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat - LEEWAY_SECONDS > now:
            raise OidcError("iat_invalid")
        presented = claims.get("nonce")
        if not isinstance(presented, str) or not hmac.compare_digest(presented, nonce):
            raise OidcError("nonce_mismatch")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise OidcError("sub_missing")

    def _key_set(self, metadata: dict[str, Any], *, refresh: bool = False) -> KeySet:
        if self._jwks is not None and not refresh:
            return self._jwks
        uri = metadata.get("jwks_uri")
        if not uri:
            raise OidcError("jwks_missing")
        try:
            response = requests.get(uri, timeout=HTTP_TIMEOUT_SECONDS)
            response.raise_for_status()
            self._jwks = KeySet.import_key_set(response.json())
        except (requests.RequestException, ValueError, JoseError) as error:
            logger.warning("OIDC JWKS fetch failed: %s", type(error).__name__)
            raise OidcError("jwks_failed") from error
        return self._jwks

    def _userinfo(
        self, metadata: dict[str, Any], access_token: str | None, *, subject: str
    ) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint or not access_token:
            return {}
        try:
            response = requests.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=HTTP_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            userinfo = response.json()
        except (requests.RequestException, ValueError) as error:
            logger.info("OIDC userinfo failed: %s", type(error).__name__)
            raise OidcError("userinfo_failed") from error
        if not isinstance(userinfo, dict) or userinfo.get("sub") != subject:
            # Userinfo for another subject means a substituted token (OIDC Core §5.3.2).
            raise OidcError("userinfo_sub_mismatch")
        return userinfo

    def end_session_url(
        self, *, id_token_hint: str | None, post_logout_redirect_uri: str
    ) -> str | None:
        """Return the provider's RP-initiated logout URL, or None when it has none."""
        if not self.is_configured:
            return None
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except OidcError:
            return None
        if not endpoint:
            return None
        params = {
            "client_id": self.client_id or "",
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _header_of(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as error:
        raise OidcError("malformed_token") from error
    if not isinstance(header, dict):
        raise OidcError("malformed_token")
    return header


def _pick_key(keys: KeySet, kid: Any, alg: str) -> Any:
    """The key named by ``kid``; without a kid, the only key of the algorithm's type."""
    kty = KEY_TYPES[alg[:2]]
    candidates = [key for key in keys.keys if key.key_type == kty]
    if kid is not None:
        return next((key for key in candidates if key.kid == kid), None)
    return candidates[0] if len(candidates) == 1 else None


def relying_party() -> RelyingParty:
    """The current application's relying party."""
    rp: RelyingParty = current_app.extensions["uniview_oidc"]
    return rp


def init_app(app: Flask) -> None:
    """Create the OAuth registry for this app (never module-level) and its relying party."""
    oauth = OAuth(app)
    app.extensions["uniview_oidc"] = RelyingParty(app, oauth)
