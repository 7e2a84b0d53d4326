"""The pure parts of the setup: topologies, each call's input, rollback decisions, the custom status."""

from __future__ import annotations

import pytest

from provisioning import contracts as c
from provisioning import roles, status, topology
from provisioning.rollback import Deletion, Rollback, deletion_order, is_under, waits_for_cluster
from provisioning.step_inputs import StepInputs
from tests.orchestrator.conftest import normalized_request

COMMON = c.Common(subscription_id="00000000-0000-0000-0000-000000000001", resource_group="hopsworks-rg",
                  location=None, tags={"owner": "platform"}, run_id="run-1", instance_id="setup-x")
AKS_NETWORK = c.AksNetworkOutput(vnet_id="/aks-vnet-id", subnet_ids={"aks-nodes": "/node-subnet"})
HOPSWORKS_NETWORK = c.HopsworksNetworkOutput(vnet_id="/hw-vnet-id", subnet_id="/hw-subnet")
CLUSTER = c.ClusterOutput(id="/c", provisioning_state="Succeeded", principal_id="p-cluster",
                          kubelet_object_id="p-kubelet", node_resource_group="MC_x",
                          private_fqdn="x.abc.privatelink.northeurope.azmk8s.io")


# ---------------------------------------------------------------- topology


def test_each_step_needs_only_steps_listed_before_it():
    for name in topology.NAMES:
        seen: set[str] = set()
        for step in topology.of(name).steps:
            assert set(step.needs) <= seen, step
            assert step.guide_step
            seen.add(step.name)


def test_the_topologies_differ_in_steps_subnets_placement_and_permissions():
    peering, subnet = topology.of("peering"), topology.of("subnet")
    assert set(peering.step_names) - set(subnet.step_names) == {"hopsworks_network", "peering", "dns_link"}
    assert "aks_cluster" in peering.step("peering").needs  # both peerings wait for the cluster (issue #9)

    peering_request, subnet_request = normalized_request("peering"), normalized_request("subnet")
    assert [s.name for s in peering.aks_subnets(peering_request)] == ["aks-nodes"]
    assert subnet.aks_subnets(subnet_request) == [c.SubnetSpec(name="aks-nodes", prefix="10.240.0.0/20"),
                                                  c.SubnetSpec(name="hopsworks", prefix="10.240.16.0/24")]
    assert peering.hopsworks_placement(peering_request) == ("hopsworks-vnet", "default")
    assert subnet.hopsworks_placement(subnet_request) == ("hopsaks-subnet-vnet", "hopsworks")
    assert peering.required_actions() == roles.required_actions("peering")
    with pytest.raises(ValueError, match="topology must be one of peering, subnet"):
        topology.of("vpn")


# ---------------------------------------------------------------- step inputs


def test_inputs_are_built_from_the_request_and_earlier_outputs():
    ask = StepInputs(normalized_request("peering"), COMMON)
    begin = ask.begin_cluster(AKS_NETWORK)
    assert begin.NAME == "begin_aks_cluster" and begin.node_subnet_id == "/node-subnet"
    assert begin.run_id == "run-1" and begin.instance_id == "setup-x"
    first, second = ask.peerings(AKS_NETWORK, HOPSWORKS_NETWORK)
    assert first.remote_vnet_id == "/aks-vnet-id" and second.remote_vnet_id == "/hw-vnet-id"
    assert (first.vnet_name, second.vnet_name) == ("hopsworks-vnet", "hopsaks-vnet")
    assert ask.network_role(AKS_NETWORK, CLUSTER).principal_id == "p-cluster"
    pull = ask.acr_pull(c.RegistryOutput(id="/registries/r"), CLUSTER)
    assert (pull.scope, pull.principal_id, pull.role_definition_guid) == ("/registries/r", "p-kubelet",
                                                                          roles.ACR_PULL.guid)
    link = ask.dns_link(CLUSTER, HOPSWORKS_NETWORK)
    assert (link.link_name, link.vnet_id, link.node_resource_group) == ("hopsworks-vnet-link", "/hw-vnet-id",
                                                                        "MC_x")
    roles_in = ask.identity_roles(c.IdentityOutput(id="/i", principal_id="p-1"))
    assert [r.role_definition_guid for r in roles_in] == [r.guid for r in roles.IDENTITY_ROLES]
    assert {r.principal_id for r in roles_in} == {"p-1"}


def test_preflight_gives_the_location_and_the_snapshot_to_every_later_input():
    ask = StepInputs(normalized_request("peering"), COMMON)
    assert ask.preflight().location is None or ask.preflight().location == "northeurope"
    after = ask.after_preflight(c.PreflightOutput(location="westeurope", existed_before=["/users-subnet"]))
    expected = ask.request.get("location") or "westeurope"
    assert after.identity().location == expected
    inputs = [after.aks_network(), after.hopsworks_network(), *after.peerings(AKS_NETWORK, HOPSWORKS_NETWORK)]
    assert [i.existed_before for i in inputs] == [["/users-subnet"]] * 4
    # No snapshot: nothing found is claimed as this run's.
    bare = ask.after_preflight(c.PreflightOutput(location="westeurope"))
    assert bare.aks_network().existed_before is None


# ---------------------------------------------------------------- rollback


def _res(rid: str, action: str = "created") -> dict:
    return {"id": rid, "type": "T", "action": action}


def test_deletion_order_reverses_dependencies_and_creation_and_skips_existing():
    names = topology.of("peering").step_names
    order = deletion_order(names, {
        "identity": [_res("identity")],
        "identity_roles": [_res("role-1"), _res("role-2", "existing"), _res("role-3")],
        "aks_network": [_res("vnet"), _res("subnet")],
        "aks_cluster": [_res("cluster")],
        "peering": [_res("p1"), _res("p2")],
        "acr": [_res("registry", "existing")],
        "dns_link": [_res("LINK"), _res("link")],  # reported twice: deleted once
    })
    assert [d.id for d in order] == ["link", "p2", "p1", "cluster", "subnet", "vnet", "role-3", "role-1",
                                     "identity"]
    assert order[0].step == "dns_link" and order[-1].step == "identity"


def test_rollback_settles_steps_and_forgives_children_of_a_deleted_parent():
    names = ("identity", "aks_network", "aks_cluster")
    states = {"identity": status.SUCCEEDED, "aks_network": status.SUCCEEDED, "aks_cluster": status.RUNNING}
    rollback = Rollback.plan(names, states, {
        "identity": [_res("/i")], "aks_network": [_res("/v"), _res("/v/subnets/s")],
        "aks_cluster": [_res("/c")]})
    assert [d.id for d in rollback.order] == ["/c", "/v/subnets/s", "/v", "/i"]

    assert rollback.deleted(rollback.order[0]) and states["aks_cluster"] == status.ROLLED_BACK
    rollback.kept(rollback.order[1], "AuthorizationFailed")  # the subnet stays ...
    assert rollback.deleted(rollback.order[2])  # ... until its vnet is deleted: gone with it
    assert rollback.left_behind == []
    assert rollback.rolled_back == ["/c", "/v", "/v/subnets/s"]
    assert states["aks_network"] == status.ROLLED_BACK
    rollback.kept(rollback.order[3], "ScopeLocked")
    rollback.finish()
    assert states["identity"] == status.SUCCEEDED  # its identity still stands
    failure = c.StepFailure(step="aks_cluster", code="QuotaExceeded", message="no cores.")
    message = rollback.message([failure])
    assert message.startswith("Setup failed at step aks_cluster: QuotaExceeded: no cores. Rolled back 3")
    assert message.endswith("Left behind 1 resource(s) that could not be removed: /i (ScopeLocked).")


def test_a_running_step_with_something_left_becomes_failed_and_nothing_rolled_back_says_so():
    states = {"aks_cluster": status.RUNNING}
    rollback = Rollback.plan(("aks_cluster",), states, {"aks_cluster": [_res("/c")]})
    rollback.kept(rollback.order[0], "DeleteTimeout")
    rollback.finish()
    assert states["aks_cluster"] == status.FAILED
    empty = Rollback.plan(("preflight",), {"preflight": status.FAILED}, {})
    empty.finish()
    assert "Rolled back: nothing (this run had created nothing). Left behind: nothing." in empty.message(
        [c.StepFailure(step="preflight", code="PreflightFailed")])


def test_only_a_busy_cluster_delete_waits_and_ids_nest_without_case():
    cluster = "Microsoft.ContainerService/managedClusters"
    assert waits_for_cluster(cluster, "OperationNotAllowed")
    assert not waits_for_cluster(cluster, "TooManyRequests")
    assert not waits_for_cluster("Microsoft.Network/virtualNetworks", "OperationNotAllowed")
    assert is_under("/A/b/Subnets/x", "/a/B/") and not is_under("/a/bc", "/a/b")
    assert Deletion("/x", "T", "s") == Deletion("/x", "T", "s")


# ---------------------------------------------------------------- custom status


def test_custom_status_is_small_ordered_and_never_falsy():
    built = status.build_status("subnet", ["a", "b"], {"a": "succeeded"})
    assert built == {"topology": "subnet", "steps": {"a": "succeeded", "b": "pending"}, "done": 1, "total": 2}
    failed = status.build_status("subnet", ["a"], {"a": "failed"}, {"step": "a", "code": "X", "message": "m"})
    assert failed["error"] == {"step": "a", "code": "X"}  # codes only: ARM messages stay out of the status
    assert status.build_status("peering", [], {})
    with pytest.raises(ValueError):
        status.build_status("subnet", ["a"], {"a": "done"})
