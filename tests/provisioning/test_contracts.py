"""The Durable boundary's contracts: camelCase round trips, and errors that name the field and the rule."""

from __future__ import annotations

import dataclasses

import pytest

from provisioning import contracts as c
from provisioning import function_names as fn

COMMON = c.Common(subscription_id="00000000-0000-0000-0000-000000000001", resource_group="rg",
                  location=None, tags={"owner": "platform"}, run_id="run-1", instance_id="setup-x")


def _sample(input_type: type[c.ActivityInput]) -> c.ActivityInput:
    """An input of `input_type` with every own field set to a plausible value of its type."""
    values = {
        "request": {"topology": "subnet"}, "name": "n", "scope": "/s", "role_definition_guid": "g",
        "principal_id": "p", "vnet_name": "v", "address_space": "10.0.0.0/16",
        "subnets": [c.SubnetSpec(name="a", prefix="10.0.0.0/24")], "existed_before": ["/x"],
        "subnet_name": "default", "subnet_prefix": "10.0.1.0/24", "peering_name": "v-to-w",
        "remote_vnet_id": "/w", "node_subnet_id": "/s/n", "service_cidr": "10.1.0.0/16",
        "dns_service_ip": "10.1.0.10", "node_count": 3, "vm_size": "Standard_D4s_v5",
        "kubernetes_version": None, "days": 7, "node_resource_group": "MC_x", "private_fqdn": "a.b.c",
        "vnet_id": "/w", "link_name": "w-link", "id": "/r", "type": "T", "principal_type": "ServicePrincipal",
    }
    own = {f.name for f in dataclasses.fields(input_type)} - {f.name for f in dataclasses.fields(c.Common)}
    return input_type(**COMMON.fields(), **{name: values[name] for name in own})


@pytest.mark.parametrize("activity", fn.ACTIVITIES)
def test_every_activity_input_round_trips_in_camel_case_with_the_common_fields(activity):
    contract = _sample(c.INPUTS[activity])
    wire = contract.to_dict()

    assert {"subscriptionId", "resourceGroup", "location", "tags", "runId", "instanceId"} <= set(wire)
    assert all("_" not in key for key in wire)
    assert c.parse_input(activity, wire) == contract
    assert c.parse_input(activity, wire).to_dict() == wire


def test_an_unknown_key_is_refused_naming_it():
    wire = _sample(c.BeginClusterInput).to_dict()
    with pytest.raises(c.ContractError, match=r"begin_aks_cluster input: unknown field 'nodeCnt'"):
        c.parse_input(fn.BEGIN_AKS_CLUSTER, {**wire, "nodeCnt": 2})


def test_a_missing_required_key_is_refused_naming_it():
    wire = _sample(c.PeeringInput).to_dict()
    del wire["remoteVnetId"]
    with pytest.raises(c.ContractError, match=r"ensure_peering input: missing field 'remoteVnetId'"):
        c.parse_input(fn.ENSURE_PEERING, wire)
    # An optional key may be left out: the default applies.
    del wire["existedBefore"]
    wire["remoteVnetId"] = "/w"
    assert c.parse_input(fn.ENSURE_PEERING, wire).existed_before is None


def test_a_wrong_type_is_refused_naming_the_nested_field():
    wire = _sample(c.AksNetworkInput).to_dict()
    wire["subnets"] = [{"name": "a", "prefix": 24}]
    with pytest.raises(c.ContractError, match=r"subnets\[0\]\.prefix: must be str, not int"):
        c.parse_input(fn.ENSURE_AKS_NETWORK, wire)
    wire = _sample(c.BeginClusterInput).to_dict()
    with pytest.raises(c.ContractError, match=r"nodeCount: must be an integer, not a boolean"):
        c.parse_input(fn.BEGIN_AKS_CLUSTER, {**wire, "nodeCount": True})


def test_activity_results_keep_today_s_shape_and_read_typed_outputs():
    created = c.ResourceRef(id="/r", type="Microsoft.ContainerRegistry/registries", action=c.CREATED)
    ok = c.ActivityResult.success([created], c.RegistryOutput(id="/r", login_server="r.azurecr.io"))
    assert ok.to_dict() == {"ok": True, "resources": [created.to_dict()],
                            "outputs": {"id": "/r", "loginServer": "r.azurecr.io"}}
    assert c.ActivityResult.from_dict(ok.to_dict()) == ok
    assert ok.output(c.RegistryOutput).login_server == "r.azurecr.io"

    failed = c.ActivityResult.failure(c.ActivityError(code="AlreadyInUse", message="taken", status=409),
                                      [created])
    assert failed.to_dict() == {"ok": False, "resources": [created.to_dict()], "error": {
        "code": "AlreadyInUse", "message": "taken", "status": 409, "transient": False}}
    assert c.ActivityResult.from_dict(failed.to_dict()) == failed
    # An error result without `resources` (the activities' `_results.error`) reads as none reported.
    bare = c.ActivityResult.from_dict({"ok": False, "error": {"code": "X", "message": "m", "status": None,
                                                              "transient": True}})
    assert bare.resources == [] and bare.error.transient
    preflight = c.ActivityResult.from_dict({"ok": False, "error": {
        "code": "PreflightFailed", "message": "1 problem", "status": None, "transient": False,
        "problems": [{"code": "MissingPermission", "target": "a/b", "message": "lacks a/b"}]}})
    assert preflight.error.problems[0].target == "a/b"
    assert preflight.to_dict()["error"]["problems"][0]["code"] == "MissingPermission"
    with pytest.raises(c.ContractError, match=r"RegistryOutput: missing field 'id'"):
        c.ActivityResult.success().output(c.RegistryOutput)


def test_timing_and_the_orchestration_input():
    assert c.Timing.from_dict({}) == c.Timing()
    timing = c.Timing.from_dict({"pollIntervalSeconds": 2, "retryMaxAttempts": 3})
    assert timing.poll_interval_seconds == 2.0 and timing.retry_max_attempts == 3
    with pytest.raises(c.ContractError, match="unknown field 'pollInterval'"):
        c.Timing.from_dict({"pollInterval": 2})
    setup = c.SetupInput.from_dict({"request": {"topology": "peering"}, "timing": {"pollIntervalSeconds": 1}})
    assert setup.to_dict()["timing"] == {"pollIntervalSeconds": 1.0, "retryFirstSeconds": 5,
                                         "retryMaxSeconds": 120, "retryMaxAttempts": 8,
                                         "clusterTimeoutSeconds": 3600}
    with pytest.raises(c.ContractError, match="SetupInput: missing field 'request'"):
        c.SetupInput.from_dict({})


def test_every_activity_has_one_input_and_one_output_contract_and_names_are_unique():
    assert set(c.INPUTS) == set(c.OUTPUTS) == set(fn.ACTIVITIES)
    assert len(set(fn.ACTIVITIES) | set(fn.ORCHESTRATORS)) == len(fn.ACTIVITIES) + len(fn.ORCHESTRATORS)
    assert all(c.INPUTS[name].NAME == name for name in fn.ACTIVITIES)
