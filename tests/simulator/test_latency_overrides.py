"""Another latency model on the same simulator: per-type overrides of LATENCY (e.g. an 8-minute cluster)."""

from __future__ import annotations

import time

import pytest
import requests
from azure.mgmt.network import NetworkManagementClient

from simulator import Simulator
from simulator.arm import LATENCY
from simulator.testing import SUBSCRIPTION_ID, sdk_client

VNET = "microsoft.network/virtualnetworks"
CLUSTER = "microsoft.containerservice/managedclusters"


def _begin_vnet(simulator: Simulator, name: str) -> None:
    network = sdk_client(NetworkManagementClient, simulator)
    body = {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}}
    network.virtual_networks.begin_create_or_update("rg", name, body, polling=False)


def _state(simulator: Simulator, name: str) -> str:
    rid = (f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/"
           f"{name}")
    body = simulator.resource(rid)
    assert body is not None
    return body["properties"]["provisioningState"]


def test_an_override_replaces_the_model_for_its_type_and_kind_only(simulator: Simulator) -> None:
    simulator.polls_to_complete = None
    simulator.latency_scale = 0.01  # vnet create: 5 s -> 0.05 s; overridden 60 s -> 0.6 s
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    simulator.latency_overrides = {"Microsoft.Network/virtualNetworks": {"create": 60}}
    assert simulator.latency_overrides == {VNET: {"create": 60.0}}  # types are matched in lower case
    assert simulator.arm.duration(VNET, "create") == pytest.approx(0.6)
    assert simulator.arm.duration(VNET, "delete") == pytest.approx(LATENCY[VNET]["delete"] * 0.01)
    assert simulator.arm.duration(CLUSTER, "create") == pytest.approx(LATENCY[CLUSTER]["create"] * 0.01)

    _begin_vnet(simulator, "slow")
    time.sleep(0.15)  # three times the model's 0.05 s, a quarter of the override
    assert _state(simulator, "slow") != "Succeeded"
    time.sleep(0.6)
    assert _state(simulator, "slow") == "Succeeded"

    simulator.latency_overrides = {}
    _begin_vnet(simulator, "fast")
    time.sleep(0.15)
    assert _state(simulator, "fast") == "Succeeded"


def test_overrides_over_the_control_api_and_their_validation(simulator: Simulator) -> None:
    url = f"{simulator.endpoint}/_simulator/latency"
    answer = requests.post(url, json={"latencyOverrides": {CLUSTER: {"create": 480}}},
                           verify=simulator.ca_file, timeout=5)
    assert answer.status_code == 200 and answer.json()["latencyOverrides"] == {CLUSTER: {"create": 480.0}}
    assert simulator.arm.duration(CLUSTER, "create") == pytest.approx(480 * simulator.latency_scale)
    got = requests.get(url, verify=simulator.ca_file, timeout=5).json()
    assert got["latencyOverrides"] == {CLUSTER: {"create": 480.0}}
    assert simulator.state()["latencyOverrides"] == {CLUSTER: {"create": 480.0}}

    for bad, words in (({CLUSTER: {"build": 1}}, ("kind", "create")), ({CLUSTER: {"create": -1}}, (">= 0",)),
                       ({CLUSTER: 480}, ("kinds",))):
        refused = requests.post(url, json={"latencyOverrides": bad}, verify=simulator.ca_file, timeout=5)
        assert refused.status_code == 400
        assert all(word in refused.json()["error"]["message"] for word in words), refused.text
    assert simulator.latency_overrides == {CLUSTER: {"create": 480.0}}  # a refused change changes nothing


def test_the_constructor_takes_overrides_and_the_fixture_resets_them() -> None:
    sim = Simulator(latency_scale=0.5, latency_overrides={CLUSTER: {"create": 480}})
    assert sim.arm.duration(CLUSTER, "create") == pytest.approx(240.0)


def test_the_function_fixture_starts_without_overrides(simulator: Simulator) -> None:
    assert simulator.latency_overrides == {}
