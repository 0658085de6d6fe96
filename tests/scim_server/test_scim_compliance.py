"""Compliance: scim2-tester runs every check against the server and finds no error."""

from __future__ import annotations

from flask import Flask
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status
from scim2_tester import check_server


def test_scim2_tester_reports_no_error(app: Flask, scim_token: str) -> None:
    client = WSGISCIMClient(
        app,
        base_url="http://localhost/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}"},
        check_response_status_codes=True,
        check_response_content_type=True,
    )

    results = check_server(client)

    failures = [
        f"{result.title}: {result.reason}"
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
    ]
    assert results
    assert failures == [], "\n".join(failures)
