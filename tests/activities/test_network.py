"""ensure_aks_network, ensure_hopsworks_network, ensure_peering against the simulated Network provider."""

from __future__ import annotations

from typing import Any

from activities import network
from tests.activities.helpers import (
    INSTANCE_ID,
    OTHER_RUN_ID,
    RUN_ID,
    assert_error,
    assert_ok,
    common,
    rid,
    stored,
    write_summary,
    writes,
    writes_after,
)

VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"


def aks_input(run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    fields = {
        "vnetName": "aks-vnet",
        "addressSpace": "10.240.0.0/16",
        "subnets": [{"name": "aks-nodes", "prefix": "10.240.0.0/20"}],
    }
    fields.update(overrides)
    return common(run_id, **fields)


def hopsworks_input(run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    fields = {
        "vnetName": "hopsworks-vnet",
        "addressSpace": "172.18.0.0/16",
        "subnetName": "default",
        "subnetPrefix": "172.18.0.0/24",
    }
    fields.update(overrides)
    return common(run_id, **fields)


def put_vnet(
    sim: Any, name: str, space: str, subnets: dict[str, str], tags: dict[str, str] | None = None
) -> None:
    """A vnet that existed before the run, made through the simulator's own ARM API (a user's PUT)."""
    from azure.mgmt.network import NetworkManagementClient, models

    from simulator.testing import sdk_client
    from tests.activities.helpers import LOCATION, RG, SUB

    client = sdk_client(NetworkManagementClient, sim, SUB)
    body = models.VirtualNetwork(
        location=LOCATION,
        tags=tags or {},
        properties=models.VirtualNetworkPropertiesFormat(
            address_space=models.AddressSpace(address_prefixes=[space]),
            subnets=[
                models.Subnet(name=n, properties=models.SubnetPropertiesFormat(address_prefix=p))
                for n, p in subnets.items()
            ],
        ),
    )
    client.virtual_networks.begin_create_or_update(RG, name, body).result()


# ---------------------------------------------------------------- AKS vnet


def test_aks_network_created_with_its_subnets_in_one_put(azure: Any) -> None:
    subnets = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]
    result = assert_ok(network.ensure_aks_network(aks_input(subnets=subnets)))

    vnet_id = rid(VNET, "aks-vnet")
    assert result["outputs"]["vnetId"].casefold() == vnet_id.casefold()
    assert {k: v.casefold() for k, v in result["outputs"]["subnetIds"].items()} == {
        "aks-nodes": rid(VNET, "aks-vnet", "subnets", "aks-nodes").casefold(),
        "hopsworks": rid(VNET, "aks-vnet", "subnets", "hopsworks").casefold(),
    }
    assert [(r["type"], r["action"]) for r in result["resources"]] == [
        (VNET, "created"),
        (SUBNET, "created"),
        (SUBNET, "created"),
    ]
    assert write_summary(azure) == [("PUT", VNET)]
    body = azure.resource(result["outputs"]["vnetId"])
    assert body["tags"] == {
        "owner": "platform",
        "hopsworks-setup": INSTANCE_ID,
        "hopsworks-setup-run": RUN_ID,
    }
    assert body["properties"]["addressSpace"]["addressPrefixes"] == ["10.240.0.0/16"]
    assert sorted(s["properties"]["addressPrefix"] for s in stored(azure, SUBNET)) == [
        "10.240.0.0/20",
        "10.240.16.0/24",
    ]


def test_aks_network_rerun_makes_no_write_and_reports_by_run_id(azure: Any) -> None:
    first = assert_ok(network.ensure_aks_network(aks_input()))
    before = len(azure.requests)

    again = assert_ok(network.ensure_aks_network(aks_input()))  # same run, re-executed after a crash
    assert again["outputs"] == first["outputs"]
    assert [r["action"] for r in again["resources"]] == ["created", "created"]

    later = assert_ok(network.ensure_aks_network(aks_input(run_id=OTHER_RUN_ID)))  # a second run
    assert [r["action"] for r in later["resources"]] == ["existing", "existing"]
    assert writes_after(azure, before) == []


def test_existing_vnet_gets_missing_subnet_without_losing_its_subnets(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20", "users": "10.240.32.0/24"})
    before = len(azure.requests)
    subnets = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]

    result = assert_ok(network.ensure_aks_network(aks_input(subnets=subnets)))

    assert [(r["type"], r["action"]) for r in result["resources"]] == [
        (VNET, "existing"),
        (SUBNET, "existing"),
        (SUBNET, "created"),
    ]
    assert writes_after(azure, before) == [("PUT", SUBNET)]
    names = sorted(s["name"] for s in stored(azure, SUBNET))
    assert names == ["aks-nodes", "hopsworks", "users"]  # the user's subnet survived: no vnet PUT


def test_existing_vnet_missing_subnets_added_one_after_the_other(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {})
    before = len(azure.requests)
    subnets = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]

    result = assert_ok(network.ensure_aks_network(aks_input(subnets=subnets)))

    assert [r["action"] for r in result["resources"]] == ["existing", "created", "created"]
    assert writes_after(azure, before) == [("PUT", SUBNET), ("PUT", SUBNET)]


def test_existing_vnet_with_other_address_space_is_refused(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.50.0.0/16", {})
    before = len(azure.requests)

    error = assert_error(network.ensure_aks_network(aks_input()), "IncompatibleExistingResource")

    assert "aks-vnet" in error["message"] and "10.240.0.0/16" in error["message"]
    assert writes_after(azure, before) == []


def test_existing_vnet_containing_the_space_is_adopted(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.0.0.0/8", {"aks-nodes": "10.240.0.0/20"})
    result = assert_ok(network.ensure_aks_network(aks_input()))
    assert [r["action"] for r in result["resources"]] == ["existing", "existing"]


def test_existing_subnet_with_other_prefix_or_overlap_is_refused(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/24", "users": "10.240.16.0/28"})
    subnets = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]

    error = assert_error(
        network.ensure_aks_network(aks_input(subnets=subnets)), "IncompatibleExistingResource"
    )

    assert "'aks-nodes' has prefix 10.240.0.0/24" in error["message"]
    assert "overlaps its subnet 'users'" in error["message"]


def test_transient_conflict_is_returned_transient(azure: Any) -> None:
    azure.add_fault(
        method="PUT", path="/virtualNetworks/aks-vnet", status=409, code="AnotherOperationInProgress"
    )
    error = assert_error(
        network.ensure_aks_network(aks_input()), "AnotherOperationInProgress", transient=True
    )
    assert error["status"] == 409


def test_throttling_and_server_errors_are_retried_by_the_sdk(azure: Any) -> None:
    azure.add_fault(method="PUT", path="/virtualNetworks/aks-vnet", status=429, retry_after=1, count=1)
    azure.add_fault(method="GET", path="/virtualNetworks/aks-vnet", status=503, count=2)

    result = assert_ok(network.ensure_aks_network(aks_input()))

    assert [r["action"] for r in result["resources"]] == ["created", "created"]
    statuses = [r["status"] for r in azure.requests if r["resourceType"] == VNET]
    assert statuses.count(429) == 1 and statuses.count(503) == 2
    assert len([r for r in writes(azure) if r["status"] in (200, 201)]) == 1


def test_failed_long_running_operation_is_a_permanent_error(azure: Any) -> None:
    azure.add_fault(
        method="PUT", path="/virtualNetworks/aks-vnet", kind="lro_failed", code="InternalOperationError"
    )
    result = network.ensure_aks_network(aks_input())
    error = assert_error(result, "InternalOperationError")
    assert error["status"] == 200
    # The vnet stays (state Failed) and is reported as this run's, so the rollback removes it.
    assert [(r["type"], r["action"]) for r in result["resources"]] == [(VNET, "created")]


def test_subnet_added_to_existing_vnet_reported_when_its_create_fails(azure: Any) -> None:
    assert_ok(network.ensure_aks_network(aks_input(run_id=OTHER_RUN_ID)))
    azure.add_fault(method="PUT", path="/subnets/hopsworks", kind="lro_failed", code="InternalOperationError")
    wanted = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]
    result = network.ensure_aks_network(aks_input(subnets=wanted))
    assert_error(result, "InternalOperationError")
    assert [(r["type"], r["action"]) for r in result["resources"]] == [(SUBNET, "created")]
    assert result["resources"][0]["id"].casefold() == rid(VNET, "aks-vnet", "subnets", "hopsworks").casefold()


# ---------------------------------------------------------------- Hopsworks vnet


def test_hopsworks_network_created_and_rerun(azure: Any) -> None:
    result = assert_ok(network.ensure_hopsworks_network(hopsworks_input()))
    assert (
        result["outputs"]["subnetId"].casefold()
        == rid(VNET, "hopsworks-vnet", "subnets", "default").casefold()
    )
    assert [(r["type"], r["action"]) for r in result["resources"]] == [(VNET, "created"), (SUBNET, "created")]
    before = len(azure.requests)

    again = assert_ok(network.ensure_hopsworks_network(hopsworks_input(run_id=OTHER_RUN_ID)))
    assert again["outputs"] == result["outputs"]
    assert [r["action"] for r in again["resources"]] == ["existing", "existing"]
    assert writes_after(azure, before) == []


def test_hopsworks_network_with_other_space_is_refused(azure: Any) -> None:
    put_vnet(azure, "hopsworks-vnet", "172.19.0.0/16", {"default": "172.19.0.0/24"})
    error = assert_error(network.ensure_hopsworks_network(hopsworks_input()), "IncompatibleExistingResource")
    assert "hopsworks-vnet" in error["message"]


# ---------------------------------------------------------------- peering


def make_both_vnets() -> tuple[str, str]:
    aks = assert_ok(network.ensure_aks_network(aks_input()))["outputs"]["vnetId"]
    hops = assert_ok(network.ensure_hopsworks_network(hopsworks_input()))["outputs"]["vnetId"]
    return aks, hops


def peering_input(vnet: str, name: str, remote_id: str, run_id: str = RUN_ID) -> dict[str, Any]:
    return common(run_id, vnetName=vnet, peeringName=name, remoteVnetId=remote_id)


def test_peering_both_directions_connected_with_guide_settings(azure: Any) -> None:
    aks_id, hops_id = make_both_vnets()

    first = assert_ok(
        network.ensure_peering(peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id))
    )
    assert first["outputs"]["peeringState"] == "Initiated"
    assert first["resources"][0]["type"] == PEERING and first["resources"][0]["action"] == "created"
    second = assert_ok(
        network.ensure_peering(peering_input("aks-vnet", "aks-vnet-to-hopsworks-vnet", hops_id))
    )
    assert second["outputs"]["peeringState"] == "Connected"

    body = azure.resource(first["outputs"]["id"])["properties"]
    assert body["allowVirtualNetworkAccess"] is True
    assert body["allowForwardedTraffic"] is False
    assert body["allowGatewayTransit"] is False
    assert body["useRemoteGateways"] is False
    assert body["remoteVirtualNetwork"]["id"].casefold() == aks_id.casefold()


def test_peering_rerun_no_write_and_forwarded_traffic_drift_put_back(azure: Any) -> None:
    aks_id, hops_id = make_both_vnets()
    hops_side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    assert_ok(network.ensure_peering(hops_side))
    assert_ok(network.ensure_peering(peering_input("aks-vnet", "aks-vnet-to-hopsworks-vnet", hops_id)))
    before = len(azure.requests)

    again = assert_ok(network.ensure_peering(hops_side))
    assert again["outputs"]["peeringState"] == "Connected"
    assert writes_after(azure, before) == []

    set_forwarded_traffic(azure, "hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    before = len(azure.requests)
    repaired = assert_ok(network.ensure_peering(hops_side))
    assert writes_after(azure, before) == [("PUT", PEERING)]
    assert repaired["outputs"]["peeringState"] == "Connected"
    assert azure.resource(repaired["outputs"]["id"])["properties"]["allowForwardedTraffic"] is False


def test_peering_found_again_by_its_own_run_is_created_by_another_run_existing(azure: Any) -> None:
    # Re-executed after a host crash, the activity finds the peering it made: it stays `created` (so a
    # rollback removes it) because a vnet it hangs between carries this run's runId. Another run adopts it.
    aks_id, _ = make_both_vnets()
    side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    assert assert_ok(network.ensure_peering(side))["resources"][0]["action"] == "created"
    before = len(azure.requests)

    again = assert_ok(network.ensure_peering(side))
    assert again["resources"][0]["action"] == "created"
    assert writes_after(azure, before) == []
    other = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id, run_id=OTHER_RUN_ID)
    assert assert_ok(network.ensure_peering(other))["resources"][0]["action"] == "existing"


def test_peering_between_vnets_that_existed_before_counts_as_existing(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    from tests.activities.helpers import RG, SUB

    aks_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/aks-vnet"
    side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    assert assert_ok(network.ensure_peering(side))["resources"][0]["action"] == "created"
    # Found again: neither vnet says which run made the peering, so it is never claimed (never deleted).
    assert assert_ok(network.ensure_peering(side))["resources"][0]["action"] == "existing"


def set_forwarded_traffic(sim: Any, vnet: str, name: str, remote_id: str) -> None:
    """Someone allows forwarded traffic on the peering by hand (through ARM)."""
    from azure.mgmt.network import NetworkManagementClient, models

    from simulator.testing import sdk_client
    from tests.activities.helpers import RG, SUB

    client = sdk_client(NetworkManagementClient, sim, SUB)
    body = models.VirtualNetworkPeering(
        properties=models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=models.SubResource(id=remote_id),
            allow_virtual_network_access=True,
            allow_forwarded_traffic=True,
        )
    )
    client.virtual_network_peerings.begin_create_or_update(RG, vnet, name, body).result()


def test_peering_towards_another_vnet_is_refused(azure: Any) -> None:
    aks_id, hops_id = make_both_vnets()
    put_vnet(azure, "other-vnet", "192.168.0.0/16", {})
    assert_ok(network.ensure_peering(peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)))

    error = assert_error(
        network.ensure_peering(
            peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", rid(VNET, "other-vnet"))
        ),
        "IncompatibleExistingResource",
    )
    assert "aks-vnet" in error["message"]


def test_peering_overlapping_spaces_is_permanent(azure: Any) -> None:
    aks_id = assert_ok(network.ensure_aks_network(aks_input()))["outputs"]["vnetId"]
    put_vnet(azure, "overlap-vnet", "10.240.0.0/16", {})
    error = assert_error(
        network.ensure_peering(peering_input("overlap-vnet", "p", aks_id)), "VnetAddressSpacesOverlap"
    )
    assert error["transient"] is False


def test_peering_while_remote_is_busy_is_transient(azure: Any) -> None:
    aks_id, _ = make_both_vnets()
    azure.add_fault(
        method="PUT", path="/virtualNetworkPeerings/", status=400, code="ReferencedResourceNotProvisioned"
    )
    assert_error(
        network.ensure_peering(peering_input("hopsworks-vnet", "h-to-a", aks_id)),
        "ReferencedResourceNotProvisioned",
        transient=True,
    )


def delete_peering(sim: Any, vnet: str, name: str) -> None:
    from azure.mgmt.network import NetworkManagementClient

    from simulator.testing import sdk_client
    from tests.activities.helpers import RG, SUB

    sdk_client(NetworkManagementClient, sim, SUB).virtual_network_peerings.begin_delete(
        RG, vnet, name
    ).result()


def connect_both(azure: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    aks_id, hops_id = make_both_vnets()
    hops_side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    aks_side = peering_input("aks-vnet", "aks-vnet-to-hopsworks-vnet", hops_id)
    assert_ok(network.ensure_peering(hops_side))
    assert_ok(network.ensure_peering(aks_side))
    return hops_side, aks_side


def test_rerun_after_second_side_deleted_reconnects(azure: Any) -> None:
    hops_side, aks_side = connect_both(azure)
    delete_peering(azure, "aks-vnet", "aks-vnet-to-hopsworks-vnet")

    first = assert_ok(network.ensure_peering(hops_side))  # Disconnected: updated back to Initiated
    assert first["outputs"]["peeringState"] == "Initiated"
    second = assert_ok(network.ensure_peering(aks_side))
    assert second["outputs"]["peeringState"] == "Connected"
    assert second["resources"][0]["action"] == "created"


def test_rerun_after_first_side_deleted_reconnects(azure: Any) -> None:
    hops_side, aks_side = connect_both(azure)
    delete_peering(azure, "hopsworks-vnet", "hopsworks-vnet-to-aks-vnet")
    before = len(azure.requests)

    first = assert_ok(network.ensure_peering(hops_side))  # the surviving side is refreshed first
    assert first["resources"][0]["action"] == "created"
    puts = [
        (r["path"].rsplit("/", 1)[-1], r["status"]) for r in azure.requests[before:] if r["method"] == "PUT"
    ]
    assert puts == [
        ("hopsworks-vnet-to-aks-vnet", 400),  # RemotePeeringIsDisconnected
        ("aks-vnet-to-hopsworks-vnet", 200),
        ("hopsworks-vnet-to-aks-vnet", 201),
    ]
    second = assert_ok(network.ensure_peering(aks_side))
    assert second["outputs"]["peeringState"] == "Connected"


# ---------------------------------------------------------------- preflight's snapshot of untagged children


def test_subnet_found_after_a_crash_is_created_when_preflight_did_not_see_it(azure: Any) -> None:
    """The run adds a subnet to a vnet the user had; the host dies before the result is saved; the activity
    runs again and finds the subnet. It was not in preflight's snapshot, so it is this run's (rolled back on
    failure); the user's own subnet, in the snapshot, stays existing."""
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    snapshot = [rid(VNET, "aks-vnet", "subnets", "aks-nodes")]
    wanted = [
        {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
        {"name": "hopsworks", "prefix": "10.240.16.0/24"},
    ]
    first = assert_ok(network.ensure_aks_network(aks_input(subnets=wanted, existedBefore=snapshot)))
    again = assert_ok(network.ensure_aks_network(aks_input(subnets=wanted, existedBefore=snapshot)))
    for result in (first, again):
        assert [(r["type"], r["action"]) for r in result["resources"]] == [
            (VNET, "existing"),
            (SUBNET, "existing"),
            (SUBNET, "created"),
        ]


def test_peering_found_after_a_crash_is_created_when_preflight_did_not_see_it(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    aks_id = rid(VNET, "aks-vnet")
    side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    first = assert_ok(network.ensure_peering({**side, "existedBefore": []}))
    assert first["resources"][0]["action"] == "created"
    # Both vnets predate the run, yet the snapshot says the peering did not: it is this run's.
    again = assert_ok(network.ensure_peering({**side, "existedBefore": []}))
    assert again["resources"][0]["action"] == "created"
    # A later run's preflight sees it: from then on it is existing (never deleted by that run).
    snapshot = [again["resources"][0]["id"]]
    later = assert_ok(network.ensure_peering({**side, "existedBefore": snapshot}))
    assert later["resources"][0]["action"] == "existing"
