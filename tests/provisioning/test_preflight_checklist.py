"""Preflight's checklist and problem list (provisioning/preflight.py): pure, no Azure."""

from __future__ import annotations

import copy

from provisioning import adoption, naming, preflight
from tests.activities.test_preflight import REQUEST


def test_checklist_of_a_peering_request() -> None:
    check = preflight.checklist(REQUEST)
    assert [(v.name, v.space, v.subnets, v.carries_cluster) for v in check.vnets] == [
        ("aks-vnet", "10.240.0.0/16", (("aks-nodes", "10.240.0.0/20"),), True),
        ("hopsworks-vnet", "172.18.0.0/16", (("default", "172.18.0.0/24"),), False),
    ]
    assert check.node_subnet_id.endswith("/virtualNetworks/aks-vnet/subnets/aks-nodes")
    assert check.location is None and check.registry_name == "hopsworksaks"
    assert check.cluster_target == "AKS cluster 'hopsaks-cluster'"


def test_checklist_of_a_subnet_request_checks_the_hopsworks_subnet_in_the_aks_vnet() -> None:
    request = copy.deepcopy(REQUEST)
    request.update(
        topology="subnet", hopsworksNetwork=None, hopsworksSubnet={"name": "h", "prefix": "10.240.16.0/24"}
    )
    (vnet,) = preflight.checklist(request).vnets
    assert vnet.subnets == (("aks-nodes", "10.240.0.0/20"), ("h", "10.240.16.0/24"))


def test_problems_are_listed_in_one_message() -> None:
    problems = preflight.Problems()
    problems.incompatible("container registry", "acr", [])
    assert problems.items == []
    problems.incompatible("container registry", "acr", ["its SKU is Basic", "it is Failed"])
    problems.add("MissingPermission", "x/write", "the app's identity lacks 'x/write'")
    assert problems.summary() == (
        "preflight found 2 problems: (1) existing container registry 'acr' cannot be used: its SKU is Basic; "
        "it is Failed; (2) the app's identity lacks 'x/write'"
    )
    assert [item["target"] for item in problems.items] == ["container registry 'acr'", "x/write"]


def test_vnet_rules_add_the_service_network_only_for_the_aks_vnet() -> None:
    check = preflight.checklist(REQUEST)
    aks_vnet, hopsworks_vnet = check.vnets
    wide = adoption.ExistingVnet("northeurope", ("10.0.0.0/8",), {"aks-nodes": ("10.240.0.0/20",)})
    assert preflight.vnet_rules(aks_vnet, wide, "northeurope", check) == [
        "its address prefix 10.0.0.0/8 overlaps aks.serviceCidr 10.0.0.0/16",
        "its address prefix 10.0.0.0/8 contains aks.dnsServiceIp 10.0.0.10",
    ]
    hopsworks = adoption.ExistingVnet("northeurope", ("172.18.0.0/16",), {"default": ("172.18.0.0/24",)})
    assert preflight.vnet_rules(hopsworks_vnet, hopsworks, "northeurope", check) == []


def test_registry_rules() -> None:
    disabled = {"softDeletePolicy": {"status": "disabled"}}
    assert preflight.registry_rules("Premium", None, "Succeeded", disabled) == []
    rules = preflight.registry_rules("Premium", None, "Failed", {"softDeletePolicy": {"status": "enabled"}})
    assert len(rules) == 2 and "Failed" in rules[0] and "soft delete" in rules[1]
    assert preflight.registry_rules("Premium", None, "Succeeded", None) == []  # soft delete unknown


def test_peering_rules_for_the_runs_own_peering_names() -> None:
    check = preflight.checklist(REQUEST)
    aks_vnet, hopsworks_vnet = check.vnets
    assert aks_vnet.peering is not None and aks_vnet.peering[0] == "aks-vnet-to-hopsworks-vnet"
    assert aks_vnet.peering[1].endswith("/virtualNetworks/hopsworks-vnet")
    aks_id = hopsworks_vnet.peering[1] if hopsworks_vnet.peering else ""
    assert preflight.peering_rules(hopsworks_vnet, {}) == ("", [])
    assert preflight.peering_rules(hopsworks_vnet, {"hopsworks-vnet-to-aks-vnet": (aks_id, "Succeeded")}) == (
        "hopsworks-vnet/hopsworks-vnet-to-aks-vnet",
        [],
    )
    name, rules = preflight.peering_rules(
        hopsworks_vnet, {"Hopsworks-Vnet-To-Aks-Vnet": ("/elsewhere", "Failed")}
    )
    assert len(rules) == 2 and "/elsewhere" in rules[0] and "Failed" in rules[1]
    subnet_request = copy.deepcopy(REQUEST)
    subnet_request.update(
        topology="subnet", hopsworksNetwork=None, hopsworksSubnet={"name": "h", "prefix": "10.240.16.0/24"}
    )
    (only,) = preflight.checklist(subnet_request).vnets
    assert only.peering is None and preflight.peering_rules(only, {"x": ("/y", "Failed")}) == ("", [])


# ---------------------------------------------------------------- overlap with the subscription's vnets


def _vnet(name: str, *prefixes: str, group: str = "elsewhere-rg", peered_with: tuple[str, ...] = ()):
    rid = naming.resource_id(REQUEST["subscriptionId"], group, "Microsoft.Network/virtualNetworks", name)
    return preflight.SubscriptionVnet(rid, name, prefixes, peered_with)


def _hopsworks_vnet_only(check: preflight.Checklist) -> list[preflight.WantedVnet]:
    return [v for v in check.vnets if v.name == "hopsworks-vnet"]


def test_a_new_vnet_overlapping_its_peer_as_it_really_is_or_a_vnet_peered_with_it_is_a_problem() -> None:
    check = preflight.checklist(REQUEST)
    problems = preflight.Problems()
    group = REQUEST["resourceGroup"]
    aks_vnet = _vnet("AKS-VNET", "10.240.0.0/16", "172.18.200.0/24", group=group.upper())  # adopted, wider
    peered_one_way = _vnet("office", "fd00::/48", "172.16.0.0/12", peered_with=(aks_vnet.id.lower(),))
    peered_other_way = _vnet("lab", "172.18.64.0/18")
    aks_vnet = preflight.SubscriptionVnet(
        aks_vnet.id, aks_vnet.name, aks_vnet.address_prefixes, (peered_other_way.id,)
    )
    unrelated = _vnet("twin", "172.18.0.0/16")  # the same space, never peered with the AKS vnet

    preflight.overlap_problems(
        _hopsworks_vnet_only(check), [unrelated, aks_vnet, peered_one_way, peered_other_way], problems
    )

    assert [(p["code"], p["target"]) for p in problems.items] == [
        ("AddressSpaceOverlap", "virtual network 'hopsworks-vnet'")
    ] * 3
    peer, *already = (p["message"] for p in problems.items)
    assert "172.18.200.0/24" in peer and "'AKS-VNET'" in peer and "will be peered with" in peer
    assert all("already peered with 'AKS-VNET'" in message for message in already)
    assert any("172.16.0.0/12" in m and "'office'" in m and "fd00" not in m for m in already)
    assert any("172.18.64.0/18" in m and "'lab'" in m for m in already)
    assert not any("'twin'" in message for message in [peer, *already])


def test_unrelated_vnets_with_the_same_space_and_the_subnet_topology_are_no_problem() -> None:
    problems = preflight.Problems()
    check = preflight.checklist(REQUEST)
    same_spaces = [_vnet("twin-aks", "10.240.0.0/16"), _vnet("twin-hopsworks", "172.18.0.0/16")]

    preflight.overlap_problems(check.vnets, same_spaces, problems)  # no AKS vnet yet: nothing to peer with

    subnet_request = copy.deepcopy(REQUEST)
    subnet_request.update(
        topology="subnet", hopsworksNetwork=None, hopsworksSubnet={"name": "hw", "prefix": "10.240.16.0/24"}
    )
    (aks_only,) = preflight.checklist(subnet_request).vnets
    preflight.overlap_problems([aks_only], same_spaces, problems)
    assert problems.items == []


def test_refused_listing_is_a_note_once() -> None:
    problems = preflight.Problems()
    preflight.overlap_unchecked(problems, {"status": 403, "code": "AuthorizationFailed"})
    preflight.overlap_unchecked(problems, {"status": 403, "code": "AuthorizationFailed"})
    (note,) = problems.notes
    assert note.startswith("could not check ahead whether the new vnets' address spaces overlap")
    assert "403 AuthorizationFailed" in note and problems.items == []
