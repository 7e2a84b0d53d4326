"""The control HTTP API under /_simulator/ and ``python -m simulator``."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from simulator.testing import SUBSCRIPTION_ID, sdk_client

ROOT = Path(__file__).resolve().parents[2]


def control(sim, method, what, json=None):
    return requests.request(
        method, f"{sim.endpoint}/_simulator/{what}", json=json, verify=sim.ca_file, timeout=5
    )


def test_resource_groups_state_and_requests(simulator):
    made = control(
        simulator,
        "POST",
        "resourceGroups",
        {"subscriptionId": SUBSCRIPTION_ID, "name": "rg", "location": "westeurope"},
    )
    assert made.status_code == 201 and made.json()["name"] == "rg"
    rm = sdk_client(ResourceManagementClient, simulator)
    assert rm.resource_groups.get("rg").location == "westeurope"
    state = control(simulator, "GET", "state").json()
    assert [r["name"] for r in state["resources"]] == ["rg"]
    log = control(simulator, "GET", "requests").json()
    assert log[-1]["method"] == "GET" and log[-1]["status"] == 200
    assert set(log[-1]) >= {"method", "path", "apiVersion", "status", "resourceType", "time"}
    assert all(not e["path"].startswith("/_simulator") for e in log)  # control calls are not ARM requests
    assert control(simulator, "DELETE", "requests").status_code == 204
    assert control(simulator, "GET", "requests").json() == []


def test_faults_over_http(simulator):
    rm = sdk_client(ResourceManagementClient, simulator, retry_total=0)
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    added = control(
        simulator,
        "POST",
        "faults",
        {"method": "GET", "path": "/resourcegroups/rg", "status": 400, "code": "InvalidParameter"},
    )
    assert added.status_code == 201 and added.json()["count"] == 1
    assert len(control(simulator, "GET", "faults").json()) == 1
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.get("rg")
    assert err.value.error.code == "InvalidParameter"
    assert rm.resource_groups.get("rg").name == "rg"
    control(simulator, "POST", "faults", {"method": "GET", "kind": "status", "status": 500, "count": -1})
    assert control(simulator, "DELETE", "faults").status_code == 204
    assert rm.resource_groups.get("rg").name == "rg"
    bad = control(simulator, "POST", "faults", {"kind": "meteor"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["message"]


def test_latency_permissions_principals_reset(simulator):
    now = control(
        simulator,
        "POST",
        "latency",
        {"latencyScale": 0.5, "pollsToComplete": 3, "principalReplicationDelay": 2},
    )
    assert now.json() == {
        "latencyScale": 0.5,
        "pollsToComplete": 3,
        "principalReplicationDelay": 2.0,
        "principalReplicationRequests": 0,
        "latencyOverrides": {},
    }
    assert (simulator.latency_scale, simulator.polls_to_complete) == (0.5, 3)
    assert control(simulator, "GET", "latency").json()["latencyScale"] == 0.5
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    denied = control(
        simulator,
        "POST",
        "permissions/deny",
        {
            "subscriptionId": SUBSCRIPTION_ID,
            "resourceGroup": "rg",
            "action": "Microsoft.Network/virtualNetworks/write",
        },
    )
    assert denied.status_code == 204
    auth = sdk_client(AuthorizationManagementClient, simulator)
    assert list(auth.permissions.list_for_resource_group("rg"))[0].not_actions == [
        "Microsoft.Network/virtualNetworks/write"
    ]
    assert control(
        simulator, "POST", "principals", {"principalId": "11111111-1111-1111-1111-111111111111"}
    ).ok
    assert "11111111-1111-1111-1111-111111111111" in simulator.state()["principals"]
    assert control(simulator, "POST", "reset").status_code == 204
    state = control(simulator, "GET", "state").json()
    assert state["resources"] == [] and state["principals"] == [] and state["deniedPermissions"] == {}
    assert control(simulator, "GET", "env").json() == simulator.env()
    assert control(simulator, "GET", "nothing-here").status_code == 404


def test_python_m_simulator_runs_alone():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--latency-scale",
            "0.1",
            "--polls-to-complete",
            "2",
            "--resource-group",
            f"{SUBSCRIPTION_ID}/demo-rg/westeurope",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(9)]
        exports = dict(re.findall(r"^export (\w+)=(\S+)$", "".join(lines), re.MULTILINE))
        assert set(exports) == {
            "ARM_ENDPOINT",
            "ARM_CA_BUNDLE",
            "ARM_SCOPE",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
        }
        assert any(exports["ARM_ENDPOINT"] in line for line in lines[:1])
        assert any(exports["ARM_CA_BUNDLE"] in line for line in lines[1:2])
        state = requests.get(
            exports["ARM_ENDPOINT"] + "/_simulator/state", verify=exports["ARM_CA_BUNDLE"], timeout=5
        ).json()
        assert [r["name"] for r in state["resources"]] == ["demo-rg"]
        assert (state["latencyScale"], state["pollsToComplete"]) == (0.1, 2)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
