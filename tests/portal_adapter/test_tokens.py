"""Token names: one rule for SCIM tokens and admin API tokens, from every entry point."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal_adapter import api_tokens
from portal_adapter import tokens
from portal_adapter.errors import InvalidInput
from tests.portal_adapter.test_provisioning_builders import add_account


def _scim(session: Session, name: Any) -> object:
    return tokens.issue_token(session, name=name, actor="test")


def _api(session: Session, name: Any) -> object:
    owner = add_account(session, "owner")
    return api_tokens.issue_api_token(session, owner, name=name, actor="test")


@pytest.mark.parametrize("issue", [_scim, _api], ids=["scim", "api"])
@pytest.mark.parametrize("name", ["", "   ", "x" * 129, 7, None])
def test_a_token_name_must_be_a_short_non_empty_string(
    session: Session, issue: Callable[[Session, object], object], name: object
) -> None:
    with pytest.raises(InvalidInput, match="at most 128 characters"):
        issue(session, name)


@pytest.mark.parametrize("issue", [_scim, _api], ids=["scim", "api"])
def test_a_token_name_of_128_characters_is_accepted(
    session: Session, issue: Callable[[Session, object], object]
) -> None:
    assert issue(session, "x" * 128) is not None
