"""Concurrency on PostgreSQL, over real HTTP: no member is lost, one create wins a userName race."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.scim_server.conftest import GROUP_SCHEMA
from tests.scim_server.conftest import PATCH_OP
from tests.scim_server.conftest import USER_SCHEMA

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("UNIVIEW_TEST_DATABASE_URL"), reason="needs UNIVIEW_TEST_DATABASE_URL"
    ),
]

ROUNDS = 10
WRITERS = 20


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}


def test_concurrent_member_adds_to_one_group_lose_no_member(
    served_app: str, scim_token: str
) -> None:
    base = f"{served_app}/scim/v2"
    headers = _headers(scim_token)
    http = requests.Session()
    user_ids = []
    for index in range(ROUNDS * WRITERS):
        created = http.post(
            f"{base}/Users",
            json={"schemas": [USER_SCHEMA], "userName": f"u{index}"},
            headers=headers,
        )
        assert created.status_code == 201
        user_ids.append(created.json()["id"])
    group = http.post(
        f"{base}/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "race"}, headers=headers
    ).json()

    def add(user_id: str) -> int:
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        }
        return requests.patch(
            f"{base}/Groups/{group['id']}", json=body, headers=headers, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for round_index in range(ROUNDS):
            batch = user_ids[round_index * WRITERS : (round_index + 1) * WRITERS]
            statuses = list(pool.map(add, batch))
            assert statuses == [200] * WRITERS

    members = http.get(f"{base}/Groups/{group['id']}", headers=headers).json()["members"]
    assert {m["value"] for m in members} == set(user_ids)


def test_racing_creates_of_one_user_name_in_different_cases_make_one_user(
    served_app: str, scim_token: str
) -> None:
    base = f"{served_app}/scim/v2"
    headers = _headers(scim_token)
    spellings = [
        "".join(c.upper() if (i >> j) & 1 else c for j, c in enumerate("racer")) + "@x.example"
        for i in range(32)
    ]
    spellings += [s.swapcase() for s in spellings[:18]]

    def create(user_name: str) -> tuple[int, str | None]:
        response = requests.post(
            f"{base}/Users",
            json={"schemas": [USER_SCHEMA], "userName": user_name},
            headers=headers,
            timeout=60,
        )
        return response.status_code, response.json().get("scimType")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(create, spellings))

    assert len(results) == 50
    assert sorted(status for status, _ in results) == [201] + [409] * 49
    assert {scim_type for status, scim_type in results if status == 409} == {"uniqueness"}
    found = requests.get(
        f"{base}/Users",
        params={"filter": 'userName eq "RACER@x.example"'},
        headers=headers,
        timeout=60,
    ).json()
    assert found["totalResults"] == 1
