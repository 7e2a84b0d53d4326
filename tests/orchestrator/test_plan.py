"""The step plan and the custom status as plain data (no replay engine)."""

from __future__ import annotations

import pytest

from provisioning import plan, status
from tests.orchestrator.conftest import normalized_request


def test_each_step_needs_only_steps_listed_before_it():
    for topology in plan.TOPOLOGIES:
        seen: set[str] = set()
        for step in plan.step_plan(topology).steps:
            assert set(step.needs) <= seen, step
            assert step.guide_step
            seen.add(step.name)


def test_ready_steps_follow_the_needs_and_stop_after_a_failure():
    peering = plan.step_plan("peering")
    assert peering.ready_steps([], [], []) == ["preflight"]
    after_preflight = ["identity", "aks_network", "hopsworks_network"]
    assert peering.ready_steps(["preflight"], [], []) == after_preflight
    # The registry needs only preflight, but starts with the cluster (scheduling, not a dependency).
    running = ["identity", "hopsworks_network"]
    assert peering.ready_steps(["preflight", "aks_network"], running, []) == ["aks_cluster", "acr"]
    assert peering.ready_steps(["preflight", "aks_network"], running + ["aks_cluster"], []) == ["acr"]
    done = ["preflight", "aks_network", "hopsworks_network", "acr", "aks_cluster"]
    assert peering.ready_steps(done, [], []) == ["identity", "aks_network_role", "acr_retention", "acr_pull",
                                                  "peering", "dns_link"]
    assert peering.ready_steps(["preflight"], [], ["acr"]) == []
    subnet = plan.step_plan("subnet")
    assert "peering" not in subnet.names and "dns_link" not in subnet.names
    with pytest.raises(ValueError):
        plan.step_plan("vpn")


def test_rollback_order_reverses_dependencies_and_creation_and_skips_existing():
    peering = plan.step_plan("peering")

    def res(rid, action="created"):
        return {"id": rid, "type": "T", "action": action}

    order = peering.rollback_order({
        "identity": [res("identity")],
        "identity_roles": [res("role-1"), res("role-2", "existing"), res("role-3")],
        "aks_network": [res("vnet"), res("subnet")],
        "aks_cluster": [res("cluster")],
        "peering": [res("p1"), res("p2")],
        "acr": [res("registry", "existing")],
        "dns_link": [res("LINK"), res("link")],  # reported twice: deleted once
    })
    assert [r["id"] for r in order] == ["link", "p2", "p1", "cluster", "subnet", "vnet", "role-3", "role-1",
                                        "identity"]
    assert order[0]["step"] == "dns_link" and order[-1]["step"] == "identity"


def test_inputs_are_built_from_the_request_and_earlier_outputs():
    request = normalized_request("peering")
    ctx = plan.RunContext(request, "run-1", "setup-x", plan.Timing(), {
        "aks_network": {"vnetId": "/aks-vnet-id", "subnetIds": {"aks-nodes": "/node-subnet"}},
        "hopsworks_network": {"vnetId": "/hw-vnet-id", "subnetId": "/hw-subnet"},
    })
    begin = plan.begin_cluster_call(ctx)
    assert begin.activity == "begin_aks_cluster" and begin.input["nodeSubnetId"] == "/node-subnet"
    assert begin.input["runId"] == "run-1" and begin.input["instanceId"] == "setup-x"
    first, second = plan.peering_calls(ctx)
    assert first.input["remoteVnetId"] == "/aks-vnet-id" and second.input["remoteVnetId"] == "/hw-vnet-id"
    assert plan.Timing.from_input({"pollIntervalSeconds": 2}).poll_interval_seconds == 2
    assert plan.Timing.from_input(None) == plan.Timing()


def test_preflight_snapshot_reaches_the_activities_that_cannot_tag_what_they_make():
    request = normalized_request("peering")
    outputs = {
        "preflight": {"location": "northeurope", "existedBefore": ["/users-subnet"]},
        "aks_network": {"vnetId": "/aks-vnet-id", "subnetIds": {"aks-nodes": "/node-subnet"}},
        "hopsworks_network": {"vnetId": "/hw-vnet-id", "subnetId": "/hw-subnet"},
    }
    ctx = plan.RunContext(request, "run-1", "setup-x", plan.Timing(), outputs)
    calls = [plan.aks_network_call(ctx), plan.hopsworks_network_call(ctx), *plan.peering_calls(ctx)]
    assert [call.input["existedBefore"] for call in calls] == [["/users-subnet"]] * 4
    # No snapshot (preflight of an older version): nothing found is claimed as this run's.
    bare = plan.RunContext(request, "run-1", "setup-x", plan.Timing(), {**outputs, "preflight": {}})
    assert plan.aks_network_call(bare).input["existedBefore"] is None


def test_a_step_program_yields_calls_and_returns_outputs():
    request = normalized_request("subnet")
    ctx = plan.RunContext(request, "run-1", "setup-x", plan.Timing(), {"identity": {"principalId": "p-1"}})
    program = plan.step_program("identity_roles", ctx)
    calls = program.send(None)
    assert [c.input["principalId"] for c in calls] == ["p-1"] * 4
    with pytest.raises(StopIteration) as finished:
        program.send([{"ok": True, "outputs": {"id": f"ra-{i}"}} for i in range(4)])
    assert finished.value.value == {"roleAssignmentIds": ["ra-0", "ra-1", "ra-2", "ra-3"]}


def test_custom_status_is_small_ordered_and_never_falsy():
    built = status.build_status("subnet", ["a", "b"], {"a": "succeeded"})
    assert built == {"topology": "subnet", "steps": {"a": "succeeded", "b": "pending"}, "done": 1, "total": 2}
    failed = status.build_status("subnet", ["a"], {"a": "failed"}, {"step": "a", "code": "X", "message": "m"})
    assert failed["error"] == {"step": "a", "code": "X"}  # codes only: ARM messages stay out of the status
    assert status.build_status("peering", [], {})
    with pytest.raises(ValueError):
        status.build_status("subnet", ["a"], {"a": "done"})


def test_the_cluster_program_waits_reads_and_fails_on_a_canceled_cluster():
    from datetime import UTC, datetime

    request = normalized_request("subnet")
    ctx = plan.RunContext(request, "run-1", "setup-x", plan.Timing(poll_interval_seconds=20), {
        "aks_network": {"vnetId": "/v", "subnetIds": {"aks-nodes": "/s"}}})
    program = plan.step_program("aks_cluster", ctx)
    (begin,) = program.send(None)
    assert begin.activity == "begin_aks_cluster"
    started = {"ok": True, "outputs": {"id": "/c", "provisioningState": "Creating"}}
    assert program.send([started]) == plan.Wait(20)
    (read,) = program.send(datetime(2025, 1, 1, tzinfo=UTC))
    assert read.activity == "get_aks_cluster"
    assert program.send([{"ok": True, "outputs": {"provisioningState": "Creating"}}]) == plan.Wait(20)
    program.send(datetime(2025, 1, 1, 0, 0, 20, tzinfo=UTC))
    with pytest.raises(plan.StepFailed) as failed:
        program.send([{"ok": True, "outputs": {"provisioningState": "Canceled"}}])
    assert failed.value.code == "ClusterProvisioningFailed" and "Canceled" in failed.value.message
