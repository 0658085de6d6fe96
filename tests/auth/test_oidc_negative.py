"""Every forged or broken provider answer is refused, each on its own, and leaves no session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import RSAKey
from sqlalchemy import select

from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from scim_server.extensions import db
from tests.auth.conftest import LoginDriver
from tests.auth.conftest import live_sessions
from tests.auth.fake_provider import FakeProvider

pytestmark = pytest.mark.usefixtures("unified_login")


@pytest.fixture(autouse=True)
def no_session_is_left(app: Flask, driver: LoginDriver) -> Iterator[None]:
    """Whatever a negative test forged, no session row is open and no cookie holds one."""
    yield
    assert live_sessions(app) == 0
    with driver.client.session_transaction() as flask_session:
        assert "sid" not in flask_session


def refused_reason(app: Flask) -> str | None:
    """The reason the last refused callback was audited with."""
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "login.oidc_refused")
            .order_by(AuditEvent.id.desc())
        )
        return event.detail if event is not None else None


def assert_refused(app: Flask, response: object, reason: str) -> None:
    assert response.status_code == 400  # type: ignore[attr-defined]
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Logging in with KaseyaOne did not work" in body
    assert refused_reason(app) == reason


FORGED_ANSWERS = [
    pytest.param(
        "claims", {"nonce": "another-nonce"}, "nonce_mismatch", id="a_nonce_mismatch_is_refused"
    ),
    pytest.param("drop_claims", ("nonce",), "nonce_mismatch", id="a_missing_nonce_is_refused"),
    pytest.param(
        "sign_with_unpublished_key",
        True,
        "bad_signature",
        id="a_token_signed_with_an_unpublished_key_is_refused",
    ),
    pytest.param("alg", "none", "alg_refused", id="an_unsigned_alg_none_token_is_refused"),
    pytest.param(
        "alg", "HS256", "alg_refused", id="an_hmac_token_signed_with_the_client_secret_is_refused"
    ),
    pytest.param(
        "claims",
        {"aud": "another-client"},
        "audience_mismatch",
        id="a_token_for_another_audience_is_refused",
    ),
    pytest.param(
        "claims",
        {"azp": "another-client"},
        "azp_mismatch",
        id="an_azp_naming_another_client_is_refused",
    ),
    pytest.param(
        "claims",
        {"aud": ["uniview-portal", "another-client"]},
        "azp_mismatch",
        id="several_audiences_without_azp_are_refused",
    ),
    pytest.param(
        "claims",
        {"iss": "https://evil.example"},
        "issuer_mismatch",
        id="a_token_from_another_issuer_is_refused",
    ),
    pytest.param("drop_claims", ("exp",), "expired", id="a_token_without_exp_is_refused"),
    pytest.param(
        "omit_id_token",
        True,
        "id_token_missing",
        id="a_token_response_without_an_id_token_is_refused",
    ),
]
"""A provider answer altered in one way (behaviour attribute, value) and the audited reason."""


@pytest.mark.parametrize(("attribute", "value", "reason"), FORGED_ANSWERS)
def test_a_forged_or_broken_token_answer_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider, attribute: str, value: Any, reason: str
) -> None:
    setattr(provider.behaviour, attribute, value)
    assert_refused(app, driver.login(), reason)


def test_a_callback_without_state_is_refused(app: Flask, driver: LoginDriver) -> None:
    response = driver.complete(driver.begin(), state=None)
    assert_refused(app, response, "state_mismatch")


def test_a_callback_with_another_state_is_refused(app: Flask, driver: LoginDriver) -> None:
    response = driver.complete(driver.begin(), state="forged-state-value-0123456789")
    assert_refused(app, response, "state_mismatch")


def test_a_state_from_another_browser_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    victim = LoginDriver(app.test_client(), provider)
    victim_params = victim.begin()
    driver.begin()  # the attacker's own browser has a flow of its own
    response = driver.complete(victim_params)
    assert_refused(app, response, "state_mismatch")


def test_a_replayed_authorization_response_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    params = driver.begin()
    code = provider.authorize(params)
    with driver.client.session_transaction() as before:
        saved_state = dict(before)
    assert driver.callback({"code": code, "state": params["state"]}).status_code == 302
    with app.app_context():
        # Sign the first login out so only the replay could leave a session.
        from portal_adapter.models import LoginSession
        from portal_adapter.models import utcnow

        for row in db.session.scalars(select(LoginSession)):
            row.ended_at = utcnow()
        db.session.commit()
    with driver.client.session_transaction() as replayed:
        replayed.clear()
        replayed.update(saved_state)  # the cookie from before the callback, state included
    response = driver.callback({"code": code, "state": params["state"]})
    assert_refused(app, response, "state_unknown")


def test_a_code_redeemed_twice_at_the_provider_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    params = driver.begin()
    code = provider.authorize(params)
    provider.grants[code].used = True  # someone else already redeemed it
    response = driver.callback({"code": code, "state": params["state"]})
    assert_refused(app, response, "token_error")


def test_a_discovery_document_for_another_issuer_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.discovery_issuer = "https://evil.example"
    response = driver.client.get("/login/kaseyaone")
    assert response.status_code == 502
    assert "Location" not in response.headers


def test_an_iss_parameter_of_another_issuer_is_refused(app: Flask, driver: LoginDriver) -> None:
    response = driver.complete(driver.begin(), iss="https://evil.example")
    assert_refused(app, response, "iss_mismatch")


def test_a_missing_iss_parameter_is_refused_when_the_provider_always_sends_it(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.advertise_iss_parameter = True
    assert_refused(app, driver.login(), "iss_missing")


def test_the_right_iss_parameter_is_accepted_when_advertised(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.advertise_iss_parameter = True
    response = driver.complete(driver.begin(), iss=provider.issuer)
    assert response.status_code == 302
    # The autouse check wants no session: end this one, the point was the 302.
    driver.logout()


def test_a_token_with_a_tampered_payload_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    original = provider.id_token

    def tampered(nonce: str) -> str:
        header, _payload, signature = original(nonce).split(".")
        provider.behaviour.claims = {"sub": "subject-mallory"}
        forged_payload = original(nonce).split(".")[1]
        return f"{header}.{forged_payload}.{signature}"

    provider.id_token = tampered  # type: ignore[method-assign]
    try:
        assert_refused(app, driver.login(), "bad_signature")
    finally:
        del provider.id_token


def test_an_unknown_kid_refetches_the_jwks_once_and_then_accepts_a_rotated_key(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    driver.login()  # warms the JWKS cache
    driver.logout()
    fetches = provider.jwks_fetches
    rotated = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
    provider.key = rotated
    provider.published = [rotated]
    response = driver.login()
    assert response.status_code == 302
    assert provider.jwks_fetches == fetches + 1
    driver.logout()


def test_an_unknown_kid_still_unknown_after_one_refetch_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.header = {"kid": "nobody-has-this-key"}
    fetches = provider.jwks_fetches
    assert_refused(app, driver.login(), "unknown_key")
    assert provider.jwks_fetches - fetches <= 2  # the first fetch and one refetch, no loop


def test_an_expired_token_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    now = int(time.time())
    provider.behaviour.claims = {"exp": now - 3600, "iat": now - 7200}
    assert_refused(app, driver.login(), "expired")


def test_a_token_issued_in_the_future_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    now = int(time.time())
    provider.behaviour.claims = {"iat": now + 3600, "exp": now + 7200}
    assert_refused(app, driver.login(), "iat_invalid")


def test_userinfo_for_another_subject_is_refused(
    app: Flask, driver: LoginDriver, provider: FakeProvider
) -> None:
    provider.behaviour.userinfo_sub = "subject-mallory"
    assert_refused(app, driver.login(), "userinfo_sub_mismatch")
    with app.app_context():
        assert db.session.scalar(select(Account)) is None


def test_a_provider_error_response_is_refused(app: Flask, driver: LoginDriver) -> None:
    params = driver.begin()
    response = driver.callback({"state": params["state"], "error": "access_denied"})
    assert_refused(app, response, "provider_error")


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "///evil.example",
        "/ok\x00",
    ],
)
def test_an_open_redirect_next_falls_back_to_the_home_page(
    app: Flask, driver: LoginDriver, next_path: str
) -> None:
    response = driver.complete(driver.begin(next_path=next_path))
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "/admin/")
    driver.logout()
