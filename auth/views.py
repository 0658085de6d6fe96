"""The login pages: /login, the bypass link, Log in with KaseyaOne, its callback, /logout.

Views are glue: they parse the form or the callback, call :mod:`portal_adapter.login`
or the relying party, and translate refusals into a page in one place
(:func:`_refusal_page`). Error messages stay generic; the precise reason goes to the
log and the audit trail.
"""

from __future__ import annotations

import datetime
import logging

from flask import Blueprint
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from auth import oidc
from auth.next_url import safe_next
from auth.session_check import db_session
from auth.session_check import start_session
from portal_adapter import audit
from portal_adapter import integration
from portal_adapter import login
from portal_adapter import sessions
from portal_adapter.login import LoginRefused

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, template_folder="templates")

MAX_FIELD = 1024
ID_TOKEN_HINT_MAX = 4096
GENERIC_OIDC_ERROR = "Logging in with KaseyaOne did not work. Try again, or ask your administrator."
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # A login form inside someone else's frame is a clickjacking target.
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
STATUS_OF_REASON = {
    "invalid_credentials": 401,
    "sso_required": 403,
    "unified_login_off": 403,
    "pending": 403,
    "disabled": 403,
}


def _client_address() -> str:
    # Behind a proxy, ProxyFix (configured by the deployment) makes this the client's.
    return request.remote_addr or "unknown"


def _window() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(current_app.config["LOGIN_RATE_WINDOW"]))


def _limit() -> int:
    return int(current_app.config["LOGIN_RATE_LIMIT"])


def _default_next() -> str:
    return "/admin/" if "pages.home" in current_app.view_functions else "/"


def _next_target(value: str | None) -> str:
    return safe_next(value, default=_default_next())


def _unified_login_available() -> bool:
    rp = oidc.relying_party()
    return rp.is_configured and integration.read_settings(db_session()).unified_login


def _login_page(
    *,
    status: int = 200,
    error: str | None = None,
    username: str = "",
    bypass_action: str | None = None,
    retry_after: int | None = None,
) -> ResponseReturnValue:
    settings = integration.read_settings(db_session())
    next_path = request.values.get("next") or ""
    body = render_template(
        "auth/login.html",
        error=error,
        username=username,
        next_path=safe_next(next_path, default="") if next_path else "",
        show_kaseyaone=oidc.relying_party().is_configured and settings.unified_login,
        require_sso=settings.require_sso and bypass_action is None,
        form_action=bypass_action or "/login",
        bypass=bypass_action is not None,
    )
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    headers.update(PAGE_HEADERS)
    return body, status, headers


def _too_many(wait: int, *, bypass_action: str | None = None) -> ResponseReturnValue:
    minutes = max(1, round(wait / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return _login_page(
        status=429,
        error=f"Too many attempts. Wait {minutes} {unit} and try again.",
        bypass_action=bypass_action,
        retry_after=wait,
    )


def _refusal_page(
    refused: LoginRefused, *, username: str = "", bypass_action: str | None = None
) -> ResponseReturnValue:
    """Translate a refused login into a page: the one place for this adapter."""
    logger.info("login refused: %s", refused.reason)
    status = STATUS_OF_REASON.get(refused.reason, 403)
    if refused.reason in ("pending", "disabled") and not username:
        body = render_template(
            "auth/message.html", title="Ask your administrator", message=refused.detail
        )
        return body, status, PAGE_HEADERS
    return _login_page(
        status=status, error=refused.detail, username=username, bypass_action=bypass_action
    )


@bp.get("/login")
def login_form() -> ResponseReturnValue:
    """Show the login page (a signed-in visitor goes straight on)."""
    if g.get("current_account") is not None:
        return redirect(_next_target(request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_local() -> ResponseReturnValue:
    """Check a local username and password under the rate limit and require-SSO rule."""
    return _local_login(via_bypass=False)


def _local_login(*, via_bypass: bool, bypass_action: str | None = None) -> ResponseReturnValue:
    db = db_session()
    username = request.form.get("username", "")[:255]
    password = request.form.get("password", "")[:MAX_FIELD]
    address = _client_address()
    keys = [f"user:{username.strip().casefold()}", f"addr:{address}"]
    if via_bypass:
        keys.append(f"bypass:{address}")
    wait = login.retry_after(db, keys, limit=_limit(), window=_window())
    if wait is not None:
        logger.info("login rate-limited")
        return _too_many(wait, bypass_action=bypass_action)
    if not username or not password:
        return _login_page(
            status=400,
            error="Enter your username and password.",
            username=username,
            bypass_action=bypass_action,
        )
    actor = f"login:{address}"
    try:
        account = login.authenticate_local(
            db, username, password, via_bypass=via_bypass, actor=actor
        )
    except LoginRefused as refused:
        if refused.reason == "invalid_credentials":
            login.record_attempt(db, keys, window=_window())
        elif via_bypass:
            login.record_attempt(db, keys[2:], window=_window())
        db.commit()
        return _refusal_page(refused, username=username, bypass_action=bypass_action)
    if via_bypass:
        # Every use of the bypass link counts, successful or not.
        login.record_attempt(db, keys[2:], window=_window())
    start_session(account, method="bypass" if via_bypass else "local")
    db.commit()
    return redirect(_next_target(request.form.get("next")))


@bp.route("/login/local/<secret>", methods=["GET", "POST"])
def bypass(secret: str) -> ResponseReturnValue:
    """The bypass link: a local login that require SSO lets through, for whoever has the URL."""
    db = db_session()
    address = _client_address()
    wait = login.retry_after(db, [f"bypass:{address}"], limit=_limit(), window=_window())
    if wait is not None:
        return _too_many(wait)
    if not login.is_bypass_secret(db, secret[:256]):
        login.record_attempt(db, [f"bypass:{address}"], window=_window())
        audit.record(
            db,
            actor=f"login:{address}",
            action="login.bypass_refused",
            target="integration:bypass_link",
            level="warning",
        )
        db.commit()
        # Same answer as any unknown URL: the link's existence is not confirmed.
        return render_template(
            "auth/message.html", title="Page not found", message="This link is not valid."
        ), 404
    action = request.path
    if request.method == "GET":
        return _login_page(bypass_action=action)
    return _local_login(via_bypass=True, bypass_action=action)


@bp.get("/login/kaseyaone")
def kaseyaone() -> ResponseReturnValue:
    """Start the authorization-code flow (refused while unified login is off)."""
    if not _unified_login_available():
        return _login_page(status=403, error="Log in with KaseyaOne is turned off.")
    db = db_session()
    try:
        url = oidc.relying_party().start(db, next_path=_next_target(request.args.get("next")))
    except oidc.OidcError as error:
        logger.warning("OIDC login could not start: %s", error.reason)
        db.rollback()
        return _login_page(status=502, error=GENERIC_OIDC_ERROR)
    db.commit()
    return redirect(url)


@bp.get("/login/kaseyaone/callback")
def kaseyaone_callback() -> ResponseReturnValue:
    """Verify the provider's answer, decide the login, open a session."""
    db = db_session()
    if not _unified_login_available():
        session.pop(oidc.STATE_KEY, None)
        return _login_page(status=403, error="Log in with KaseyaOne is turned off.")
    try:
        verified, next_path = oidc.relying_party().finish(db, request.args.to_dict())
    except oidc.OidcError as error:
        logger.info("OIDC callback refused: %s", error.reason)
        audit.record(
            db,
            actor="login:oidc",
            action="login.oidc_refused",
            detail=error.reason,
            level="warning",
        )
        # The consumed flow row stays deleted: a refused response is not retried.
        db.commit()
        return _login_page(status=400, error=GENERIC_OIDC_ERROR)
    config = current_app.config
    claims = login.claims_to_provider_claims(
        verified.claims,
        username_claim=config["OIDC_USERNAME_CLAIM"],
        email_claim=config["OIDC_EMAIL_CLAIM"],
        groups_claim=config["OIDC_GROUPS_CLAIM"],
    )
    try:
        account = login.decide_provider_login(db, claims, actor=f"oidc:{claims.subject}")
    except LoginRefused as refused:
        db.commit()
        return _refusal_page(refused)
    hint = verified.id_token if len(verified.id_token) <= ID_TOKEN_HINT_MAX else None
    start_session(account, method="oidc", id_token_hint=hint)
    db.commit()
    return redirect(safe_next(next_path, default=_default_next()))


@bp.get("/logout")
def logout_confirm() -> ResponseReturnValue:
    """Ask to confirm (logging out changes state, so it is a POST with a CSRF token)."""
    if g.get("current_account") is None:
        return redirect("/login")
    return render_template("auth/logout.html"), 200, PAGE_HEADERS


@bp.post("/logout")
def logout() -> Response:
    """End the session row, clear the cookie, continue to the provider's logout if any."""
    db = db_session()
    login_session = g.get("login_session")
    hint = None
    method = None
    if login_session is not None:
        hint = login_session.id_token_hint
        method = login_session.method
        sessions.end_session(db, login_session.id)
        db.commit()
    session.clear()
    target = "/login"
    if method == "oidc":
        rp = oidc.relying_party()
        end_url = rp.end_session_url(
            id_token_hint=hint, post_logout_redirect_uri=f"{rp.base_url}/login"
        )
        if end_url:
            target = end_url
    return redirect(target)
