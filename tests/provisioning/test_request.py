"""SetupRequest: defaults, normalization and every validation rule (each error names field and rule)."""

from __future__ import annotations

import json

import pytest

from provisioning import naming
from provisioning.request import FieldError, SetupRequest, validate_setup_request
from tests.provisioning.sample_requests import (
    SUBSCRIPTION,
    peering_request,
    subnet_request,
    with_field,
    without_field,
)


def errors_of(body: object) -> list[FieldError]:
    result = validate_setup_request(body)
    assert isinstance(result, list), f"expected errors, got a valid request: {result!r}"
    assert result, "an invalid request must list at least one error"
    return result


def fields_of(body: object) -> set[str]:
    return {error.field for error in errors_of(body)}


def messages_for(body: object, field: str) -> list[str]:
    messages = [error.message for error in errors_of(body) if error.field == field]
    assert messages, f"no error for {field}: {errors_of(body)}"
    return messages


def valid(body: object) -> SetupRequest:
    result = validate_setup_request(body)
    assert isinstance(result, SetupRequest), f"expected valid, got {result}"
    return result


# ---------------------------------------------------------------- defaults and normalization


def test_minimal_peering_request_gets_every_documented_default() -> None:
    body = peering_request()
    del body["location"], body["tags"]
    normalized = valid(json.dumps(body)).to_orchestration_dict()
    assert normalized == {
        "subscriptionId": SUBSCRIPTION,
        "resourceGroup": "hopsworks-rg",
        "location": None,
        "topology": "peering",
        "identity": {"name": "hopsworks-identity", "roleScope": "resourceGroup"},
        "aks": {
            "name": "hopsaks-cluster",
            "vnetName": "hopsaks-cluster-vnet",
            "addressSpace": "10.240.0.0/16",
            "nodeSubnetName": "aks-nodes",
            "nodeSubnetPrefix": "10.240.0.0/20",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIp": "10.0.0.10",
            "nodeCount": 1,
            "vmSize": "Standard_D4s_v5",
            "kubernetesVersion": None,
        },
        "acr": {"name": "hopsworksaks", "retentionDays": 7},
        "hopsworksNetwork": {
            "vnetName": "hopsworks-vnet",
            "addressSpace": "172.18.0.0/16",
            "subnetName": "default",
            "subnetPrefix": "172.18.0.0/24",
        },
        "hopsworksSubnet": None,
        "tags": {},
    }


def test_minimal_subnet_request_gets_the_hopsworks_subnet_defaults() -> None:
    normalized = valid(subnet_request()).to_orchestration_dict()
    assert normalized["hopsworksSubnet"] == {"name": "hopsworks", "prefix": "10.240.16.0/24"}
    assert normalized["hopsworksNetwork"] is None
    assert normalized["tags"] == {"owner": "platform"}


def test_normalization_is_stable_and_json_round_trips() -> None:
    body = peering_request(subscriptionId=SUBSCRIPTION.upper())
    normalized = valid(body).to_orchestration_dict()
    assert normalized["subscriptionId"] == SUBSCRIPTION  # lower-cased
    again = valid(json.dumps(normalized)).to_orchestration_dict()
    assert again == normalized


def test_explicit_values_are_kept() -> None:
    body = peering_request(
        identity={"name": "id-1", "roleScope": "subscription"},
        aks={"name": "c1", "vnetName": "my-vnet", "addressSpace": "10.1.0.0/16", "nodeSubnetName": "nodes",
             "nodeSubnetPrefix": "10.1.0.0/22", "serviceCidr": "10.2.0.0/16", "dnsServiceIp": "10.2.0.20",
             "nodeCount": 3, "vmSize": "Standard_D8s_v5", "kubernetesVersion": "1.30.4"},
        acr={"name": "myregistry01", "retentionDays": 0},
        hopsworksNetwork={"vnetName": "hw", "addressSpace": "192.168.0.0/16", "subnetName": "sn",
                          "subnetPrefix": "192.168.4.0/24"},
    )
    normalized = valid(body).to_orchestration_dict()
    assert normalized["aks"]["vnetName"] == "my-vnet"
    assert normalized["aks"]["nodeCount"] == 3
    assert normalized["aks"]["kubernetesVersion"] == "1.30.4"
    assert normalized["identity"]["roleScope"] == "subscription"
    assert normalized["acr"]["retentionDays"] == 0
    assert normalized["hopsworksNetwork"]["subnetPrefix"] == "192.168.4.0/24"


def test_null_optional_fields_mean_default() -> None:
    body = peering_request(location=None)
    body["aks"]["vnetName"] = None
    body["aks"]["kubernetesVersion"] = None
    normalized = valid(body).to_orchestration_dict()
    assert normalized["location"] is None
    assert normalized["aks"]["vnetName"] == "hopsaks-cluster-vnet"


def test_instance_id_is_derived_from_the_target() -> None:
    request = valid(peering_request())
    assert request.instance_id == naming.instance_id(SUBSCRIPTION, "hopsworks-rg", "hopsaks-cluster")
    other_case = valid(peering_request(resourceGroup="HOPSWORKS-RG"))
    assert other_case.instance_id == request.instance_id


def test_bytes_str_and_dict_inputs_agree() -> None:
    body = peering_request()
    as_dict = valid(body).to_orchestration_dict()
    assert valid(json.dumps(body)).to_orchestration_dict() == as_dict
    assert valid(json.dumps(body).encode()).to_orchestration_dict() == as_dict
    assert valid(b"\xef\xbb\xbf" + json.dumps(body).encode()).to_orchestration_dict() == as_dict  # UTF-8 BOM


def test_building_the_model_directly_still_enforces_cross_field_rules() -> None:
    body = peering_request()
    body["aks"]["serviceCidr"] = "10.240.0.0/16"
    with pytest.raises(ValueError, match="aks.serviceCidr"):
        SetupRequest.model_validate(body)


# ---------------------------------------------------------------- body


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"{", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"[]", "JSON object"),
        (b'"text"', "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
        ("[" * 100_000, "not valid JSON"),
        (b"1" * 5000, "not valid JSON"),
        (b" " * (1024 * 1024 + 1), "at most"),
    ],
)
def test_malformed_bodies_are_one_body_error(raw: bytes | str, rule: str) -> None:
    errors = errors_of(raw)
    assert [e.field for e in errors] == ["body"]
    assert rule in errors[0].message


def test_missing_required_fields_are_each_named() -> None:
    errors = errors_of({})
    by_field = {e.field: e.message for e in errors}
    for field in ("subscriptionId", "resourceGroup", "topology", "identity", "aks", "acr"):
        assert by_field[field] == "is required"
    nested = errors_of(peering_request(identity={}, aks={}, acr={}))
    assert {"identity.name", "aks.name", "acr.name"} <= {e.field for e in nested}


def test_unknown_fields_are_rejected_at_every_level() -> None:
    body = peering_request(extra=1)
    body["aks"]["nodeSubnet"] = "x"
    body["hopsworksNetwork"]["vnet_name"] = "snake"
    errors = errors_of(body)
    by_field = {e.field: e.message for e in errors}
    assert by_field["extra"].startswith("is not a known field; allowed here: subscriptionId")
    assert "nodeSubnetName" in by_field["aks.nodeSubnet"]
    assert "vnetName" in by_field["hopsworksNetwork.vnet_name"]


def test_unknown_field_with_odd_key_is_named_in_the_message_not_the_path() -> None:
    body = peering_request(**{"a/b?c": 1})
    (error,) = errors_of(body)
    assert error.field == "body"
    assert "'a/b?c'" in error.message and "not a known field" in error.message


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        ("aks.nodeCount", "3", "valid integer"),
        ("aks.nodeCount", True, "valid integer"),
        ("aks.nodeCount", 1.5, "valid integer"),
        ("acr.retentionDays", "7", "valid integer"),
        ("resourceGroup", 5, "string"),
        ("aks", "cluster", "JSON object"),
        ("tags", ["a"], "JSON object"),
        ("topology", "vpn", "'peering' or 'subnet'"),
        ("identity.roleScope", "tenant", "'resourceGroup' or 'subscription'"),
    ],
)
def test_wrong_types_name_the_field_and_the_expected_type(path: str, value: object, rule: str) -> None:
    assert any(rule in m for m in messages_for(with_field(peering_request(), path, value), path))


def test_tag_value_of_wrong_type_is_reported_under_tags() -> None:
    body = peering_request(tags={"cost.center": 5})
    (error,) = errors_of(body)
    assert error.field == "tags"
    assert "'cost.center'" in error.message and "string" in error.message


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("path", "good", "bad"),
    [
        ("subscriptionId", ["0B1F6471-1BF0-4DDA-AEC3-CB9272F09590"],
         ["", "not-a-guid", "{0b1f6471-1bf0-4dda-aec3-cb9272f09590}", "0b1f64711bf04ddaaec3cb9272f09590",
          "0b1f6471-1bf0-4dda-aec3-cb9272f0959g"]),
        ("resourceGroup", ["a", "rg_(1).x", "r" * 90, "grupo-ñ"],
         ["", "r" * 91, "ends.", "a/b", "..", "a?b", "a%2f", "a b", "a#b"]),
        ("identity.name", ["abc", "a-b_c", "a" * 128],
         ["ab", "-abc", "_abc", "a" * 129, "a.b", "a/b", "a b"]),
        ("aks.name", ["a", "a-b_c", "a" * 63], ["", "-a", "a-", "a_", "a" * 64, "a.b", "a/b", "ñ"]),
        ("acr.name", ["abcde", "ABC12", "a" * 50], ["abcd", "a" * 51, "abc-de", "abc_de", "abcdé"]),
        ("aks.vnetName", ["ab", "a.b-c_", "a" * 64], ["a", "a" * 65, "-ab", "ab.", "ab-", "a/b", ".."]),
        ("aks.nodeSubnetName", ["a", "a.b", "a" * 80], ["", "a" * 81, ".a", "a.", "a/b", "a%b"]),
        ("hopsworksNetwork.vnetName", ["hw"], ["h", "h/..", "hw?"]),
        ("hopsworksNetwork.subnetName", ["default"], ["default.", "a b"]),
        ("location", ["northeurope", "eastus2"], ["North Europe", "NorthEurope", "north-europe", "", "x"]),
        ("aks.vmSize", ["Standard_D4s_v5", "Standard_M8-2ms"], ["", "Standard D4", "4core", "a/b"]),
        ("aks.kubernetesVersion", ["1.30", "1.30.4"], ["", "v1.30", "1", "1.30.4.5", "latest"]),
    ],
)
def test_naming_rules(path: str, good: list[str], bad: list[str]) -> None:
    # No location (the node resource group length is checked in preflight then) and an explicit vnet name,
    # so long good names meet only their own rule here.
    base = without_field(with_field(peering_request(), "aks.vnetName", "aks-vnet"), "location")
    for value in good:
        valid(with_field(base, path, value))
    for value in bad:
        messages = messages_for(with_field(base, path, value), path)
        assert any("must" in m for m in messages), messages


def test_subnet_topology_name_rule_for_hopsworks_subnet() -> None:
    messages = messages_for(subnet_request(hopsworksSubnet={"name": "a/b"}), "hopsworksSubnet.name")
    assert "subnet name must be 1-80 characters" in messages[0]


def test_default_aks_vnet_name_that_would_be_too_long_is_reported() -> None:
    body = with_field(peering_request(), "aks.name", "c" * 60)
    body["location"] = "eu"  # keep the node resource group rule out of this test
    (error,) = errors_of(body)
    assert error.field == "aks.vnetName"
    assert "set aks.vnetName" in error.message
    body["aks"]["vnetName"] = "short-vnet"
    valid(body)


def test_node_resource_group_name_limit() -> None:
    body = peering_request(resourceGroup="r" * 40, location="germanywestcentral")
    body["aks"] = {"name": "c" * 20, "vnetName": "v1"}
    # MC_ + 40 + _ + 20 + _ + 18 = 83 > 80
    (message,) = messages_for(body, "aks.name")
    assert "at most 80" in message and "83" in message
    body["location"] = "westeurope"  # 75 characters
    valid(body)


def test_hopsworks_vnet_must_differ_from_aks_vnet() -> None:
    body = peering_request(hopsworksNetwork={"vnetName": "HOPSAKS-cluster-vnet"})
    assert "must differ" in messages_for(body, "hopsworksNetwork.vnetName")[0]


def test_hopsworks_subnet_must_differ_from_node_subnet() -> None:
    body = subnet_request(hopsworksSubnet={"name": "aks-nodes", "prefix": "10.240.16.0/24"})
    assert "must differ" in messages_for(body, "hopsworksSubnet.name")[0]


# ---------------------------------------------------------------- tags


def test_tag_rules() -> None:
    ok = {"k" * 512: "v" * 256, "ünïcode": "välue", "empty": ""}
    valid(peering_request(tags=ok))
    cases = {
        "k" * 513: "1-512 characters",
        "": "1-512 characters",
        "a<b": "must not contain",
        "a/b": "must not contain",
        "a%b": "must not contain",
        "a?b": "must not contain",
        "a\\b": "must not contain",
        "a&b": "must not contain",
        "Hopsworks-Setup": "reserved",
        "hopsworks-setup-run": "reserved",
    }
    for key, rule in cases.items():
        (message,) = messages_for(peering_request(tags={key: "v"}), "tags")
        assert rule in message, (key, message)
    (message,) = messages_for(peering_request(tags={"k": "v" * 257}), "tags")
    assert "at most 256" in message


def test_tag_count_limit_leaves_room_for_the_run_tags() -> None:
    valid(peering_request(tags={f"t{i}": "v" for i in range(48)}))
    (message,) = messages_for(peering_request(tags={f"t{i}": "v" for i in range(49)}), "tags")
    assert "at most 48 tags" in message


def test_tag_names_differing_only_in_case_are_rejected() -> None:
    (message,) = messages_for(peering_request(tags={"Owner": "a", "owner": "b"}), "tags")
    assert "case-insensitive" in message


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(("path", "low", "high"), [("aks.nodeCount", 1, 1000), ("acr.retentionDays", 0, 365)])
def test_integer_ranges(path: str, low: int, high: int) -> None:
    body = peering_request()
    body["aks"]["nodeSubnetPrefix"] = "10.240.0.0/16"
    body["aks"]["addressSpace"] = "10.240.0.0/12"
    body["hopsworksNetwork"] = {}
    for value in (low, high):
        valid(with_field(body, path, value))
    for value in (low - 1, high + 1, -(10**30)):
        (message,) = messages_for(with_field(body, path, value), path)
        assert f"from {low} to {high}" in message


# ---------------------------------------------------------------- CIDRs


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("10.240.0.1/16", "host bits set"),
        ("10.240.0.0", "prefix length"),
        ("10.240.0.0/33", "between 0 and 32"),
        ("0.0.0.0/1", "between /8 and /29"),
        ("0.0.0.0/0", "between /8 and /29"),
        ("10.0.0.0/7", "between /8 and /29"),
        ("10.240.0.0/30", "between /8 and /29"),
        ("10.240.0.0/32", "between /8 and /29"),
        ("fd00::/8", "IPv6"),
        ("::/0", "IPv6"),
        ("10.240.0.0/255.255.0.0", "CIDR notation"),
        ("10.240.0/16", "CIDR notation"),
        ("010.240.0.0/16", "leading zeros"),
        ("256.0.0.0/16", "octets 0-255"),
        ("10.240.0.0/16 ", "CIDR notation"),
        ("１０.240.0.0/16", "CIDR notation"),
        (1024, "string"),
    ],
)
def test_cidr_syntax_rules(value: object, rule: str) -> None:
    messages = messages_for(with_field(peering_request(), "aks.addressSpace", value), "aks.addressSpace")
    assert any(rule in m for m in messages), messages


def test_host_bits_message_names_the_network() -> None:
    body = with_field(peering_request(), "aks.serviceCidr", "10.0.5.0/16")
    (message,) = messages_for(body, "aks.serviceCidr")
    assert "10.0.0.0/16" in message and "InvalidCIDRNotation" in message


def test_service_cidr_prefix_bounds() -> None:
    for value in ("10.0.0.0/11", "10.0.0.0/27"):
        body = with_field(peering_request(), "aks.serviceCidr", value)
        assert "between /12 and /26" in messages_for(body, "aks.serviceCidr")[0]
    body = with_field(peering_request(), "aks.serviceCidr", "10.0.0.0/26")
    valid(with_field(body, "aks.dnsServiceIp", "10.0.0.10"))


@pytest.mark.parametrize("reserved", ["169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24"])
def test_reserved_ranges_are_rejected_for_every_range(reserved: str) -> None:
    body = peering_request()
    body["aks"].update({"addressSpace": reserved, "nodeSubnetPrefix": reserved})
    assert any("reserved by AKS" in m for m in messages_for(body, "aks.addressSpace"))
    body = with_field(peering_request(), "aks.serviceCidr", reserved)
    assert any("reserved by AKS" in m for m in messages_for(body, "aks.serviceCidr"))
    body = peering_request(hopsworksNetwork={"addressSpace": reserved, "subnetPrefix": reserved})
    assert any("reserved by AKS" in m for m in messages_for(body, "hopsworksNetwork.addressSpace"))


def test_a_wide_range_covering_a_reserved_one_is_rejected() -> None:
    network = {"addressSpace": "172.16.0.0/12", "subnetPrefix": "172.16.0.0/24"}
    body = peering_request(hopsworksNetwork=network)
    messages = messages_for(body, "hopsworksNetwork.addressSpace")
    assert any("172.30.0.0/16" in m for m in messages) and any("172.31.0.0/16" in m for m in messages)


def test_service_cidr_must_avoid_the_docker_bridge() -> None:
    body = with_field(peering_request(), "aks.serviceCidr", "172.17.0.0/16")
    body["aks"]["dnsServiceIp"] = "172.17.0.10"
    (message,) = messages_for(body, "aks.serviceCidr")
    assert "docker bridge" in message


def test_node_subnet_must_lie_inside_the_aks_vnet() -> None:
    body = with_field(peering_request(), "aks.nodeSubnetPrefix", "10.241.0.0/20")
    assert "inside aks.addressSpace" in messages_for(body, "aks.nodeSubnetPrefix")[0]


def test_node_subnet_must_hold_the_nodes_with_azure_cni() -> None:
    body = with_field(peering_request(), "aks.nodeSubnetPrefix", "10.240.0.0/26")  # 59 usable < 62
    (message,) = messages_for(body, "aks.nodeSubnetPrefix")
    assert "needs 62 addresses" in message and "has 59 usable" in message
    valid(with_field(peering_request(), "aks.nodeSubnetPrefix", "10.240.0.0/25"))
    body = with_field(peering_request(), "aks.nodeCount", 131)  # /20: 4091 usable, 132*31 = 4092
    assert "too small for 131 node(s)" in messages_for(body, "aks.nodeSubnetPrefix")[0]
    valid(with_field(peering_request(), "aks.nodeCount", 130))


def test_service_cidr_must_not_overlap_the_vnets() -> None:
    body = peering_request()
    body["aks"].update({"serviceCidr": "10.240.0.0/16", "dnsServiceIp": "10.240.0.10"})
    assert "must not overlap aks.addressSpace" in messages_for(body, "aks.serviceCidr")[0]
    body = peering_request()
    body["aks"].update({"serviceCidr": "172.18.0.0/16", "dnsServiceIp": "172.18.0.10"})
    assert "must not overlap hopsworksNetwork.addressSpace" in messages_for(body, "aks.serviceCidr")[0]
    # Topology subnet has no Hopsworks vnet: that range is free there.
    body = subnet_request()
    body["aks"].update({"serviceCidr": "172.18.0.0/16", "dnsServiceIp": "172.18.0.10"})
    valid(body)


@pytest.mark.parametrize(
    ("dns", "rule"),
    [
        ("10.1.0.10", "inside aks.serviceCidr"),
        ("10.0.0.0", "network address"),
        ("10.0.0.1", "first address"),
        ("10.0.255.255", "last address"),
        ("10.0.0.256", "octets 0-255"),
        ("10.0.0.10/32", "IPv4 address"),
        ("fd00::10", "IPv6"),
        ("", "IPv4 address"),
    ],
)
def test_dns_service_ip_rules(dns: str, rule: str) -> None:
    messages = messages_for(with_field(peering_request(), "aks.dnsServiceIp", dns), "aks.dnsServiceIp")
    assert any(rule in m for m in messages), messages


def test_dns_service_ip_edge_addresses_inside_the_range_are_fine() -> None:
    valid(with_field(peering_request(), "aks.dnsServiceIp", "10.0.0.2"))
    valid(with_field(peering_request(), "aks.dnsServiceIp", "10.0.255.254"))


def test_hopsworks_vnet_must_not_overlap_the_aks_vnet() -> None:
    body = peering_request(hopsworksNetwork={"addressSpace": "10.0.0.0/8", "subnetPrefix": "10.1.0.0/24"})
    fields = fields_of(body)
    assert "hopsworksNetwork.addressSpace" in fields
    assert "aks.serviceCidr" in fields  # 10.0.0.0/16 lies in 10.0.0.0/8 too
    message = messages_for(body, "hopsworksNetwork.addressSpace")[0]
    assert "must not overlap aks.addressSpace (10.240.0.0/16)" in message


def test_hopsworks_subnet_prefix_inside_its_vnet() -> None:
    body = peering_request(hopsworksNetwork={"subnetPrefix": "172.19.0.0/24"})
    assert "inside hopsworksNetwork.addressSpace" in messages_for(body, "hopsworksNetwork.subnetPrefix")[0]


def test_subnet_topology_prefix_inside_aks_vnet_and_clear_of_node_subnet() -> None:
    body = subnet_request(hopsworksSubnet={"prefix": "10.241.0.0/24"})
    assert "inside aks.addressSpace" in messages_for(body, "hopsworksSubnet.prefix")[0]
    body = subnet_request(hopsworksSubnet={"prefix": "10.240.8.0/24"})
    message = messages_for(body, "hopsworksSubnet.prefix")[0]
    assert "must not overlap aks.nodeSubnetPrefix (10.240.0.0/20)" in message


# ---------------------------------------------------------------- topology blocks


def test_peering_requires_hopsworks_network_and_forbids_hopsworks_subnet() -> None:
    body = without_field(peering_request(), "hopsworksNetwork")
    assert "is required when topology is 'peering'" in messages_for(body, "hopsworksNetwork")[0]
    body = peering_request(hopsworksSubnet={})
    assert "must be absent when topology is 'peering'" in messages_for(body, "hopsworksSubnet")[0]
    valid(peering_request(hopsworksSubnet=None))


def test_subnet_requires_hopsworks_subnet_and_forbids_hopsworks_network() -> None:
    body = without_field(subnet_request(), "hopsworksSubnet")
    assert "is required when topology is 'subnet'" in messages_for(body, "hopsworksSubnet")[0]
    body = subnet_request(hopsworksNetwork={})
    assert "must be absent when topology is 'subnet'" in messages_for(body, "hopsworksNetwork")[0]


# ---------------------------------------------------------------- everything at once


def test_every_problem_is_listed_at_once_across_phases() -> None:
    body = {
        "subscriptionId": "nope",
        "resourceGroup": "rg/..",
        "topology": "peering",
        "identity": {"name": "x", "colour": "red"},
        "aks": {"name": "-bad-", "serviceCidr": "10.240.0.0/16", "dnsServiceIp": "10.240.0.1",
                "nodeCount": 0, "addressSpace": "10.240.0.0/16", "nodeSubnetPrefix": "10.250.0.0/20"},
        "acr": {"name": "a", "retentionDays": 400},
        "hopsworksSubnet": {},
        "tags": {"a/b": "c"},
        "surprise": True,
    }
    fields = fields_of(body)
    assert fields == {
        "subscriptionId", "resourceGroup", "identity.name", "identity.colour", "aks.name", "aks.nodeCount",
        "aks.serviceCidr", "aks.dnsServiceIp", "aks.nodeSubnetPrefix", "acr.name", "acr.retentionDays",
        "hopsworksNetwork", "hopsworksSubnet", "tags", "surprise",
    }
    errors = errors_of(body)
    assert len(errors) == len(set(errors))  # no duplicates
    assert all(e.message for e in errors)


def test_field_errors_serialize_as_the_http_contract_says() -> None:
    (error,) = errors_of(with_field(peering_request(), "acr.name", "x"))
    assert error.to_dict() == {"field": "acr.name", "message": error.message}
    assert json.loads(json.dumps(error.to_dict()))["field"] == "acr.name"
