"""The cross-field rules, one function each: they run on the model, and on a request that failed phase one
they reason only about the fields that passed it."""

from __future__ import annotations

import pytest

from provisioning import request as request_module
from provisioning.request import FieldError, SetupRequest, cross_field_errors, validate_setup_request
from tests.provisioning.sample_requests import peering_request, subnet_request, with_field


def errors(body: object) -> list[FieldError]:
    result = validate_setup_request(body)
    assert isinstance(result, list), result
    return result


def test_every_rule_is_its_own_function_named_for_the_rule() -> None:
    names = [rule.__name__ for rule in request_module.CROSS_FIELD_RULES]
    assert len(names) == len(set(names)) >= 14
    assert "_dns_service_ip_usable_in_service_cidr" in names


def test_rules_on_a_valid_model_find_nothing_and_a_direct_model_build_runs_them() -> None:
    model = validate_setup_request(subnet_request())
    assert isinstance(model, SetupRequest)
    assert cross_field_errors(model) == []
    body = with_field(subnet_request(), "hopsworksSubnet.prefix", "10.240.0.0/24")
    with pytest.raises(ValueError, match="hopsworksSubnet.prefix: must not overlap aks.nodeSubnetPrefix"):
        SetupRequest.model_validate(body)


def test_a_field_that_failed_its_own_rule_is_not_reasoned_about_with_its_default() -> None:
    # null is not a CIDR: the default /20 must not stand in for it and be found outside a /24 space.
    body = with_field(peering_request(), "aks.addressSpace", "10.240.0.0/24")
    body["aks"]["nodeSubnetPrefix"] = None
    found = errors(body)
    assert [e.field for e in found] == ["aks.nodeSubnetPrefix"]
    assert "string" in found[0].message


def test_a_valid_field_is_still_checked_against_a_default_when_another_block_failed() -> None:
    body = with_field(peering_request(), "aks.serviceCidr", "172.18.0.0/16")  # the Hopsworks default space
    body["aks"]["dnsServiceIp"] = "172.18.0.10"
    body["acr"] = "not a block"
    fields = {e.field: e.message for e in errors(body)}
    assert fields["acr"] == "must be a JSON object"
    assert "must not overlap hopsworksNetwork.addressSpace (172.18.0.0/16)" in fields["aks.serviceCidr"]


def test_a_block_of_the_wrong_type_counts_as_given_but_none_of_its_fields_are_read() -> None:
    body = subnet_request(hopsworksSubnet="x", hopsworksNetwork={})
    fields = [e.field for e in errors(body)]
    assert fields.count("hopsworksNetwork") == 1  # "must be absent"
    assert "hopsworksSubnet" in fields  # "must be a JSON object"; not also "is required"
    assert not any(f.startswith("hopsworksSubnet.") for f in fields)
