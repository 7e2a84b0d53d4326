"""The orchestrator through the real replay engine: runs that succeed."""

from __future__ import annotations

import json
import math
import uuid

import pytest

from provisioning import roles
from tests.orchestrator.conftest import orchestration_input
from tests.orchestrator.driver import START, drive
from tests.orchestrator.history import WHEN_ALL, replay
from tests.orchestrator.world import CLUSTER, DNS_LINK, IDENTITY, PEERING, REGISTRY, SUBNET, VNET, FakeAzure

COMMON_FIELDS = {"subscriptionId", "resourceGroup", "location", "tags", "runId", "instanceId"}


def test_peering_topology_runs_every_guide_step_and_returns_the_hopsworks_values(handle):
    world = FakeAzure()
    run = drive(handle, world, orchestration_input("peering"))

    assert not run.failed, run.error
    assert run.final.state["schemaVersion"] == 2  # replay schema V3
    assert run.output["hopsworks"] == {
        "location": "northeurope", "resourceGroup": "hopsworks-rg", "managedIdentity": "hopsworks-identity",
        "aksClusterName": "hopsaks-cluster", "acrRegistryName": "hopsworksaks",
        "virtualNetworkName": "hopsworks-vnet", "subnetName": "default",
        "networkResourceGroup": "hopsworks-rg",
    }
    # Every resource the world made is reported, once, as created; nothing else.
    reported = [(r["id"], r["type"], r["action"]) for r in run.output["resources"]]
    assert sorted(reported) == sorted((r.id, r.type, "created") for r in world.resources.values())
    types = [r["type"] for r in run.output["resources"]]
    assert types.count("Microsoft.Authorization/roleAssignments") == 6  # 4 identity + network + acrpull
    assert types.count(PEERING) == 2 and types.count(DNS_LINK) == 1 and types.count(CLUSTER) == 1
    assert types.count(VNET) == 2 and types.count(SUBNET) == 2 and types.count(REGISTRY) == 1
    assert types.count(IDENTITY) == 1

    called = {call.activity for call in world.calls}
    assert called == {"preflight", "ensure_identity", "ensure_role_assignment", "ensure_aks_network",
                      "begin_aks_cluster", "get_aks_cluster", "ensure_registry", "ensure_retention_policy",
                      "ensure_hopsworks_network", "ensure_peering", "ensure_dns_zone_link"}
    assert run.custom_status["steps"] == {name: "succeeded" for name in run.custom_status["steps"]}
    assert run.custom_status["done"] == run.custom_status["total"] == 12


def test_subnet_topology_puts_the_hopsworks_subnet_in_the_aks_vnet_and_skips_peering(handle):
    world = FakeAzure()
    run = drive(handle, world, orchestration_input("subnet"))

    assert not run.failed, run.error
    assert run.output["hopsworks"]["virtualNetworkName"] == "hopsaks-subnet-vnet"
    assert run.output["hopsworks"]["subnetName"] == "hopsworks"
    (network_call,) = world.calls_to("ensure_aks_network")
    assert network_call.input["subnets"] == [{"name": "aks-nodes", "prefix": "10.240.0.0/20"},
                                             {"name": "hopsworks", "prefix": "10.240.16.0/24"}]
    called = {call.activity for call in world.calls}
    assert not called & {"ensure_hopsworks_network", "ensure_peering", "ensure_dns_zone_link"}
    assert set(run.custom_status["steps"]) == {
        "preflight", "identity", "identity_roles", "aks_network", "aks_cluster", "aks_network_role", "acr",
        "acr_retention", "acr_pull"}
    assert run.custom_status["done"] == run.custom_status["total"] == 9
    reported = sorted((r["id"], r["action"]) for r in run.output["resources"])
    assert reported == sorted((r.id, "created") for r in world.resources.values())


@pytest.mark.parametrize("topology", ["peering", "subnet"])
def test_everything_independent_starts_in_one_round_right_after_preflight(handle, topology):
    world = FakeAzure()
    run = drive(handle, world, orchestration_input(topology))

    assert run.scheduled_activities(0) == ["preflight"]
    # The registry (~15 s) starts with the cluster, not here: a stage ends when all of its calls have
    # answered, and in this stage it would hold back the cluster, which waits only for its network (~5 s).
    expected = {"ensure_identity", "ensure_aks_network"}
    if topology == "peering":
        expected.add("ensure_hopsworks_network")
    assert run.episodes[1].completed == ["preflight"]
    assert sorted(run.scheduled_activities(1)) == sorted(expected)
    # One yield per stage: the stage after preflight is one WhenAll holding exactly those calls.
    first_round = run.action_lists[-1][1]
    assert first_round["actionType"] == WHEN_ALL
    assert sorted(a["functionName"] for a in first_round["compoundActions"]) == sorted(expected)
    # The next stage also starts together: the 4 identity roles, the cluster, the registry (no peering: both
    # sides wait for the cluster, which writes into its vnet while it builds); the retention policy follows
    # the registry one stage later, while the cluster builds.
    wave = run.scheduled_activities(2)
    assert wave.count("ensure_role_assignment") == 4
    assert {"begin_aks_cluster", "ensure_registry"} <= set(wave)
    assert "ensure_peering" not in wave
    assert "ensure_retention_policy" in run.scheduled_activities(3)
    # What needs the cluster starts in the episode that hears the cluster watch (a sub-orchestration) saw it
    # Succeeded, all at once.
    first_after_cluster = next(i for i, e in enumerate(run.episodes)
                               if "suborchestration" in e.completed and e.scheduled and
                               "timer" not in [name for name, _ in e.scheduled])
    after = run.scheduled_activities(first_after_cluster)
    assert after.count("ensure_role_assignment") == 2  # Network Contributor + AcrPull
    assert ("ensure_dns_zone_link" in after) == (topology == "peering")
    # Option A: the peering chain (a sub-orchestration) starts in that same episode, after the cluster.
    assert ("setup_peering_chain" in after) == (topology == "peering")
    cluster_ready = max(c.time for c in world.calls_to("get_aks_cluster"))
    assert all(c.time > cluster_ready for c in world.calls_to("ensure_peering"))
    # Every action was issued by the extension in the episode that asked for it (sub-orchestrations too).
    assert run.all_gated == []


def test_every_activity_input_carries_the_common_fields_and_one_run_id(handle):
    world = FakeAzure()
    instance = "setup-0b7c6f5e-common-fields"
    run = drive(handle, world, orchestration_input("peering"), instance_id=instance)

    assert not run.failed
    run_ids = set()
    for call in world.calls:
        assert COMMON_FIELDS <= set(call.input), call.activity
        assert call.input["subscriptionId"] == "00000000-0000-0000-0000-000000000001"
        assert call.input["resourceGroup"] == "hopsworks-rg"
        assert call.input["location"] == "northeurope"
        assert call.input["tags"] == {"owner": "platform"}
        assert call.input["instanceId"] == instance
        run_ids.add(call.input["runId"])
    (run_id,) = run_ids
    assert uuid.UUID(run_id)


def test_location_comes_from_preflight_when_the_request_has_none(handle):
    world = FakeAzure(location="westeurope")
    payload = orchestration_input("subnet")
    payload["request"]["location"] = None
    run = drive(handle, world, payload)

    assert not run.failed, run.error
    assert world.calls[0].input["location"] is None  # preflight finds it
    assert {call.input["location"] for call in world.calls[1:]} == {"westeurope"}
    assert run.output["hopsworks"]["location"] == "westeurope"


def test_inputs_follow_the_activity_contract(handle):
    world = FakeAzure()
    run = drive(handle, world, orchestration_input("peering"))
    assert not run.failed

    first, second = world.calls_to("ensure_peering")[:2]
    aks_vnet_id = world.calls_to("begin_aks_cluster")[0].input["nodeSubnetId"].rsplit("/subnets/", 1)[0]
    assert (first.input["vnetName"], first.input["peeringName"]) == ("hopsworks-vnet",
                                                                     "hopsworks-vnet-to-hopsaks-vnet")
    assert first.input["remoteVnetId"] == aks_vnet_id
    assert (second.input["vnetName"], second.input["peeringName"]) == ("hopsaks-vnet",
                                                                       "hopsaks-vnet-to-hopsworks-vnet")
    assert second.input["remoteVnetId"].endswith("/virtualNetworks/hopsworks-vnet")
    assert second.time > first.time  # one after the other, never together

    identity_roles = [c.input for c in world.calls_to("ensure_role_assignment")[:4]]
    assert [c["roleDefinitionGuid"] for c in identity_roles] == [r.guid for r in roles.IDENTITY_ROLES]
    assert {c["scope"] for c in identity_roles} == {
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/hopsworks-rg"}
    assert {c["principalType"] for c in identity_roles} == {"ServicePrincipal"}

    network_role, acr_pull = world.calls_to("ensure_role_assignment")[4:]
    assert network_role.input["roleDefinitionGuid"] == roles.NETWORK_CONTRIBUTOR.guid
    assert network_role.input["scope"] == aks_vnet_id
    assert acr_pull.input["roleDefinitionGuid"] == roles.ACR_PULL.guid
    assert acr_pull.input["scope"].endswith("/registries/hopsworksaks")
    (cluster,) = world.calls_to("begin_aks_cluster")
    assert {k: cluster.input[k] for k in ("name", "serviceCidr", "dnsServiceIp", "nodeCount", "vmSize")} == {
        "name": "hopsaks-cluster", "serviceCidr": "10.0.0.0/16", "dnsServiceIp": "10.0.0.10", "nodeCount": 1,
        "vmSize": "Standard_D4s_v5"}
    assert cluster.input["nodeSubnetId"].endswith("/virtualNetworks/hopsaks-vnet/subnets/aks-nodes")
    (retention,) = world.calls_to("ensure_retention_policy")
    assert (retention.input["name"], retention.input["days"]) == ("hopsworksaks", 7)
    (link,) = world.calls_to("ensure_dns_zone_link")
    assert link.input["linkName"] == "hopsworks-vnet-link"
    assert link.input["nodeResourceGroup"] == "MC_hopsworks-rg_hopsaks-cluster_northeurope"
    assert link.input["vnetId"].endswith("/virtualNetworks/hopsworks-vnet")


def test_the_cluster_is_watched_on_durable_timers_one_read_per_interval(handle):
    world = FakeAzure(cluster_seconds=600)
    run = drive(handle, world, orchestration_input("peering", pollIntervalSeconds=30))
    assert not run.failed

    (begin,) = world.calls_to("begin_aks_cluster")
    reads = world.calls_to("get_aks_cluster")
    ready_at = begin.time.timestamp() + 600
    # Each read follows a 30 s durable timer: reads at least 30 s apart, the first 30 s after the start.
    times = [begin.time.timestamp() + world.activity_seconds] + [r.time.timestamp() for r in reads]
    assert all(later - earlier >= 30 for earlier, later in zip(times, times[1:], strict=False))
    assert times[-2] < ready_at <= times[-1]  # the last read is the first one after the cluster is ready
    assert len(reads) == math.ceil((ready_at - times[0]) / (30 + world.activity_seconds))
    # The reads are the cluster watch's (a sub-orchestration that continues as new): one timer each.
    watch = next(r for r in run.children.values() if r.history.orchestrator_name == "setup_cluster_watch")
    timers = [fire_at for e in watch.episodes for name, fire_at in e.scheduled if name == "timer"]
    assert len(timers) == len(reads)


def test_a_second_run_over_finished_work_creates_nothing_and_returns_the_same_values(handle):
    world = FakeAzure()
    first = drive(handle, world, orchestration_input("peering"))
    assert not first.failed
    before = {key: (r.id, r.run_id) for key, r in world.resources.items()}
    calls_before = len(world.calls)

    second = drive(handle, world, orchestration_input("peering"), start=START.replace(hour=15))

    assert not second.failed, second.error
    assert second.output["hopsworks"] == first.output["hopsworks"]
    assert [r["id"] for r in second.output["resources"]] == [r["id"] for r in first.output["resources"]]
    assert {r["action"] for r in second.output["resources"]} == {"existing"}
    assert {key: (r.id, r.run_id) for key, r in world.resources.items()} == before
    second_run_ids = {c.input["runId"] for c in world.calls[calls_before:]}
    assert len(second_run_ids) == 1 and second_run_ids != {world.calls[0].input["runId"]}
    assert not world.calls_to("delete_resource")
    # The standing cluster is read once, at once: no durable timer anywhere in the re-run.
    assert [c.activity for c in world.calls[calls_before:]].count("get_aks_cluster") == 1
    assert not [name for e in second.episodes for name, _ in e.scheduled if name == "timer"]


def test_replaying_the_same_history_twice_gives_identical_answers(handle):
    world = FakeAzure()
    world.fault("ensure_registry", "TooManyRequests", transient=True, times=2)
    world.fault("ensure_dns_zone_link", "LinkedAuthorizationFailed")
    run = drive(handle, world, orchestration_input("peering"))
    assert run.failed

    first = replay(handle, run.history)
    second = replay(handle, run.history)
    assert json.dumps(first.state, sort_keys=True) == json.dumps(second.state, sort_keys=True)
    assert first.error == second.error == run.error
    # And every shorter history (each episode's view) replays to a prefix of the same actions.
    full = first.actions
    for cut in range(2, len(run.history.events), 7):
        partial = type(run.history)(run.history.instance_id, run.history.orchestrator_name, run.history.input)
        partial.events = [dict(e) for e in run.history.events[:cut]]
        answer = replay(handle, partial)
        assert answer.actions == full[: len(answer.actions)]


def test_engine_cost_for_a_ten_minute_cluster(handle):
    """Issue #6's budget at the production poll interval: at most 300 history events and the cluster noticed
    within 5% of its creation time, wherever its end falls between two polls (swept over one interval)."""
    from provisioning.contracts import Timing

    interval = Timing().poll_interval_seconds
    figures = []
    for offset in range(0, int(interval), 4):
        world = FakeAzure(cluster_seconds=600 + offset)
        run = drive(handle, world, orchestration_input("peering", pollIntervalSeconds=interval))
        assert not run.failed
        noticed = next(r for r in world.calls_to("get_aks_cluster") if r.time >= world.cluster_ready_at)
        lag = (noticed.time - world.cluster_ready_at).total_seconds() + world.activity_seconds
        figures.append((run.event_count, len(run.episodes), lag / world.cluster_seconds))
    events, episodes, worst_lag = (max(column) for column in zip(*figures, strict=True))
    # Captured like any test output (shown on failure or with `pytest -rP`); `make bench` prints the figures.
    figure = (f"[engine cost] 10-min cluster, {interval:g} s polling: at most {events} history events, "
              f"{episodes} episodes, cluster-noticed lag at most {100 * worst_lag:.1f}% of creation time")
    print(figure)
    assert events <= 300, figure
    assert worst_lag <= 0.05, figure
