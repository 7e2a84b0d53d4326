"""Shared harness of the reliability suite: one simulated Azure, the local host as a subprocess, and targets.

Many runs share one host and one simulator at once: every run gets a *target* of its own, i.e. its own
subscription id (the simulator takes any GUID as a subscription) and its own registry name (registry names are
global). Faults are scoped to a target by their path (`/subscriptions/<its id>/...`), so cells of the fault
matrix run side by side without touching each other, and the simulator's state and request log are read per
subscription.

Comparing runs: resource ids, outputs and request paths differ between targets only by the subscription id,
the registry name and values Azure makes up (GUIDs, etags, timestamps, FQDN hashes); `normalize` replaces
those with placeholders so a cell's result can be compared to a clean reference run's.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devhost.testing import DevHost
from simulator import Simulator

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
RESOURCE_GROUP = "hopsworks-rg"
LOCATION = "northeurope"
NAMESPACE = uuid.UUID("5d0c6bd4-7f3c-4f43-9d0e-2f9a3c1b7e55")

# Small durable timings (the starter reads them from the host's environment): a run takes 1-3 s.
TIMING_ENV = {
    "SETUP_POLL_INTERVAL_SECONDS": "0.05",
    "SETUP_RETRY_FIRST_SECONDS": "0.05",
    "SETUP_RETRY_MAX_SECONDS": "0.2",
}
# api-versions the app's SDK clients use (as a clean run's request log shows), for the harness's own writes.
API_VERSIONS = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2024-11-30",
    "Microsoft.Network/virtualNetworks": "2026-03-01",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings": "2026-03-01",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": "2024-06-01",
    "Microsoft.ContainerRegistry/registries": "2025-11-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.ContainerService/managedClusters": "2026-08-01",
}
WRITE_METHODS = ("PUT", "PATCH", "DELETE", "POST")
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")
_HEX = re.compile(r"\b[0-9a-f]{8,}\b", re.I)


# ---------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One setup target of its own: subscription + resource group + AKS name, and a unique registry name."""

    label: str
    topology: str = "peering"

    @property
    def subscription_id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, self.label))

    @property
    def acr_name(self) -> str:
        return "hw" + uuid.uuid5(NAMESPACE, "acr|" + self.label).hex[:20]

    @property
    def rg_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{RESOURCE_GROUP}"

    @property
    def path_scope(self) -> str:
        """Path prefix that scopes a simulator fault to this target."""
        return f"/subscriptions/{self.subscription_id}/"

    def body(self) -> dict[str, Any]:
        body = json.loads((EXAMPLES / f"{self.topology}.json").read_text())
        body["subscriptionId"] = self.subscription_id
        body["resourceGroup"] = RESOURCE_GROUP
        body["acr"]["name"] = self.acr_name
        return body

    def rid(self, provider_path: str) -> str:
        return f"{self.rg_id}/providers/{provider_path}"


# ---------------------------------------------------------------------------------------------- normalize


def normalize(value: Any, target: Target) -> Any:
    """`value` with everything that legitimately differs between targets and runs replaced by placeholders."""
    text = json.dumps(value, sort_keys=True)
    text = re.sub(re.escape(target.subscription_id), "<sub>", text, flags=re.I)
    text = re.sub(re.escape(target.acr_name), "<acr>", text, flags=re.I)
    text = _GUID.sub("<guid>", text)
    text = _TIME.sub("<time>", text)
    text = _HEX.sub("<hex>", text)
    return json.loads(text)


def as_multiset(items: Iterable[Any]) -> Counter[str]:
    return Counter(json.dumps(item, sort_keys=True) for item in items)


def multiset_diff(got: Counter[str], want: Counter[str]) -> str:
    extra = got - want
    missing = want - got
    lines = [f"+ {item[:300]}" for item in extra] + [f"- {item[:300]}" for item in missing]
    return "\n".join(lines[:12])


# ---------------------------------------------------------------------------------------------- results


@dataclass
class RunResult:
    target: Target
    http_status: int  # of the final status poll (200 completed, 500 failed with the failure flag)
    payload: dict[str, Any]
    seconds: float
    accepted: dict[str, Any] = field(default_factory=dict)  # the 202 payload

    @property
    def runtime_status(self) -> str:
        return str(self.payload.get("runtimeStatus"))

    @property
    def output(self) -> Any:
        return self.payload.get("output")

    @property
    def custom_status(self) -> Any:
        return self.payload.get("customStatus")


# ---------------------------------------------------------------------------------------------- the lab


class Lab:
    """One simulator (in this process) and one local host (subprocess) that many targets share."""

    def __init__(self, workdir: str | Path | None = None, host_env: dict[str, str] | None = None) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="reliability-"))
        self.sim = Simulator(latency_scale=0.01, polls_to_complete=1).start()
        self.host_env = {**self.sim.env(), **TIMING_ENV, **(host_env or {})}
        self.host = self.new_host("shared")
        self._local = threading.local()

    def new_host(self, name: str, **env: str) -> DevHost:
        return DevHost(db_path=self.workdir / name / "state.db", env={**self.host_env, **env})

    def start(self) -> Lab:
        self.host.start()
        return self

    def close(self) -> None:
        self.host.stop()
        self.sim.stop()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------------------
    @property
    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, body: Any, host: DevHost | None = None) -> requests.Response:
        host = host or self.host
        return self.http.post(f"{host.base_url}/api/setups", json=body, headers=host.auth_headers, timeout=30)

    def wait(self, url: str, timeout: float = 90.0) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self.http.get(url, timeout=10)
            except requests.ConnectionError:
                response = None  # the host is being restarted
            if response is not None and response.status_code != 202:
                return response.status_code, response.json()
            if time.monotonic() > deadline:
                raise TimeoutError(f"run still going after {timeout}s: {url.split('?')[0]}")
            time.sleep(0.05)

    def run(
        self,
        target: Target,
        body: dict[str, Any] | None = None,
        host: DevHost | None = None,
        timeout: float = 90.0,
    ) -> RunResult:
        began = time.monotonic()
        accepted = self.post(body or target.body(), host)
        if accepted.status_code != 202:
            raise AssertionError(f"POST answered {accepted.status_code}: {accepted.text[:500]}")
        status, payload = self.wait(accepted.json()["statusQueryGetUri"], timeout)
        return RunResult(target, status, payload, time.monotonic() - began, accepted.json())

    def instances(self, host: DevHost | None = None) -> list[dict[str, Any]]:
        host = host or self.host
        response = self.http.get(
            f"{host.base_url}/runtime/webhooks/durabletask/instances",
            params={"code": host.system_key},
            timeout=10,
        )
        response.raise_for_status()
        return list(response.json())

    # -- simulated Azure ----------------------------------------------------------------------------------
    def prepare(self, target: Target) -> None:
        """The target's resource group (the one thing a user must have before a run)."""
        self.sim.add_resource_group(target.subscription_id, RESOURCE_GROUP, LOCATION)

    def arm(self, method: str, rid: str, resource_type: str, body: Any = None) -> tuple[int, Any]:
        """One ARM request straight into the simulator's dispatcher (with a token it issued), as a person at
        the portal would make it: for seeding pre-existing resources and for drift."""
        token = self.sim.arm.issue_token("https://management.azure.com/")["access_token"]
        path = f"{rid}?api-version={API_VERSIONS[resource_type]}"
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        response = self.sim.arm.handle(method, path, headers, raw)
        return response.status, response.body

    def arm_settled(self, method: str, rid: str, resource_type: str, body: Any = None) -> Any:
        """A write, then GETs until its operation is over (deterministic mode: one read completes it)."""
        status, answer = self.arm(method, rid, resource_type, body)
        if status >= 400:
            raise AssertionError(f"{method} {rid}: {status} {answer}")
        for _ in range(20):
            get_status, current = self.arm("GET", rid, resource_type)
            if method == "DELETE" and get_status == 404:
                return None
            state = ((current or {}).get("properties") or {}).get("provisioningState")
            if method != "DELETE" and state in (None, "Succeeded"):
                return current
        raise AssertionError(f"{method} {rid} did not settle")

    def seed_vnet(self, target: Target, name: str, space: str, subnets: dict[str, str]) -> None:
        vnet = "Microsoft.Network/virtualNetworks"
        self.arm_settled(
            "PUT",
            target.rid(f"{vnet}/{name}"),
            vnet,
            {
                "location": LOCATION,
                "tags": {"owner": "someone-else"},
                "properties": {
                    "addressSpace": {"addressPrefixes": [space]},
                    "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets.items()],
                },
            },
        )

    def seed_identity(self, target: Target, name: str) -> None:
        self.arm_settled(
            "PUT",
            target.rid(f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}"),
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            {"location": LOCATION},
        )

    def resources(self, target: Target) -> list[dict[str, Any]]:
        scope = target.path_scope.lower()
        return [copy.deepcopy(r) for r in self.sim.state()["resources"] if r["id"].lower().startswith(scope)]

    def state(self, target: Target) -> Counter[str]:
        """The target's resources, normalized, as a multiset (order and made-up values do not matter)."""
        return as_multiset(normalize(self.resources(target), target))

    def operations(self, target: Target) -> list[dict[str, Any]]:
        scope = target.path_scope.lower()
        return [o for o in self.sim.state()["operations"] if o["resourceId"].lower().startswith(scope)]

    def log_mark(self) -> int:
        with self.sim.arm.lock:
            return len(self.sim.arm.log)

    def log(self, target: Target | None = None, since: int = 0) -> list[dict[str, Any]]:
        with self.sim.arm.lock:
            entries = [dict(e) for e in self.sim.arm.log[since:]]
        if target is None:
            return entries
        scope = target.path_scope.lower()
        return [e for e in entries if e["path"].lower().startswith(scope)]

    def writes(self, target: Target | None = None, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.log(target, since) if e["method"] in WRITE_METHODS]

    def creations(self, target: Target, since: int = 0) -> Counter[str]:
        """How often each resource was created: synchronous creates answer 201, long-running ones start a
        `create` operation (a resource made twice shows 2)."""
        counts: Counter[str] = Counter()
        for entry in self.log(target, since):
            if entry["method"] == "PUT" and entry["status"] == 201:
                counts[entry["path"].lower()] = max(counts[entry["path"].lower()], 0) + 1
        by_ops: Counter[str] = Counter(
            o["resourceId"].lower() for o in self.operations(target) if o["kind"] == "create"
        )
        for rid, n in by_ops.items():
            counts[rid] = max(counts[rid], n)
        return counts

    def issued_tokens(self) -> list[str]:
        return self.sim.issued_tokens()


def write_pairs(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(method, resource type) of every write in a request log, in first-seen order."""
    seen: dict[tuple[str, str], None] = {}
    for e in entries:
        if e["method"] in WRITE_METHODS and e["status"] and e["status"] < 400:
            seen.setdefault((e["method"], str(e["resourceType"])), None)
    return list(seen)


def short_type(resource_type: str) -> str:
    return resource_type.split("/", 1)[1] if "/" in resource_type else resource_type
