"""The documented KaseyaOne procedures, walked in Chromium by a superuser.

Each test signs in through /login with a local password, works the pages with the
mouse or keyboard as a person would, checks the database, saves a screenshot of every
page it reaches into test-artifacts/, and runs axe-core on each page (zero serious or
critical findings).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portal_adapter import integration
from portal_adapter.models import Account
from portal_adapter.models import AccountSource
from portal_adapter.models import AccountStatus
from portal_adapter.models import CreatedBy
from portal_adapter.models import Group
from portal_adapter.models import GroupMembership
from portal_adapter.models import GroupSource
from portal_adapter.models import IdentityStatus
from portal_adapter.models import MembershipSource
from portal_adapter.models import Organization
from portal_adapter.models import OrganizationGroup
from portal_adapter.models import ProviderIdentity
from portal_adapter.models import Role
from portal_adapter.passwords import hash_password
from scim_server.extensions import db
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"
VIEWPORT = {"width": 1366, "height": 768}
"""A laptop screen: every screenshot is taken at this size (full page)."""


@pytest.fixture
def axe_path() -> Path:
    """axe-core from the npm registry (``npm ci --prefix tests/e2e``)."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci --prefix tests/e2e`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE


@pytest.fixture
def laptop(browser: Any) -> Iterator[Any]:
    """A fresh browser page the size of a laptop screen."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    """A served app holding a superuser ``root`` with a local password."""
    live = live_server()
    with live.app.app_context():
        db.session.add(
            Account(
                username="root",
                username_ci="root",
                email="root@example.com",
                role=Role.superuser,
                password_hash=hash_password(PASSWORD),
            )
        )
        db.session.commit()
    return live


class Checker:
    """Screenshots and accessibility checks for one test."""

    def __init__(self, page: Any, artifacts: Path, axe: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.axe = axe
        self.findings: dict[str, list[str]] = {}

    def check(self, name: str, *, full_page: bool = True) -> None:
        """Screenshot the page as ``pages-<name>.png`` and record axe's serious findings."""
        self.page.screenshot(path=str(self.artifacts / f"pages-{name}.png"), full_page=full_page)
        assert self.page.locator("h1").count() == 1, f"{name}: one h1 per page"
        assert self.page.locator("html").get_attribute("lang") == "en"
        self.page.add_script_tag(path=str(self.axe))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
        )
        serious = [
            f"{v['id']} ({v['impact']}): {', '.join(v['nodes'][:3])}"
            for v in result
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            self.findings[name] = serious

    def assert_accessible(self) -> None:
        """Fail with every serious or critical finding of every checked page."""
        assert self.findings == {}


@pytest.fixture
def checker(laptop: Any, artifacts_dir: Path, axe_path: Path) -> Iterator[Checker]:
    checks = Checker(laptop, artifacts_dir, axe_path)
    yield checks
    checks.assert_accessible()


def sign_in(page: Any, server: LiveServer, path: str) -> None:
    """Open ``path``, get sent to /login, sign in as root and land back on ``path``."""
    page.goto(server.url + path)
    assert "/login" in page.url
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(server.url + path)


def settings_of(server: LiveServer) -> dict[str, Any]:
    with server.app.app_context():
        values = integration.read_settings(db.session).as_dict()
        db.session.remove()
        return values


def save(page: Any, button: str) -> None:
    """Press a section's Save button and wait for the page to come back."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def seed_provider_data(server: LiveServer) -> None:
    """What KaseyaOne pushed: a group, one user with an account, one pending user."""
    with server.app.app_context():
        session = db.session
        account = Account(
            username="jit.user",
            username_ci="jit.user",
            email="jit.user@example.com",
            role=Role.read_only,
            source=AccountSource.provider,
            created_by=CreatedBy.jit_scim,
        )
        session.add(account)
        session.flush()
        linked = ProviderIdentity(
            external_id="sub-jit",
            user_name="jit.user",
            user_name_ci="jit.user",
            status=IdentityStatus.linked,
            account_id=account.id,
        )
        pending = ProviderIdentity(
            external_id="sub-pending",
            user_name="new.person",
            user_name_ci="new.person",
            display_name="New Person",
            email="new.person@example.com",
        )
        group = Group(
            display_name="Helpdesk", display_name_ci="helpdesk", source=GroupSource.provider
        )
        session.add_all([linked, pending, group])
        session.flush()
        session.add(
            GroupMembership(
                group_id=group.id,
                identity_id=linked.id,
                source=MembershipSource.provider,
                display="jit.user",
            )
        )
        session.commit()
        session.remove()


def test_dependent_toggles_are_disabled_with_the_reason_while_unified_login_is_off(
    server: LiveServer, laptop: Any, checker: Checker
) -> None:
    page = laptop
    sign_in(page, server, "/admin/integrations")
    checker.check("integrations")
    page.get_by_role("link", name="Show configuration").click()
    assert page.get_by_role("heading", level=1).inner_text() == "KaseyaOne integration"
    assert not page.get_by_role("switch", name="Log in with KaseyaOne", exact=True).is_checked()
    for name in (
        "Require log in with KaseyaOne",
        "Create accounts automatically",
        "Deprovision users automatically",
        "Enable access groups",
    ):
        switch = page.get_by_role("switch", name=name, exact=True)
        assert switch.is_disabled(), name
        reason = page.locator(f"#{switch.get_attribute('aria-describedby')}")
        assert "Unavailable while Log in with KaseyaOne is off" in reason.inner_text()
    assert page.get_by_role("button", name="Save require log in").is_disabled()
    checker.check("kaseyaone-unified-login-off")


def test_a_superuser_walks_every_documented_procedure(
    server: LiveServer, laptop: Any, checker: Checker
) -> None:
    page = laptop
    seed_provider_data(server)
    sign_in(page, server, "/admin/integrations/kaseyaone")

    # To disable or re-enable Login with KaseyaOne: with the keyboard only.
    page.get_by_role("switch", name="Log in with KaseyaOne", exact=True).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert settings_of(server)["unified_login"] is True
    assert page.get_by_role("switch", name="Require log in with KaseyaOne", exact=True).is_enabled()

    # To enable Require Login with KaseyaOne, with root as an exception.
    page.get_by_role("switch", name="Require log in with KaseyaOne", exact=True).check()
    page.get_by_role("checkbox", name="root").check()
    save(page, "Save require log in")
    # The bypass link for users without an exception: create it, then it can be copied.
    save(page, "Create link")
    assert "/login/local/" in page.get_by_label("Bypass log-in link").input_value()

    # To enable automatic user creation, with a low default role.
    page.get_by_role("switch", name="Create accounts automatically", exact=True).check()
    page.get_by_label("Default role for new users").select_option("technician")
    save(page, "Save user creation")

    # To enable automatic user deprovisioning (delete where possible).
    page.get_by_role("switch", name="Deprovision users automatically", exact=True).check()
    page.get_by_role("radio", name="Delete the account").check()
    save(page, "Save deprovisioning")

    # To enable access groups.
    page.get_by_role("switch", name="Enable access groups", exact=True).check()
    save(page, "Save access groups")

    settings = settings_of(server)
    assert settings["require_sso"] is True
    assert settings["sso_exceptions"] == ["root"]
    assert settings["auto_create_users"] is True
    assert settings["default_role"] == "technician"
    assert settings["auto_deprovision"] is True
    assert settings["deprovision_action"] == "delete"
    assert settings["access_groups"] is True
    assert "Sync pending" in page.locator("#sync-status").inner_text()

    # The SCIM connection panel: a token shown once.
    page.get_by_label("Token name").fill("kaseyaone")
    save(page, "Create token")
    token = page.get_by_label("New token").input_value()
    assert token.startswith("uvscim_")
    assert page.locator("#count-users").inner_text() == "2"
    assert page.locator("#count-groups").inner_text() == "1"
    checker.check("kaseyaone-configured")

    # Groups: the KaseyaOne group is view-only, with the reason.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Groups").click()
    assert "Access groups are on" in page.locator("#managed-note").inner_text()
    checker.check("groups")
    page.get_by_role("link", name="Helpdesk").click()
    assert "managed by KaseyaOne" in page.locator("#read-only-reason").inner_text()
    assert page.get_by_role("button", name="Rename").count() == 0
    checker.check("group")

    # Adding an organization mapped to the imported group.
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Organizations"
    ).click()
    page.get_by_label("Organization name").fill("Contoso")
    page.get_by_role("checkbox", name="Helpdesk").check()
    save(page, "Add organization")
    checker.check("organization")
    with server.app.app_context():
        organization = db.session.scalar(select(Organization).where(Organization.name == "Contoso"))
        assert organization is not None
        mapped = db.session.scalars(
            select(OrganizationGroup.group_id).where(
                OrganizationGroup.organization_id == organization.id
            )
        ).all()
        assert len(mapped) == 1
        db.session.remove()
    page.get_by_role("link", name="Organizations", exact=True).first.click()
    checker.check("organizations")

    # Users: pending identity -> create account; the user page.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    checker.check("users")
    save(page, "Create account for new.person")
    assert page.get_by_role("heading", level=1).inner_text() == "User new.person"
    checker.check("user")

    # Audit log shows what was done.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("integration.")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert page.locator("#events tbody tr").count() >= 5
    checker.check("audit")

    # Reset: export the affected users first, then type the name to confirm.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Reset integration…").click()
    checker.check("reset")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the list (CSV)").click()
    exported = Path(download_info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {row["username"] for row in rows} == {"jit.user", "new.person"}
    page.get_by_label("Type the integration's name").fill("KaseyaOne")
    save(page, "Reset")
    assert "was reset" in page.locator(".flash-success").inner_text()
    with server.app.app_context():
        assert db.session.scalar(select(ProviderIdentity)) is None
        remaining = set(db.session.scalars(select(Account.username)))
        assert "jit.user" not in remaining
        assert "root" in remaining
        db.session.remove()
    assert settings_of(server)["unified_login"] is False
    checker.check("integrations-after-reset")


def test_a_wrong_name_does_not_reset_and_says_why(
    server: LiveServer, laptop: Any, checker: Checker
) -> None:
    page = laptop
    seed_provider_data(server)
    sign_in(page, server, "/admin/integrations/kaseyaone/reset")
    page.get_by_label("Type the integration's name").fill("Kaseya")
    save(page, "Reset")
    assert "to confirm the reset" in page.get_by_role("alert").inner_text()
    checker.check("reset-refused")
    with server.app.app_context():
        assert db.session.scalar(select(ProviderIdentity).limit(1)) is not None
        db.session.remove()


def test_a_read_only_account_sees_only_its_organizations_and_a_sign_out(
    server: LiveServer, laptop: Any, checker: Checker
) -> None:
    with server.app.app_context():
        db.session.add(
            Account(
                username="viewer",
                username_ci="viewer",
                role=Role.read_only,
                status=AccountStatus.active,
                password_hash=hash_password(PASSWORD),
            )
        )
        db.session.commit()
        db.session.remove()
    page = laptop
    page.goto(server.url + "/admin/")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(server.url + "/admin/")
    nav = page.get_by_role("navigation", name="Settings")
    assert nav.get_by_role("link").all_inner_texts() == ["Organizations"]
    # Keyboard: the first Tab reaches the skip link, and focus is visibly outlined.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to content", "solid"]
    assert "Signed in as viewer" in page.locator(".who").inner_text()
    checker.check("home-read-only")
    # A forged settings POST from this session, with its own valid CSRF token: 403, no change.
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const body = new URLSearchParams({csrf_token: token, section: 'unified_login',
                                              unified_login: 'on'});
            const r = await fetch('/admin/integrations/kaseyaone/settings',
                                  {method: 'POST', body, redirect: 'manual'});
            return r.status;
        }"""
    )
    assert status == 403
    assert settings_of(server)["unified_login"] is False
    response = page.goto(server.url + "/admin/integrations/kaseyaone")
    assert response is not None and response.status == 403
    checker.check("forbidden")
    page.get_by_role("button", name="Sign out").click()
    page.goto(server.url + "/admin/users")
    assert "/login" in page.url


def test_the_reset_dialog_offers_the_export_first_and_resets_once_the_name_is_typed(
    server: LiveServer, laptop: Any, checker: Checker
) -> None:
    page = laptop
    seed_provider_data(server)
    sign_in(page, server, "/admin/integrations/kaseyaone")
    dialog = page.get_by_role("dialog", name="Reset KaseyaOne integration")
    assert not dialog.is_visible()
    page.get_by_role("link", name="Reset KaseyaOne integration…").click()
    assert dialog.is_visible()
    assert page.url.endswith("/admin/integrations/kaseyaone")
    checker.check("reset-dialog", full_page=False)
    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download the affected users (CSV)").click()
    assert "jit.user" in Path(download_info.value.path()).read_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    page.get_by_role("link", name="Reset KaseyaOne integration…").click()
    dialog.get_by_label("Type the integration's name").fill("KaseyaOne")
    save(page, "Reset")
    assert page.url.endswith("/admin/integrations")
    with server.app.app_context():
        assert db.session.scalar(select(ProviderIdentity).limit(1)) is None
        db.session.remove()
