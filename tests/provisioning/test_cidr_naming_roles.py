"""CIDR math, naming rules and derived names, role constants and ARM wildcard permissions."""

from __future__ import annotations

import ipaddress
import re
import uuid

import pytest

from provisioning import cidr, naming, roles

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"

# ---------------------------------------------------------------- cidr


def test_parse_cidr_strict() -> None:
    assert cidr.parse_cidr("10.240.0.0/16") == ipaddress.IPv4Network("10.240.0.0/16")
    assert cidr.parse_cidr("0.0.0.0/0").prefixlen == 0
    assert cidr.parse_cidr("10.0.0.5/32").num_addresses == 1
    for bad, rule in [
        ("10.240.0.1/16", "host bits"),
        ("10.240.0.0", "prefix length"),
        ("10.0.0.0/33", "between 0 and 32"),
        ("fd00::/8", "IPv6"),
        ("10.0.0.0/255.0.0.0", "notation"),
        ("300.0.0.0/8", "0-255"),
        (" 10.0.0.0/8", "notation"),
        (None, "string"),
    ]:
        with pytest.raises(cidr.CidrError, match=rule):
            cidr.parse_cidr(bad)


def test_parse_address_strict() -> None:
    assert str(cidr.parse_address("10.0.0.10")) == "10.0.0.10"
    for bad in ("10.0.0", "10.0.0.10/32", "::1", "1.2.3.04", 5):
        with pytest.raises(cidr.CidrError):
            cidr.parse_address(bad)


def test_overlap_and_containment() -> None:
    vnet = cidr.parse_cidr("10.240.0.0/16")
    assert cidr.contains(vnet, cidr.parse_cidr("10.240.16.0/24"))
    assert not cidr.contains(vnet, cidr.parse_cidr("10.0.0.0/8"))
    assert cidr.overlaps(vnet, cidr.parse_cidr("10.0.0.0/8"))
    assert not cidr.overlaps(vnet, cidr.parse_cidr("10.241.0.0/16"))
    assert cidr.contains_address(vnet, cidr.parse_address("10.240.255.255"))


def test_reserved_ranges() -> None:
    assert [r.network for r in cidr.reserved_overlaps(cidr.parse_cidr("172.16.0.0/12"))] == [
        ipaddress.IPv4Network("172.30.0.0/16"),
        ipaddress.IPv4Network("172.31.0.0/16"),
    ]
    assert cidr.reserved_overlaps(cidr.parse_cidr("172.17.0.0/16")) == []
    docker = cidr.reserved_overlaps(cidr.parse_cidr("172.17.0.0/16"), include_docker_bridge=True)
    assert [r.reason for r in docker] == ["default docker bridge range"]
    assert cidr.reserved_overlaps(cidr.parse_cidr("10.0.0.0/8")) == []


def test_prefix_error_and_usable_addresses() -> None:
    assert cidr.prefix_error(cidr.parse_cidr("10.0.0.0/8"), 8, 29) is None
    assert "between /8 and /29" in cidr.prefix_error(cidr.parse_cidr("10.0.0.0/30"), 8, 29)
    assert cidr.usable_subnet_addresses(cidr.parse_cidr("10.0.0.0/29")) == 3
    assert cidr.usable_subnet_addresses(cidr.parse_cidr("10.0.0.0/32")) == 0


# ---------------------------------------------------------------- naming rules


def test_name_rules_never_raise_and_reject_non_strings() -> None:
    for rule in (naming.RESOURCE_GROUP, naming.CONTAINER_REGISTRY, naming.VIRTUAL_NETWORK, naming.LOCATION):
        assert rule.error(None) and rule.error(5) and rule.error("x" * 100_000)


def test_no_valid_name_can_carry_url_syntax() -> None:
    for rule in (
        naming.RESOURCE_GROUP,
        naming.IDENTITY,
        naming.AKS_CLUSTER,
        naming.CONTAINER_REGISTRY,
        naming.VIRTUAL_NETWORK,
        naming.SUBNET,
        naming.PEERING,
        naming.DNS_ZONE_LINK,
        naming.LOCATION,
    ):
        for bad in ("a/b", "ab?c", "ab%2f", "ab#c", "..", ".", "ab\\c", "a b", "ab\n"):
            assert not rule.is_valid(bad), (rule.kind, bad)


# ---------------------------------------------------------------- derived names


def test_instance_id_is_deterministic_and_case_insensitive() -> None:
    a = naming.instance_id(SUB, "Hopsworks-RG", "HopsAKS")
    assert a == naming.instance_id(SUB.upper(), "hopsworks-rg", "hopsaks")
    assert re.fullmatch(r"setup-[0-9a-f-]{36}", a)
    assert a == "setup-" + str(uuid.uuid5(naming.NAMESPACE, f"{SUB}/hopsworks-rg/hopsaks"))
    assert a != naming.instance_id(SUB, "hopsworks-rg", "other")
    assert a != naming.instance_id(SUB, "hopsworks-rg2", "hopsaks")


def test_role_assignment_name_is_deterministic_per_scope_role_principal() -> None:
    scope = naming.resource_group_scope(SUB, "rg")
    name = naming.role_assignment_name(scope, roles.ACR_PULL.guid, "PRINCIPAL-1")
    assert uuid.UUID(name)
    assert name == naming.role_assignment_name(
        scope.upper() + "/", roles.ACR_PULL.guid.upper(), "principal-1"
    )
    assert name == naming.role_assignment_name(
        scope, naming.role_definition_id(SUB, roles.ACR_PULL.guid), "principal-1"
    )
    others = {
        naming.role_assignment_name(scope, roles.ACR_PUSH.guid, "principal-1"),
        naming.role_assignment_name(scope, roles.ACR_PULL.guid, "principal-2"),
        naming.role_assignment_name(naming.subscription_scope(SUB), roles.ACR_PULL.guid, "principal-1"),
    }
    assert name not in others and len(others) == 3


def test_peering_names_are_hopsworks_side_first_and_fit_80() -> None:
    assert naming.peering_names("hopsworks-vnet", "aks-vnet") == (
        "hopsworks-vnet-to-aks-vnet",
        "aks-vnet-to-hopsworks-vnet",
    )
    long_h, long_a = "h" * 64, "a" * 64
    first, second = naming.peering_names(long_h, long_a)
    assert len(first) == len(second) == 80
    assert first.startswith("h" * 20) and second.startswith("a" * 20)
    assert naming.PEERING.is_valid(first) and naming.PEERING.is_valid(second)
    # Two long names with the same prefix still get different peering names.
    other, _ = naming.peering_names(long_h, "a" * 63 + "b")
    assert other != first and len(other) == 80
    assert naming.peering_names(long_h, long_a) == (first, second)


def test_dns_link_name() -> None:
    assert naming.dns_link_name("hopsworks-vnet") == "hopsworks-vnet-link"
    assert naming.DNS_ZONE_LINK.is_valid(naming.dns_link_name("v" * 64))


def test_node_resource_group() -> None:
    assert naming.node_resource_group("hopsworks-stage", "hopsworks-aks", "northeurope") == (
        "MC_hopsworks-stage_hopsworks-aks_northeurope"
    )
    assert naming.node_resource_group_error("rg", "c", "northeurope") is None
    assert "at most 80" in naming.node_resource_group_error("r" * 60, "c" * 10, "northeurope")


def test_resource_ids_and_scopes() -> None:
    assert naming.subscription_scope(SUB) == f"/subscriptions/{SUB}"
    assert naming.resource_group_scope(SUB, "rg") == f"/subscriptions/{SUB}/resourceGroups/rg"
    assert naming.resource_id(SUB, "rg", "Microsoft.Network/virtualNetworks", "v", "subnets", "s") == (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
    )
    assert naming.role_definition_id(SUB, roles.ACR_PULL.guid) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{roles.ACR_PULL.guid}"
    )
    assert naming.identity_role_scope(SUB, "rg", "subscription") == naming.subscription_scope(SUB)
    assert naming.identity_role_scope(SUB, "rg", "resourceGroup") == naming.resource_group_scope(SUB, "rg")
    with pytest.raises(ValueError):
        naming.resource_id(SUB, "rg", "Microsoft.Network/virtualNetworks", "v", "subnets")
    with pytest.raises(ValueError):
        naming.identity_role_scope(SUB, "rg", "tenant")


def test_same_resource_id_ignores_case_and_trailing_slash() -> None:
    a = f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/v"
    assert naming.same_resource_id(a, a.lower().replace("resourcegroups", "resourcegroups") + "/")
    assert not naming.same_resource_id(a, a + "2")
    assert not naming.same_resource_id(a, None) and naming.same_resource_id(None, None)


# ---------------------------------------------------------------- roles


def test_role_guids_and_guide_order() -> None:
    assert [r.guid for r in roles.IDENTITY_ROLES] == [
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "8311e382-0749-4cb8-b61a-304f252e45ec",
        "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
        "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
    ]
    assert roles.NETWORK_CONTRIBUTOR.guid == "4d97b98b-1d4f-4787-a291-c67834d212e7"


def test_required_actions_by_topology() -> None:
    peering, subnet = roles.required_actions("peering"), roles.required_actions("subnet")
    assert "Microsoft.Authorization/roleAssignments/write" in subnet
    assert "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write" in peering
    assert "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write" not in subnet
    for action in peering:
        if action.endswith("/write"):
            assert action.replace("/write", "/delete") in peering, action  # rollback can undo every write


CONTRIBUTOR = {
    "actions": ["*"],
    "notActions": [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ],
}


def test_missing_actions_wildcards() -> None:
    required = [
        "Microsoft.Network/virtualNetworks/write",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/read",
    ]
    assert roles.missing_actions(required, [CONTRIBUTOR]) == ["Microsoft.Authorization/roleAssignments/write"]
    # Another role that grants it fills the gap (notActions only subtract within their own entry).
    uaa = {"actions": ["*/read", "Microsoft.Authorization/*"], "notActions": []}
    assert roles.missing_actions(required, [CONTRIBUTOR, uaa]) == []
    assert roles.missing_actions(required, [{"actions": ["*/read"]}]) == [
        "Microsoft.Network/virtualNetworks/write",
        "Microsoft.Authorization/roleAssignments/write",
    ]
    network = {
        "actions": ["Microsoft.Network/*"],
        "notActions": ["Microsoft.Network/virtualNetworks/*/delete"],
    }
    assert roles.missing_actions(
        [
            "microsoft.network/VIRTUALNETWORKS/write",
            "Microsoft.Network/virtualNetworks/subnets/delete",
            "Microsoft.Network/virtualNetworks/delete",
        ],
        [network],
    ) == ["Microsoft.Network/virtualNetworks/subnets/delete"]
    assert roles.missing_actions(required, []) == required
    assert roles.missing_actions(required + required, [{"actions": []}]) == required  # no repeats


def test_missing_actions_accepts_sdk_snake_case_and_ignores_junk() -> None:
    entry = {"actions": ["*"], "not_actions": ["Microsoft.Authorization/*/Write"]}
    assert roles.missing_actions(["Microsoft.Authorization/roleAssignments/write"], [entry]) == [
        "Microsoft.Authorization/roleAssignments/write"
    ]
    assert roles.missing_actions(["a/b"], [{"actions": "*"}, "junk", {"actions": [None, 5]}]) == ["a/b"]


def test_wildcard_does_not_treat_regex_characters_specially() -> None:
    assert not roles.action_matches(
        "Microsoft.Network/virtualNetworks/read", "MicrosoftXNetwork/virtualNetworks/read"
    )
    assert roles.action_matches("Microsoft.*/read", "Microsoft.Network/virtualNetworks/read")
