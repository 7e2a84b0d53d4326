"""Run setups through the local host on the simulated Azure and measure them.

Everything a figure is computed from is recorded by something other than the app: the wall clock around the
HTTP calls, the host's SQLite history (events, episodes, when the orchestrator saw the cluster Succeeded, each
activity's start and end), the host's episode log (replay CPU, measured by the host with `time.thread_time()`
around the orchestrator function), and the simulator's request log and operations (ARM traffic, when each
operation started and ended).

A run is watched by two pollers at once:
- the user (the new yardstick): polls as Logic Apps does. The POST carries the function key as `code` (the
  function URL as the portal gives it); the poller follows `Location` without headers and waits each answer's
  `Retry-After` times the latency scale between polls (the app's hints are seconds of the real world; the
  simulated world runs `latency_scale` times faster, so a scaled hint keeps polls and their lag in proportion
  to the run). Its time runs from the moment the POST is answered to the moment the status URL first answers
  the final result.
- issue #6's stopwatch (the old yardstick): the extension's status URL every 10 ms, from the moment the POST
  was sent to the first non-202.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from devhost import replay as r
from devhost.testing import REPO_ROOT, DevHost
from simulator import Simulator

EXAMPLES = REPO_ROOT / "examples"
CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
_EPISODE_LINE = re.compile(
    r"episode \S+ (?P<instance>\S+): \d+ new events -> "
    r".*\((?P<wall>[\d.]+) ms, replay (?P<cpu>[\d.]+) ms cpu\)"
)
_STATUS_PATH = re.compile(r"/operation(Statuses|Results)/(?P<op>[^/?]+)$", re.IGNORECASE)
_READ_POSTS = ("/checknameavailability",)
TOPOLOGY_CODES = {"peering": 1, "subnet": 2}
# Seconds Logic Apps waits between polls when a 202 carries no Retry-After.
# The Retry-After of the SDK's check-status response (what POST answered when Location was the extension's).
CHECK_STATUS_RETRY_AFTER = 10
LOGIC_APPS_DEFAULT_INTERVAL = 20


def example_request(topology: str, index: int = 0) -> dict:
    """The example request of `topology`, made a distinct target by `index` (subscription, group, cluster,
    registry). Each target gets a subscription of its own: preflight refuses a vnet whose address space
    overlaps any vnet of the subscription, and every example uses the same spaces."""
    request = json.loads((EXAMPLES / f"{topology}.json").read_text())
    if index:
        request = copy.deepcopy(request)
        request["subscriptionId"] = f"00000000-0000-0000-{TOPOLOGY_CODES[topology]:04x}-{index:012x}"
        request["resourceGroup"] = f"{request['resourceGroup']}-{index}"
        request["aks"]["name"] = f"{request['aks']['name']}-{index}"
        request["acr"]["name"] = f"{request['acr']['name']}{topology[:3]}{index}"
    return request


def utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


@dataclass
class Poll:
    at: float  # wall clock (epoch seconds) of the answer
    status_code: int
    retry_after: int | None


@dataclass
class RunResult:
    topology: str
    instance_id: str
    status_code: int
    seconds: float  # old yardstick: POST sent -> the extension's status URL stops answering 202 (10 ms polls)
    output: Any = None
    history: list[dict] = field(default_factory=list)  # the run's instance and its sub-orchestrations
    episode_cpu_ms: list[float] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # simulator log entries of this run
    post_sent: float = 0.0  # wall clock
    post_answered: float = 0.0
    final_seen: float = 0.0  # the user's poller saw the final result
    user_status_code: int = 0
    polls: list[Poll] = field(default_factory=list)  # the user's
    operations: list[dict] = field(default_factory=list)  # the simulator's LROs of this run
    extension_final_seen: float = 0.0  # the same poller on the extension's status URL

    @property
    def user_seconds(self) -> float:
        """New yardstick: POST answered -> the status URL first answers the final result."""
        return self.final_seen - self.post_answered

    @property
    def ok(self) -> bool:
        return self.status_code == 200

    @property
    def events(self) -> int:
        return len(self.history)

    @property
    def episodes(self) -> int:
        return sum(1 for e in self.history if e["EventType"] == r.ORCHESTRATOR_STARTED)

    @property
    def replay_cpu_ms(self) -> float:
        return sum(self.episode_cpu_ms)


class Bench:
    """One simulated Azure (in this process) and one local host (a subprocess) at a latency scale."""

    def __init__(self, latency_scale: float, poll_interval_seconds: float, workdir: Path | None = None,
                 deterministic: bool = False, latency_overrides: dict | None = None) -> None:
        self.latency_scale = latency_scale
        self.poll_interval_seconds = poll_interval_seconds
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="bench-"))
        self.sim = Simulator(latency_scale=latency_scale, polls_to_complete=1 if deterministic else None,
                             latency_overrides=latency_overrides)
        self.host: DevHost | None = None
        self.wall_minus_monotonic = time.time() - time.monotonic()

    def __enter__(self) -> Bench:
        self.sim.start()
        env = dict(self.sim.env(), SETUP_POLL_INTERVAL_SECONDS=f"{self.poll_interval_seconds:g}")
        self.host = DevHost(db_path=self.workdir / "state.db", env=env).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.host is not None:
            self.host.stop()
        self.sim.stop()

    @property
    def arm_polling_interval(self) -> float:
        return float(self.sim.env()["ARM_POLLING_INTERVAL"])

    def add_target(self, request: dict) -> None:
        self.sim.add_resource_group(request["subscriptionId"], request["resourceGroup"], request["location"])

    # -- one run --------------------------------------------------------------------------------------
    def run(self, request: dict, session: requests.Session | None = None) -> RunResult:
        assert self.host is not None
        http = session or requests.Session()
        log_from = len(self.sim.requests)
        output_from = len(self.host.output())
        began_monotonic = time.monotonic()
        post_sent = time.time()
        answer = http.post(f"{self.host.base_url}/api/setups", params={"code": self.host.function_key},
                           json=request)
        post_answered = time.time()
        answer.raise_for_status()
        instance_id = answer.json()["id"]
        stopwatch = _Stopwatch(answer.json()["statusQueryGetUri"])
        stopwatch.start()
        # For comparison: the same poller on the extension's status URL (where Location pointed before).
        extension = _LogicAppsPoller(answer.json()["statusQueryGetUri"], CHECK_STATUS_RETRY_AFTER,
                                     self.latency_scale)
        extension.start()
        polls, final = self._poll_as_logic_apps(http, answer)
        stopwatch.join()
        extension.join()
        result = RunResult(request["topology"], instance_id, stopwatch.status_code,
                           stopwatch.finished - post_sent, output=final.json().get("output"),
                           post_sent=post_sent, post_answered=post_answered, final_seen=polls[-1].at,
                           user_status_code=final.status_code, polls=polls,
                           extension_final_seen=extension.final_seen)
        result.history = self.history(instance_id)
        result.episode_cpu_ms = episode_cpu(self.host.output()[output_from:], instance_id)
        # The run's own group, the cluster's node group (the private DNS zone and its link), operations.
        groups = (f"/resourcegroups/{request['resourceGroup']}/".lower(),
                  f"/resourcegroups/mc_{request['resourceGroup']}_{request['aks']['name']}_".lower())
        result.requests = [e for e in self.sim.requests[log_from:]
                           if any(g in e["path"].lower() for g in groups) or _STATUS_PATH.search(e["path"])]
        result.operations = self.operations_since(began_monotonic, groups)
        return result

    def _poll_as_logic_apps(self, http: requests.Session,
                            answer: requests.Response) -> tuple[list[Poll], requests.Response]:
        """Follow `Location` without headers, waiting `Retry-After` x latency scale before each poll."""
        polls: list[Poll] = []
        while answer.status_code == 202:
            time.sleep(_retry_after(answer) * self.latency_scale)
            location = answer.headers["Location"]
            answer = requests.get(location, timeout=60)  # no session headers, no cookies: as Logic Apps
            polls.append(Poll(time.time(), answer.status_code, _retry_after_or_none(answer)))
        return polls, answer

    def history(self, instance_id: str) -> list[dict]:
        """The instance's history and, after it, its sub-orchestrations' (recursively)."""
        assert self.host is not None
        db = sqlite3.connect(f"file:{self.host.db_path}?mode=ro", uri=True, timeout=30)
        try:
            events: list[dict] = []
            pending = [instance_id]
            while pending:
                current = pending.pop(0)
                rows = db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq",
                                  (current,)).fetchall()
                mine = [dict(json.loads(row[0]), _instance=current) for row in rows]
                events += mine
                pending += [e["InstanceId"] for e in mine
                            if e["EventType"] == r.SUB_ORCHESTRATION_INSTANCE_CREATED and e.get("InstanceId")]
        finally:
            db.close()
        return events

    def operations_since(self, began_monotonic: float, groups: tuple[str, ...]) -> list[dict]:
        """The simulator's long-running operations on the run's resources (wall clock start and end)."""
        shift = self.wall_minus_monotonic
        with self.sim.arm.lock:
            ops = [op for op in self.sim.arm.operations.values() if op.started >= began_monotonic
                   and any(g in op.resource_id.lower() + "/" for g in groups)]
            return [{"type": op.resource_type.lower(), "kind": op.kind,
                     "name": op.resource_id.rsplit("/", 1)[-1], "started": op.started + shift,
                     "ended": op.started + op.duration + shift,
                     "status": op.status} for op in ops]

    def arm_round_trip_seconds(self, samples: int = 25) -> float:
        """Median wall time of one ARM GET on the simulator through a real SDK client (TLS, token cached)."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        from simulator.testing import sdk_client

        subscription, group = "00000000-0000-0000-0000-0000000000be", "bench-round-trip"
        self.sim.add_resource_group(subscription, group, "northeurope")
        client = sdk_client(ResourceManagementClient, self.sim, subscription_id=subscription)
        client.resource_groups.get(group)  # token and connection
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            client.resource_groups.get(group)
            times.append(time.perf_counter() - began)
        return statistics.median(times)

    # -- what the simulator knows ---------------------------------------------------------------------
    def cluster_operation(self, request: dict) -> dict:
        """When the cluster's create operation started and ended (wall clock), from the simulator."""
        rid = (f"/subscriptions/{request['subscriptionId']}/resourcegroups/{request['resourceGroup']}"
               f"/providers/microsoft.containerservice/managedclusters/{request['aks']['name']}").lower()
        with self.sim.arm.lock:
            ops = [op for op in self.sim.arm.operations.values()
                   if op.resource_id.lower() == rid and op.kind == "create"]
        op = ops[-1]
        started = op.started + self.wall_minus_monotonic
        return {"started": started, "ended": started + op.duration, "seconds": op.duration}

    def operation_durations(self) -> dict[str, float]:
        with self.sim.arm.lock:
            return {op.id.lower(): op.duration for op in self.sim.arm.operations.values()}


class _LogicAppsPoller(threading.Thread):
    """Polls `status_url` as Logic Apps does, the first time `first_hint` (scaled) after the POST's answer."""

    def __init__(self, status_url: str, first_hint: int, latency_scale: float) -> None:
        super().__init__(daemon=True)
        self.status_url = status_url
        self.first_wait = first_hint * latency_scale
        self.latency_scale = latency_scale
        self.final_seen = 0.0

    def run(self) -> None:
        wait = self.first_wait
        while True:
            time.sleep(wait)
            answer = requests.get(self.status_url, timeout=60)
            if answer.status_code != 202:
                break
            self.status_url = answer.headers["Location"]
            wait = _retry_after(answer) * self.latency_scale
        self.final_seen = time.time()


class _Stopwatch(threading.Thread):
    """Issue #6's stopwatch: the extension's status URL every 10 ms until it stops answering 202."""

    def __init__(self, status_url: str) -> None:
        super().__init__(daemon=True)
        self.status_url = status_url
        self.status_code = 0
        self.finished = 0.0

    def run(self) -> None:
        with requests.Session() as http:
            while (answer := http.get(self.status_url, timeout=60)).status_code == 202:
                time.sleep(0.01)
        self.finished = time.time()
        self.status_code = answer.status_code


def _retry_after_or_none(answer: requests.Response) -> int | None:
    value = answer.headers.get("Retry-After")
    return int(value) if value is not None and value.isdigit() else None


def _retry_after(answer: requests.Response) -> int:
    """The answer's Retry-After; Logic Apps' own default interval when there is none."""
    value = _retry_after_or_none(answer)
    return LOGIC_APPS_DEFAULT_INTERVAL if value is None else value


def episode_cpu(log_text: str, instance_id: str) -> list[float]:
    return [float(m["cpu"]) for m in _EPISODE_LINE.finditer(log_text) if m["instance"] == instance_id]


def _task(event: dict, field_name: str) -> tuple[str, Any]:
    """A task's key across the histories of an instance and its sub-orchestrations (ids restart in each)."""
    return event.get("_instance", ""), event.get(field_name)


def cluster_noticed_at(history: list[dict]) -> float | None:
    """When the orchestrator saw the cluster Succeeded: the episode that took the get_aks_cluster answer."""
    names = {_task(e, "EventId"): e.get("Name") for e in history if e["EventType"] == r.TASK_SCHEDULED}
    episode_started = None
    for event in history:
        if event["EventType"] == r.ORCHESTRATOR_STARTED:
            episode_started = event["Timestamp"]
        answered = names.get(_task(event, "TaskScheduledId"))
        if event["EventType"] == r.TASK_COMPLETED and answered == "get_aks_cluster":
            outputs = (json.loads(event.get("Result") or "null") or {}).get("outputs") or {}
            if str(outputs.get("provisioningState", "")).casefold() == "succeeded" and episode_started:
                return utc(episode_started)
    return None


def activity_seconds(history: list[dict]) -> dict[str, float]:
    """Total scheduled->completed time per activity name (where a run's time goes)."""
    scheduled = {_task(e, "EventId"): e for e in history if e["EventType"] == r.TASK_SCHEDULED}
    totals: dict[str, float] = defaultdict(float)
    for event in history:
        if event["EventType"] in (r.TASK_COMPLETED, r.TASK_FAILED):
            origin = scheduled.get(_task(event, "TaskScheduledId"))
            if origin:
                totals[origin["Name"]] += utc(event["Timestamp"]) - utc(origin["Timestamp"])
    return dict(totals)


def is_write(entry: dict) -> bool:
    method = entry["method"]
    if method in ("PUT", "PATCH", "DELETE"):
        return True
    return method == "POST" and not entry["path"].lower().endswith(_READ_POSTS)


def traffic(entries: list[dict]) -> dict[str, Any]:
    by_method = Counter(e["method"] for e in entries)
    by_type = Counter((e.get("resourceType") or "(operation status)") for e in entries)
    return {"total": len(entries), "byMethod": dict(sorted(by_method.items())),
            "byResourceType": dict(sorted(by_type.items())),
            "writes": sum(1 for e in entries if is_write(e))}


def status_read_excess(entries: list[dict], durations: dict[str, float], interval: float) -> dict[str, Any]:
    """Status reads per operation against the polling interval.

    An operation may be read at most once per interval after it started, plus the read that found it done:
    allowed = floor(elapsed / interval) + 1, where elapsed runs from the request that started the operation
    (the first write before its first status read) to its last status read.
    """
    reads: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        match = _STATUS_PATH.search(entry["path"])
        if entry["method"] == "GET" and match:
            reads[match["op"].lower()].append(utc(entry["time"]))
    writes = [utc(e["time"]) for e in entries if is_write(e)]
    worst, per_op = -math.inf, []
    for op, times in reads.items():
        started = max((t for t in writes if t <= times[0]), default=times[0])
        elapsed = times[-1] - started
        allowed = math.floor(elapsed / interval + 1e-9) + 1
        per_op.append({"reads": len(times), "allowed": allowed, "seconds": round(elapsed, 3),
                       "modelSeconds": durations.get(op)})
        worst = max(worst, len(times) - allowed)
    return {"operations": len(reads), "statusReads": sum(len(t) for t in reads.values()),
            "worstExcess": 0 if worst == -math.inf else worst, "perOperation": per_op}


def cluster_read_excess(entries: list[dict], cluster_name: str, interval: float) -> dict[str, Any]:
    """GETs of the cluster while it was being built, against the orchestrator's polling interval."""
    suffix = f"/managedclusters/{cluster_name}".lower()
    puts = [utc(e["time"]) for e in entries if e["method"] == "PUT" and e["path"].lower().endswith(suffix)]
    gets = [utc(e["time"]) for e in entries if e["method"] == "GET" and e["path"].lower().endswith(suffix)]
    if not puts:
        return {"reads": len(gets), "allowed": None}
    after = [t for t in gets if t >= puts[0]]
    elapsed = (after[-1] - puts[0]) if after else 0.0
    allowed = math.floor(elapsed / interval + 1e-9) + 1
    return {"reads": len(after), "allowed": allowed, "seconds": round(elapsed, 3)}


# -- processes --------------------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class SimulatorProcess:
    """The simulated Azure in a process of its own (so its memory is measured apart from the bench's)."""

    def __init__(self, latency_scale: float, groups: list[tuple[str, str, str]]) -> None:
        args = [sys.executable, "-m", "simulator", "--latency-scale", f"{latency_scale:g}"]
        for sub, name, location in groups:
            args += ["--resource-group", f"{sub}/{name}/{location}"]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=str(REPO_ROOT))
        self.env: dict[str, str] = {}
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                self.env[name] = value.strip("'")
                if len(self.env) >= 6:
                    break
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
