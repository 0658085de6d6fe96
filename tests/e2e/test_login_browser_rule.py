"""Browser tests skip without chromium on a workstation, and fail instead in CI."""

from __future__ import annotations

import pytest

from tests.e2e import conftest


def test_a_missing_chromium_fails_the_browser_tests_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        conftest._browser_unavailable()


def test_a_missing_chromium_skips_the_browser_tests_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        conftest._browser_unavailable()
