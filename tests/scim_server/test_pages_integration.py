"""The KaseyaOne configuration page through the Flask client: rules, roles, CSRF."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AuditEvent
from portal_adapter.models import Role
from portal_adapter.models import SyncOutboxEntry
from portal_adapter.models import SyncStatus
from scim_server.extensions import db
from tests.signin import csrf_from
from tests.signin import post_form
from tests.signin import sign_in

PAGE = "/admin/integrations/kaseyaone"
SETTINGS = "/admin/integrations/kaseyaone/settings"


@pytest.fixture
def superuser(make_account: Callable[..., Account]) -> Account:
    return make_account(username="root", role=Role.superuser, password="a long root password")


def _settings(app: Flask) -> dict[str, object]:
    with app.app_context():
        return integration.read_settings(db.session).as_dict()


def test_a_visitor_without_a_session_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_superuser_sees_every_toggle_labelled_and_the_dependents_disabled(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    html = client.get(PAGE).get_data(as_text=True)
    for label in (
        "Log in with KaseyaOne",
        "Require log in with KaseyaOne",
        "Create accounts automatically",
        "Deprovision users automatically",
        "Enable access groups",
    ):
        assert label in html
    assert html.count('role="switch"') == 5
    assert 'name="require_sso" id="require_sso" disabled aria-describedby="require-reason"' in html
    assert "Unavailable while Log in with KaseyaOne is off" in html
    assert "Signed in as <strong>root</strong>" in html


def test_turning_unified_login_on_then_require_sso_with_an_exception_saves_both(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    response = post_form(
        client, PAGE, SETTINGS, {"section": "unified_login", "unified_login": "on"}
    )
    assert response.status_code == 303
    response = post_form(
        client,
        PAGE,
        SETTINGS,
        {"section": "require_sso", "require_sso": "on", "sso_exceptions": ["root"]},
    )
    assert response.status_code == 303
    settings = _settings(app)
    assert settings["unified_login"] is True
    assert settings["require_sso"] is True
    assert settings["sso_exceptions"] == ["root"]
    page = client.get(PAGE).get_data(as_text=True)
    assert "Saved; the change is being pushed to KaseyaOne." in page
    assert "Sync pending" in page


def test_a_dependent_toggle_posted_while_unified_login_is_off_is_refused_with_the_rule(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    response = post_form(
        client, PAGE, SETTINGS, {"section": "auto_create_users", "auto_create_users": "on"}
    )
    assert response.status_code == 303
    assert _settings(app)["auto_create_users"] is False
    page = client.get(PAGE).get_data(as_text=True)
    assert "unified login must be on" in page


@pytest.mark.parametrize("role", [Role.read_only, Role.technician, Role.administrator])
def test_a_non_superuser_forging_a_settings_post_gets_403_and_nothing_changes(
    app: Flask, client: FlaskClient, make_account: Callable[..., Account], role: Role
) -> None:
    account = make_account(username="mallory", role=role)
    sign_in(app, client, account)
    # A valid CSRF token of the attacker's own session: only the role check stands in the way.
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    before = _settings(app)
    response = client.post(
        SETTINGS, data={"section": "unified_login", "unified_login": "on", "csrf_token": token}
    )
    assert response.status_code == 403
    assert _settings(app) == before
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="integration.update").count() == 0
    assert client.get(PAGE).status_code == 403


def test_a_settings_post_without_a_csrf_token_is_refused(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    response = client.post(SETTINGS, data={"section": "unified_login", "unified_login": "on"})
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)
    assert _settings(app)["unified_login"] is False


def test_a_created_token_is_shown_once_and_listed_by_prefix_after(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    response = post_form(client, PAGE, f"{PAGE}/tokens", {"name": "kaseyaone"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "shown only this once" in html
    assert response.headers["Cache-Control"] == "no-store"
    secret = html.split('id="new-token-value" value="')[1].split('"')[0]
    assert secret.startswith("uvscim_")
    again = client.get(PAGE).get_data(as_text=True)
    assert secret not in again
    assert secret[:12] in again
    response = post_form(client, PAGE, f"{PAGE}/tokens/revoke", {"name": "kaseyaone"})
    assert response.status_code == 303
    assert "revoked" in client.get(PAGE).get_data(as_text=True)


def test_saving_require_sso_keeps_exceptions_of_users_without_a_local_password(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    with app.app_context():
        integration.update_settings(
            db.session,
            {"unified_login": True, "sso_exceptions": ["root", "someone.else"]},
            actor="test",
        )
        db.session.commit()
    sign_in(app, client, superuser)
    html = client.get(PAGE).get_data(as_text=True)
    assert 'value="someone.else" checked' in html
    # The browser sends every checked box: both stay.
    response = post_form(
        client,
        PAGE,
        SETTINGS,
        {"section": "require_sso", "require_sso": "on", "sso_exceptions": ["root", "someone.else"]},
    )
    assert response.status_code == 303
    assert _settings(app)["sso_exceptions"] == ["root", "someone.else"]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"section": "unified_login"}, {"unified_login": False}),
        ({"section": "unified_login", "unified_login": "on"}, {"unified_login": True}),
        (
            {"section": "auto_create_users", "default_role": "technician"},
            {"auto_create_users": False, "default_role": "technician"},
        ),
        ({"section": "require_sso"}, {"require_sso": False, "sso_exceptions": []}),
    ],
)
def test_a_section_form_becomes_exactly_that_sections_changes(
    form: dict[str, str], expected: dict[str, object]
) -> None:
    from werkzeug.datastructures import MultiDict

    from scim_server.admin.pages.integration import section_changes

    assert section_changes(form["section"], MultiDict(form)) == expected


def test_an_unknown_section_is_refused_and_nothing_changes(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    sign_in(app, client, superuser)
    response = post_form(client, PAGE, SETTINGS, {"section": "everything", "unified_login": "on"})
    assert response.status_code == 303
    assert _settings(app)["unified_login"] is False
    assert "unknown settings section" in client.get(PAGE).get_data(as_text=True)


def test_each_change_shows_its_own_sync_status_with_the_last_error(
    app: Flask, client: FlaskClient, superuser: Account
) -> None:
    with app.app_context():
        db.session.add_all(
            [
                SyncOutboxEntry(revision=1, settings={}, status=SyncStatus.synced),
                SyncOutboxEntry(
                    revision=2,
                    settings={},
                    status=SyncStatus.failed,
                    attempts=5,
                    last_error="HTTP 502 from the provider",
                ),
            ]
        )
        db.session.commit()
    sign_in(app, client, superuser)
    html = client.get(PAGE).get_data(as_text=True)
    assert "Sync failed" in html and "Synced" in html
    assert "HTTP 502 from the provider" in html
