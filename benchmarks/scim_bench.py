"""Benchmark our SCIM server against the reference in-memory server, in one run.

Run by hand (see README.md). It starts both servers on free loopback ports, seeds them the
same way, and prints one table. Numbers are wall-clock from a single sequential client, so
they read as latency; requests/s is 1 / mean latency.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Target:
    """One server under test."""

    name: str
    base: str
    token: str
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": SCIM,
                "Connection": "close",
            },
            timeout=600,
        )


def start_reference(token: str) -> Target:
    port = free_port()
    exe = shutil.which("scim2-server") or str(Path(sys.executable).parent / "scim2-server")
    process = subprocess.Popen(
        [exe, "--port", str(port), "--bearer-token", token],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/ServiceProviderConfig")
    return Target("reference scim2-server (memory)", base, token, process)


def start_ours(database_url: str | None, workdir: Path) -> Target:
    exe = str(Path(sys.executable).parent / "uniview-idm")
    env = dict(os.environ)
    env["UNIVIEW_SECRET_KEY"] = uuid.uuid4().hex
    env["UNIVIEW_DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.db'}"
    env["UNIVIEW_SCIM_MAX_PAYLOAD_SIZE"] = str(8 * 1024 * 1024)
    subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
    token = subprocess.run(
        [exe, "token", "create", "--name", f"bench-{uuid.uuid4().hex[:6]}"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}/scim/v2"
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
    except RuntimeError:
        print((workdir / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    return Target("uniview-idm", base, token, process)


def user_payload(index: int, run: str) -> dict[str, object]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"user{index}-{run}@example.com",
        "name": {"givenName": f"Given{index}", "familyName": "Bench"},
        "emails": [{"value": f"user{index}-{run}@example.com", "type": "work", "primary": True}],
        "active": True,
    }


def seed_users(target: Target, count: int, run: str) -> list[str]:
    """Create ``count`` users with Bulk requests of 1000 operations, 2 in flight."""

    def one_batch(start: int) -> list[str]:
        operations = [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{index}",
                "data": user_payload(index, run),
            }
            for index in range(start, min(start + 1000, count))
        ]
        with target.client() as client:
            response = client.post(
                "/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations}
            )
            response.raise_for_status()
            results = response.json()["Operations"]
        ids = []
        for result in results:
            if not str(result.get("status", "")).startswith("201"):
                raise RuntimeError(f"seed failed: {result}")
            ids.append(result["location"].rstrip("/").rsplit("/", 1)[-1])
        return ids

    with ThreadPoolExecutor(max_workers=2) as pool:
        batches = list(pool.map(one_batch, range(0, count, 1000)))
    return [user_id for batch in batches for user_id in batch]


def timed(samples: int, action: Callable[[int], None], budget: float = 60.0) -> list[float]:
    """Time up to ``samples`` calls, stopping early once ``budget`` seconds are spent.

    The budget keeps O(group size) operations of the reference from running for hours;
    the report says how many samples each line is based on.
    """
    durations: list[float] = []
    deadline = time.perf_counter() + budget
    for index in range(samples):
        start = time.perf_counter()
        action(index)
        durations.append(time.perf_counter() - start)
        if start > deadline and len(durations) >= 5:
            break
    return durations


def summary(durations: list[float]) -> str:
    mean = statistics.fmean(durations)
    p95 = sorted(durations)[max(int(len(durations) * 0.95) - 1, 0)]
    rate = f"{1 / mean:7.1f} req/s"
    return f"mean {mean * 1000:8.2f} ms  p95 {p95 * 1000:8.2f} ms  {rate}  (n={len(durations)})"


def make_group(client: httpx.Client, name: str, member_ids: list[str]) -> str:
    response = client.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": name})
    response.raise_for_status()
    group_id = str(response.json()["id"])
    for start in range(0, len(member_ids), 1000):
        chunk = member_ids[start : start + 1000]
        patch = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": i} for i in chunk]}
            ],
        }
        client.patch(f"/Groups/{group_id}", json=patch).raise_for_status()
    return group_id


def bench(target: Target, users: int, samples: int, sizes: list[int], report: list[str]) -> None:
    run = uuid.uuid4().hex[:6]
    start = time.perf_counter()
    ids = seed_users(target, users, run)
    report.append(f"{target.name}: seeded {users} users in {time.perf_counter() - start:.1f} s")
    with target.client() as client:

        def create(index: int) -> None:
            client.post("/Users", json=user_payload(users + index, run)).raise_for_status()

        def get_by_id(index: int) -> None:
            client.get(f"/Users/{ids[(index * 7919) % len(ids)]}").raise_for_status()

        def filter_username(index: int) -> None:
            name = f"USER{(index * 7919) % users}-{run}@EXAMPLE.COM"
            response = client.get("/Users", params={"filter": f'userName eq "{name}"'})
            response.raise_for_status()
            assert response.json()["totalResults"] == 1, response.text

        if target.name == "uniview-idm":
            # The floor: a bare Flask JSON endpoint (no token, no database) on the same server.
            health = target.base.removesuffix("/scim/v2") + "/healthz"

            def bare_flask(_index: int) -> None:
                client.get(health).raise_for_status()

            report.append(f"  GET /healthz (floor)   {summary(timed(samples, bare_flask))}")
        report.append(f"  POST /Users            {summary(timed(samples, create))}")
        report.append(f"  GET /Users/id          {summary(timed(samples, get_by_id))}")
        report.append(f"  filter userName eq     {summary(timed(samples, filter_username))}")

        spare = ids[max(sizes) : max(sizes) + samples]
        for size in sizes:
            group_id = make_group(client, f"bench-{size}-{run}", ids[:size])

            def add_remove(index: int, group_id: str = group_id) -> None:
                member = spare[index % len(spare)]
                for op in ("add", "remove"):
                    operation: dict[str, object] = (
                        {"op": "add", "path": "members", "value": [{"value": member}]}
                        if op == "add"
                        else {"op": "remove", "path": f'members[value eq "{member}"]'}
                    )
                    client.patch(
                        f"/Groups/{group_id}",
                        json={"schemas": [PATCH_SCHEMA], "Operations": [operation]},
                    ).raise_for_status()

            durations = [d / 2 for d in timed(samples, add_remove)]
            report.append(f"  member add/remove @{size:>6} {summary(durations)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--sizes", default="10,10000,50000")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if max(sizes) + args.samples > args.users:
        parser.error("--users must exceed the largest group size plus --samples")
    report: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        targets = [start_ours(args.database_url, Path(workdir))]
        if not args.skip_reference:
            targets.append(start_reference(uuid.uuid4().hex))
        try:
            for target in targets:
                bench(target, args.users, args.samples, sizes, report)
                print("\n".join(report), flush=True)
                report.clear()
        finally:
            for target in targets:
                target.process.terminate()
                target.process.wait(timeout=30)


if __name__ == "__main__":
    main()
