"""The teardown's pure decisions: what is ours, what is unclear (kept), the order; folding the record."""

from __future__ import annotations

import json
from typing import Any

from provisioning import lifecycle, naming, roles, teardown
from provisioning.request import SetupRequest, validate_setup_request
from tests.provisioning.sample_requests import peering_request

INSTANCE = "setup-00000000-0000-4000-8000-000000000001"
RUN = "11111111-1111-4111-8111-111111111111"
OURS = {naming.RUN_TAG_INSTANCE: INSTANCE, naming.RUN_TAG_RUN: RUN}


def request() -> dict[str, Any]:
    """The normalized request (all defaults filled), as the orchestration gets it."""
    validated = validate_setup_request(json.dumps(peering_request()).encode())
    assert isinstance(validated, SetupRequest)
    return validated.to_orchestration_dict()


def facts(target: lifecycle.Target, **overrides: Any) -> dict[str, Any]:
    """A completed setup as the inspections see it: everything ours."""
    aks_vnet, hw_vnet = target.aks_vnet_id, str(target.hopsworks_vnet_id)
    (on_hw, on_aks) = [name for _, name, _ in target.peerings()]
    found: dict[str, Any] = {
        lifecycle.F_IDENTITY: {
            "exists": True,
            "id": target.identity_id,
            "type": lifecycle.IDENTITY,
            "tags": dict(OURS),
            "principalId": "p-identity",
        },
        lifecycle.F_AKS_VNET: {
            "exists": True,
            "id": aks_vnet,
            "type": lifecycle.VNET,
            "tags": dict(OURS),
            "subnets": [{"id": f"{aks_vnet}/subnets/{n}", "name": n} for n, _ in target.aks_subnets()],
            "peerings": [{"id": f"{aks_vnet}/virtualNetworkPeerings/{on_aks}", "name": on_aks}],
        },
        lifecycle.F_HOPSWORKS_VNET: {
            "exists": True,
            "id": hw_vnet,
            "type": lifecycle.VNET,
            "tags": dict(OURS),
            "subnets": [{"id": f"{hw_vnet}/subnets/{n}", "name": n} for n, _ in target.hopsworks_subnets()],
            "peerings": [{"id": f"{hw_vnet}/virtualNetworkPeerings/{on_hw}", "name": on_hw}],
        },
        lifecycle.F_CLUSTER: {
            "exists": True,
            "id": target.cluster_id,
            "type": lifecycle.CLUSTER,
            "tags": dict(OURS),
            "principalId": "p-cluster",
            "kubeletObjectId": "p-kubelet",
        },
        lifecycle.F_REGISTRY: {
            "exists": True,
            "id": target.registry_id,
            "type": lifecycle.REGISTRY,
            "tags": dict(OURS),
        },
    }
    found[lifecycle.F_ROLE_ASSIGNMENTS] = {
        "assignments": [
            {
                "scope": w.scope,
                "roleDefinitionGuid": w.role.guid,
                "principalId": w.principal_id,
                "exists": True,
                "id": w.id,
                "description": f"{naming.RUN_TAG_RUN}={RUN}",
            }
            for w in lifecycle.wanted_assignments(target, found)
        ]
    }
    found.update(overrides)
    return found


def decided(found: dict[str, Any], record: tuple[str, ...] | list[str] = ()) -> teardown.Decision:
    return teardown.decide(request(), found, record, INSTANCE)


def test_everything_ours_goes_in_reverse_dependency_order() -> None:
    target = lifecycle.Target(request())
    decision = decided(facts(target))
    groups = [item.group for item in decision.delete]
    assert groups == sorted(groups, key=teardown.GROUPS.index)
    assert groups.count("role_assignments") == 6 and groups.count("peerings") == 2
    assert "subnets" not in groups  # they go with their vnets
    assert sum(len(children) for children in decision.goes_with.values()) == 2
    assert decision.kept == []


def test_unclear_ownership_is_kept_with_a_reason() -> None:
    target = lifecycle.Target(request())
    found = facts(target)
    found[lifecycle.F_REGISTRY]["tags"] = {}  # someone removed our tags by hand
    hw = found[lifecycle.F_HOPSWORKS_VNET]
    hw["subnets"].append(
        {"id": f"{hw['id']}/subnets/theirs", "name": "theirs"}
    )  # someone's subnet in our vnet
    decision = decided(found, record=[target.registry_id])
    kept = {item.id: item.reason for item in decision.kept}
    assert "ownership unclear" in kept[target.registry_id]
    assert "theirs" in kept[hw["id"]]
    deleted = {item.id for item in decision.delete}
    assert target.registry_id not in deleted and hw["id"] not in deleted
    assert f"{hw['id']}/subnets/default" in deleted  # our subnet in the kept vnet still goes


def test_role_assignments_only_when_a_setup_of_this_target_made_them() -> None:
    target = lifecycle.Target(request())
    found = facts(target)
    found[lifecycle.F_IDENTITY]["tags"] = {}  # adopted identity
    found[lifecycle.F_CLUSTER]["tags"] = {naming.RUN_TAG_INSTANCE: INSTANCE, naming.RUN_TAG_RUN: "other-run"}
    for name in (lifecycle.F_AKS_VNET, lifecycle.F_HOPSWORKS_VNET, lifecycle.F_REGISTRY):
        found[name]["tags"] = {naming.RUN_TAG_INSTANCE: INSTANCE, naming.RUN_TAG_RUN: "other-run"}
    assignments = found[lifecycle.F_ROLE_ASSIGNMENTS]["assignments"]
    assignments[0]["description"] = "granted by the platform team"
    decision = decided(found, record=[assignments[1]["id"]])
    by_id = {item.id: item for item in decision.delete + decision.kept}
    assert "not created by a setup" in by_id[assignments[0]["id"]].reason
    assert by_id[assignments[1]["id"]] in decision.delete  # recorded
    assert "ownership unclear" in by_id[assignments[2]["id"]].reason  # a run this target does not know
    cluster_role = next(a for a in assignments if a["roleDefinitionGuid"] == roles.NETWORK_CONTRIBUTOR.guid)
    assert by_id[cluster_role["id"]] in decision.delete  # its principal is our cluster's


def test_nothing_there_nothing_to_do() -> None:
    empty = {
        name: {"exists": False}
        for name in (
            lifecycle.F_IDENTITY,
            lifecycle.F_AKS_VNET,
            lifecycle.F_HOPSWORKS_VNET,
            lifecycle.F_CLUSTER,
            lifecycle.F_REGISTRY,
        )
    }
    decision = decided(empty, record=[lifecycle.Target(request()).aks_vnet_id + "/subnets/aks-nodes"])
    assert decision.delete == [] and decision.kept == []


def test_the_record_folds_runs_in_order_once() -> None:
    subnet = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
    vnet = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v"
    setup = {
        "kind": "setup",
        "createdTime": "2026-01-01T00:00:00",
        "runtimeStatus": "Completed",
        "output": {
            "resources": [
                {"id": subnet, "type": lifecycle.SUBNET, "action": "created"},
                {"id": vnet, "type": lifecycle.VNET, "action": "existing"},
            ]
        },
    }
    record = teardown.fold_record(None, [setup])
    assert record["resources"] == [{"id": subnet, "type": lifecycle.SUBNET}]
    assert teardown.fold_record(record, [setup]) == record  # seen: not applied twice
    item = teardown.Item(vnet, lifecycle.VNET, "vnets")
    failed = {
        "kind": "teardown",
        "createdTime": "2026-01-02T00:00:00",
        "runtimeStatus": "Failed",
        "output": teardown.failure_message(item, "AuthorizationFailed", "no.", [subnet], [vnet]),
    }
    assert teardown.fold_record(record, [failed])["resources"] == []
    # A teardown older than the setup it is folded with does not remove what that setup made.
    older = dict(failed, createdTime="2025-12-31T00:00:00")
    assert teardown.fold_record(None, [setup, older])["resources"] == [
        {"id": subnet, "type": lifecycle.SUBNET}
    ]
    left = {
        "kind": "setup",
        "createdTime": "2026-01-03T00:00:00",
        "runtimeStatus": "Failed",
        "output": f"Setup failed at step acr: X: y. Rolled back: nothing (this run had created nothing). "
        f"Left behind 1 resource(s) that could not be removed: {vnet} (AuthorizationFailed).",
    }
    assert teardown.fold_record(None, [left])["resources"] == [{"id": vnet, "type": lifecycle.VNET}]


def test_type_of_ids() -> None:
    assert (
        teardown.type_of(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
        )
        == lifecycle.SUBNET
    )
    assert (
        teardown.type_of(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
            "/providers/Microsoft.Authorization/roleAssignments/x"
        )
        == lifecycle.ROLE_ASSIGNMENT
    )
