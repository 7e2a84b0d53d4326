"""The adoption rules for resources that already exist (provisioning/adoption.py): pure, no Azure."""

from __future__ import annotations

from provisioning import adoption

NODE_SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"


def vnet(
    space: tuple[str, ...] = ("10.240.0.0/16",), location: str = "northeurope", **subnets: tuple[str, ...]
) -> adoption.ExistingVnet:
    return adoption.ExistingVnet(location=location, address_prefixes=space, subnets=subnets)


def test_vnet_equal_or_containing_space_is_adopted_and_missing_subnets_planned() -> None:
    for space in (("10.240.0.0/16",), ("10.0.0.0/8",), ("192.168.0.0/16", "10.240.0.0/12")):
        plan = adoption.plan_existing_vnet(
            vnet(space, nodes=("10.240.0.0/20",)),
            "northeurope",
            "10.240.0.0/16",
            [("nodes", "10.240.0.0/20"), ("hopsworks", "10.240.16.0/24")],
        )
        assert plan.problems == []
        assert plan.missing_subnets == [("hopsworks", "10.240.16.0/24")]


def test_vnet_rules_each_reported() -> None:
    plan = adoption.plan_existing_vnet(
        vnet(("10.50.0.0/16",), "westeurope", nodes=("10.50.0.0/24",), other=("10.240.16.0/25",)),
        "North Europe",
        "10.240.0.0/16",
        [("Nodes", "10.240.0.0/20"), ("hopsworks", "10.240.16.0/24")],
    )
    assert len(plan.problems) == 5, plan.problems
    text = " | ".join(plan.problems)
    assert "westeurope" in text
    assert "does not equal or contain the requested 10.240.0.0/16" in text
    assert "subnet 'nodes' has prefix 10.50.0.0/24" in text  # names compare case-insensitively
    assert "overlaps its subnet 'other'" in text
    assert "outside its address space" in text


def test_same_location_ignores_case_and_spaces() -> None:
    assert adoption.same_location("northeurope", "North Europe")
    assert not adoption.same_location("northeurope", "westeurope")
    assert not adoption.same_location(None, "northeurope")


def test_peering_drift_and_remote() -> None:
    guide = dict(adoption.PEERING_SETTINGS)
    assert adoption.peering_drift(guide) == []
    assert adoption.peering_drift({**guide, "allowForwardedTraffic": True}) == ["allowForwardedTraffic"]
    assert adoption.peering_drift({**guide, "allowVirtualNetworkAccess": None}) == [
        "allowVirtualNetworkAccess"
    ]
    remote = "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/a"
    assert adoption.peering_problems(remote.replace("resourceGroups", "resourcegroups"), remote) == []
    assert adoption.peering_problems(remote + "x", remote)


def test_registry_rules() -> None:
    assert adoption.registry_problems("Premium", "LegacyRegistryPermissions") == []
    assert adoption.registry_problems("Premium", None) == []  # older registries: legacy mode implied
    assert len(adoption.registry_problems("Standard", "AbacRepositoryPermissions")) == 2
    assert adoption.soft_delete_enabled({"softDeletePolicy": {"status": "enabled", "retentionDays": 7}})
    assert not adoption.soft_delete_enabled({"softDeletePolicy": {"status": "disabled"}})
    assert not adoption.soft_delete_enabled(None)
    assert adoption.retention_in_state({"days": 7, "status": "enabled"}, 7)
    assert not adoption.retention_in_state({"days": 7, "status": "disabled"}, 7)
    assert not adoption.retention_in_state({"days": 30, "status": "enabled"}, 7)
    assert not adoption.retention_in_state(None, 7)


def guide_cluster(**changes: object) -> adoption.ExistingCluster:
    facts = {
        "location": "northeurope",
        "identity_type": "SystemAssigned",
        "enable_rbac": True,
        "has_aad_profile": False,
        "network_plugin": "azure",
        "network_plugin_mode": None,
        "service_cidr": "10.0.0.0/16",
        "dns_service_ip": "10.0.0.10",
        "private_cluster": True,
        "subnet_ids": (NODE_SUBNET.replace("resourceGroups", "resourcegroups"),),
    }
    facts.update(changes)
    return adoption.ExistingCluster(**facts)  # type: ignore[arg-type]


def problems(cluster: adoption.ExistingCluster) -> list[str]:
    return adoption.cluster_problems(
        cluster,
        wanted_location="northeurope",
        node_subnet_id=NODE_SUBNET,
        service_cidr="10.0.0.0/16",
        dns_service_ip="10.0.0.10",
    )


def test_cluster_with_the_guide_settings_is_adopted() -> None:
    assert problems(guide_cluster()) == []


def test_cluster_rules_each_reported() -> None:
    for change, words in [
        ({"identity_type": "UserAssigned"}, "SystemAssigned"),
        ({"enable_rbac": False}, "RBAC"),
        ({"has_aad_profile": True}, "Azure AD"),
        ({"network_plugin": "kubenet"}, "Azure CNI"),
        ({"network_plugin_mode": "overlay"}, "overlay"),
        ({"private_cluster": None}, "private cluster"),
        ({"subnet_ids": ("/other",)}, "not in the subnet"),
        ({"service_cidr": "10.1.0.0/16"}, "service CIDR"),
        ({"dns_service_ip": "10.0.0.11"}, "DNS service IP"),
        ({"location": "westeurope"}, "westeurope"),
    ]:
        found = problems(guide_cluster(**change))
        assert len(found) == 1 and words in found[0], (change, found)


def test_dns_prefix_and_zone_name() -> None:
    assert adoption.dns_prefix("hopsaks-cluster") == "hopsaks-cluster"
    assert adoption.dns_prefix("my_cluster") == "my-cluster"
    assert len(adoption.dns_prefix("a" * 63)) == 54
    zone = "0f1e.privatelink.northeurope.azmk8s.io"
    assert adoption.private_dns_zone_name(f"hopsaks-abc.{zone}") == zone
    assert adoption.private_dns_zone_name(f"hopsaks-abc.{zone}.") == zone
    assert adoption.private_dns_zone_name(None) is None
    assert adoption.private_dns_zone_name("nodots") is None


# ---------------------------------------------------------------- Failed/Canceled resources


def test_failed_states() -> None:
    assert adoption.is_failed("Failed") and adoption.is_failed("canceled")
    assert not adoption.is_failed("Succeeded") and not adoption.is_failed(None)
    assert adoption.failed_state_problems("Succeeded") == []
    (rule,) = adoption.failed_state_problems("Canceled")
    assert "Canceled" in rule


def failed_vnet(**subnet_states: str) -> adoption.ExistingVnet:
    return adoption.ExistingVnet(
        location="northeurope",
        address_prefixes=("10.240.0.0/16",),
        subnets={"nodes": ("10.240.0.0/20",), "users": ("10.240.32.0/24",)},
        provisioning_state="Failed",
        subnet_states={"nodes": "Failed", "users": "Failed", **subnet_states},
    )


def test_own_failed_vnet_is_put_again_with_its_missing_subnets() -> None:
    wanted = [("nodes", "10.240.0.0/20"), ("hopsworks", "10.240.16.0/24")]
    plan = adoption.plan_existing_vnet(
        failed_vnet(), "northeurope", "10.240.0.0/16", wanted, vnet_is_ours=True
    )
    assert plan.problems == []
    assert plan.put_vnet_again and plan.failed_subnets == []  # the vnet PUT carries its subnets
    assert plan.missing_subnets == [("hopsworks", "10.240.16.0/24")]


def test_adopted_failed_vnet_or_subnet_is_a_problem() -> None:
    wanted = [("nodes", "10.240.0.0/20")]
    plan = adoption.plan_existing_vnet(failed_vnet(), "northeurope", "10.240.0.0/16", wanted)
    assert not plan.put_vnet_again
    assert len(plan.problems) == 2 and "subnet 'nodes'" in plan.problems[1]
    fine_vnet = adoption.ExistingVnet(
        "northeurope", ("10.240.0.0/16",), {"nodes": ("10.240.0.0/20",)}, "Succeeded", {"nodes": "Canceled"}
    )
    plan = adoption.plan_existing_vnet(fine_vnet, "northeurope", "10.240.0.0/16", wanted)
    assert plan.failed_subnets == [] and "Canceled" in plan.problems[0]
    plan = adoption.plan_existing_vnet(fine_vnet, "northeurope", "10.240.0.0/16", wanted, ours={"nodes"})
    assert plan.problems == [] and plan.failed_subnets == [("nodes", "10.240.0.0/20")]


def test_service_network_checked_against_every_prefix_and_subnet() -> None:
    vnet = adoption.ExistingVnet(
        "northeurope", ("10.240.0.0/16", "10.1.0.0/16"), {"nodes": ("10.240.0.0/20",), "db": ("10.1.0.0/24",)}
    )
    found = adoption.service_network_problems(vnet, "10.1.0.0/16", "10.1.0.10")
    assert found == [
        "its address prefix 10.1.0.0/16 overlaps aks.serviceCidr 10.1.0.0/16",
        "its address prefix 10.1.0.0/16 contains aks.dnsServiceIp 10.1.0.10",
        "its subnet 'db' 10.1.0.0/24 overlaps aks.serviceCidr 10.1.0.0/16",
        "its subnet 'db' 10.1.0.0/24 contains aks.dnsServiceIp 10.1.0.10",
    ]
    assert adoption.service_network_problems(vnet, "10.0.0.0/16", "10.0.0.10") == []
    with_ipv6 = adoption.ExistingVnet("northeurope", ("10.240.0.0/16", "fd00::/48"), {})
    assert adoption.service_network_problems(with_ipv6, "10.0.0.0/16", "10.0.0.10") == []


def test_cluster_put_again_only_for_a_passing_failure() -> None:
    assert adoption.cluster_put_again("Failed", "InternalServerError")
    assert adoption.cluster_put_again("Canceled", None)
    assert not adoption.cluster_put_again("Failed", "VMExtensionProvisioningError")
    assert not adoption.cluster_put_again("Failed", None)
    assert not adoption.cluster_put_again("Succeeded", "InternalServerError")
    assert not adoption.cluster_put_again("Failed", "OperationNotAllowed", "quota exceeded")
