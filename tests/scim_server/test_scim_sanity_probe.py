"""Compliance: ``scim-sanity probe`` against a served instance finds no failed check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SCIM_SANITY = Path(sys.executable).with_name("scim-sanity")


def test_scim_sanity_probe_reports_no_failed_check(served_app: str, scim_token: str) -> None:
    completed = subprocess.run(
        [
            str(SCIM_SANITY),
            "probe",
            f"{served_app}/scim/v2",
            "--token",
            scim_token,
            "--i-accept-side-effects",
            "--json-output",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = json.loads(completed.stdout)
    summary = report["summary"]
    failed = [r for r in report["results"] if r["status"] not in ("pass", "skip")]
    assert failed == []
    assert summary["failed"] == 0
    assert summary["errors"] == 0
    assert summary["passed"] >= 25
    assert completed.returncode == 0
