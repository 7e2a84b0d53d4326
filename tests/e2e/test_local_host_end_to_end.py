"""The real function_app.py on the local host, over real HTTP, against the simulated Azure (issue 4).

A user's view: POST an example request, follow `Location` the way Logic Apps does until it is not 202, and
read the Hopsworks values — for both topologies — and a failed run answering 500 on that same URL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devhost.testing import REPO_ROOT, DevHost
from simulator import Simulator

EXAMPLES = REPO_ROOT / "examples"
FAST_TIMING = {
    "SETUP_POLL_INTERVAL_SECONDS": "0.05",
    "SETUP_RETRY_FIRST_SECONDS": "0.05",
    "SETUP_RETRY_MAX_SECONDS": "0.2",
}


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def seeded(simulator: Simulator) -> Simulator:
    for name in ("peering.json", "subnet.json"):
        request = load_example(name)
        simulator.add_resource_group(request["subscriptionId"], request["resourceGroup"], request["location"])
    return simulator


@pytest.fixture
def host(seeded: Simulator, tmp_path: Path):
    with DevHost(REPO_ROOT, tmp_path / "state.db", env={**seeded.env(), **FAST_TIMING}) as running:
        yield running


def follow_like_logic_apps(location: str, timeout: float = 60.0) -> requests.Response:
    """Poll while 202, honouring Retry-After scaled down; stop at the first other answer."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while True:
            answer = session.get(location, timeout=10)
            if answer.status_code != 202:
                return answer
            assert "Location" in answer.headers, "a 202 must say where to poll next"
            location = answer.headers["Location"]
            assert time.monotonic() < deadline, "the run did not finish in time"
            time.sleep(0.1)


def post_setup(host: DevHost, body: dict) -> requests.Response:
    return requests.post(f"{host.base_url}/api/setups", json=body, headers=host.auth_headers, timeout=30)


@pytest.mark.parametrize(
    ("example", "vnet", "subnet"),
    [("peering.json", "hopsworks-vnet", "default"), ("subnet.json", "hopsaks-subnet-vnet", "hopsworks")],
)
def test_example_request_completes_with_the_hopsworks_values(host, seeded, example, vnet, subnet):
    request = load_example(example)
    accepted = post_setup(host, request)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert "returnInternalServerErrorOnFailure=true" in location
    assert accepted.json()["statusQueryGetUri"] == location

    done = follow_like_logic_apps(location)
    assert done.status_code == 200, done.text
    status = done.json()
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["hopsworks"] == {
        "location": "northeurope",
        "resourceGroup": request["resourceGroup"],
        "managedIdentity": "hopsworks-identity",
        "aksClusterName": request["aks"]["name"],
        "acrRegistryName": request["acr"]["name"],
        "virtualNetworkName": vnet,
        "subnetName": subnet,
        "networkResourceGroup": request["resourceGroup"],
    }
    custom = status["customStatus"]
    assert custom["done"] == custom["total"] and set(custom["steps"].values()) == {"succeeded"}
    # The guide's resources really exist in the simulated subscription, configured as the guide says.
    sub, rg = request["subscriptionId"], request["resourceGroup"]
    cluster = seeded.resource(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/"
        f"{request['aks']['name']}"
    )
    assert cluster["properties"]["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert cluster["properties"]["networkProfile"]["networkPlugin"] == "azure"
    assert cluster["identity"]["type"] == "SystemAssigned"
    registry = seeded.resource(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/"
        f"{request['acr']['name']}"
    )
    assert registry["sku"]["name"] == "Premium"
    assert registry["properties"]["policies"]["retentionPolicy"] == {
        **registry["properties"]["policies"]["retentionPolicy"], "days": 7, "status": "enabled"
    }


def test_failed_run_answers_500_on_the_logic_apps_url_and_explains_itself(host, seeded):
    request = load_example("peering.json")
    before = seeded.state()["resources"]
    seeded.add_fault(method="PUT", path="/registries/", kind="lro_failed", code="RegistryQuotaExceeded")

    accepted = post_setup(host, request)
    assert accepted.status_code == 202
    failed = follow_like_logic_apps(accepted.headers["Location"])

    assert failed.status_code == 500
    status = failed.json()
    assert status["runtimeStatus"] == "Failed"
    message = status["output"]
    assert "acr" in message and "RegistryQuotaExceeded" in message and "Rolled back" in message
    assert status["customStatus"]["error"] == {"step": "acr", "code": "RegistryQuotaExceeded"}
    # Everything the run made is gone again; the resource group it found is still there.
    assert seeded.state()["resources"] == before
    # Without the flag the same status answers 200, which is why the Location carries it.
    plain = requests.get(accepted.headers["Location"].replace("returnInternalServerErrorOnFailure=true", ""),
                         timeout=10)
    assert plain.status_code == 200


def test_bad_request_names_every_field_and_starts_nothing(host, seeded):
    request = load_example("subnet.json")
    request["aks"]["serviceCidr"] = "10.240.0.0/16"  # overlaps the AKS vnet
    request["acr"]["name"] = "no-dashes-allowed"
    del request["hopsworksSubnet"]
    refused = post_setup(host, request)
    assert refused.status_code == 400
    fields = {error["field"] for error in refused.json()["errors"]}
    assert {"aks.serviceCidr", "acr.name", "hopsworksSubnet"} <= fields
    assert seeded.requests == []


def test_make_demo_command_runs_both_examples(tmp_path):
    """`make demo` is `python -m devhost.demo`: it must work as the README promises."""
    done = subprocess.run(
        [sys.executable, "-m", "devhost.demo", "--latency-scale", "0.002"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    shown = done.stdout + done.stderr  # the client's progress goes to stderr, the values to stdout
    assert done.returncode == 0, shown
    assert shown.count("Completed:") == 2
    assert "virtualNetworkName: hopsworks-vnet" in done.stdout
    assert "subnetName: hopsworks" in done.stdout
