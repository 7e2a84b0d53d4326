"""Property: validate_setup_request never raises, and every error it reports names a field.

Inputs are near-valid requests with fields replaced, removed or added, arbitrary JSON values, and raw bytes.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning import cidr, naming
from provisioning.request import FieldError, SetupRequest, validate_setup_request
from tests.provisioning.sample_requests import peering_request, subnet_request

FIELD_PATH = re.compile(r"body|[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")

KNOWN_PATHS = [
    "subscriptionId", "resourceGroup", "location", "topology", "tags",
    "identity", "identity.name", "identity.roleScope",
    "aks", "aks.name", "aks.vnetName", "aks.addressSpace", "aks.nodeSubnetName", "aks.nodeSubnetPrefix",
    "aks.serviceCidr", "aks.dnsServiceIp", "aks.nodeCount", "aks.vmSize", "aks.kubernetesVersion",
    "acr", "acr.name", "acr.retentionDays",
    "hopsworksNetwork", "hopsworksNetwork.vnetName", "hopsworksNetwork.addressSpace",
    "hopsworksNetwork.subnetName", "hopsworksNetwork.subnetPrefix",
    "hopsworksSubnet", "hopsworksSubnet.name", "hopsworksSubnet.prefix",
]

TRICKY_TEXT = [
    "", " ", "a", "..", "../x", "a/b", "a?b=c", "a%2Fb", "a#b", "a\\b", "a\nb", "\x00", "ñandú", "名前",
    "\ud800", "🙂" * 10, "x" * 5000, "a" * 64, "a" * 91, "-a-", "peering", "subnet", "resourceGroup",
    "subscription", "northeurope", "North Europe", "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "10.240.0.0/16", "10.240.0.1/16", "10.0.0.0/0", "0.0.0.0/0", "10.240.0.0/32", "10.240.0.10/32",
    "10.0.0.0/8", "10.240.16.0/24", "172.18.0.0/16", "172.17.0.0/16", "169.254.0.0/16", "172.30.0.0/16",
    "192.0.2.0/24", "10.0.0.10", "10.0.0.1", "10.0.0.0", "fd00::/8", "::/0", "::1", "2001:db8::/32",
    "10.240.0.0/255.255.0.0", "010.240.0.0/16", "256.0.0.0/8", "1.30", "Standard_D4s_v5",
]

texts = st.one_of(st.sampled_from(TRICKY_TEXT), st.text(max_size=80))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.integers(min_value=-2, max_value=1002),
    st.dictionaries(texts, texts, max_size=60),  # tags-like maps, sometimes too many
)


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[last] = value


def _delete(body: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target.get(key)
        if not isinstance(target, dict):
            return
    target.pop(last, None)


@st.composite
def mutated_requests(draw: st.DrawFn) -> dict[str, Any]:
    body = copy.deepcopy(draw(st.sampled_from([peering_request(), subnet_request()])))
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        operation = draw(st.sampled_from(["set", "set", "delete", "extra"]))
        if operation == "set":
            _set(body, draw(st.sampled_from(KNOWN_PATHS)), draw(field_values))
        elif operation == "delete":
            _delete(body, draw(st.sampled_from(KNOWN_PATHS)))
        else:
            parent = draw(st.sampled_from(["", "identity.", "aks.", "acr.", "hopsworksNetwork.", "tags."]))
            _set(body, parent + draw(texts.filter(lambda t: "." not in t)), draw(scalars))
    return body


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes | str:
    text = json.dumps(draw(mutated_requests()))
    kind = draw(st.sampled_from(["truncated", "binary", "text", "json_value", "deep"]))
    if kind == "truncated":
        return text[: draw(st.integers(min_value=0, max_value=len(text)))].encode()
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=5000))
        return "[" * depth + "]" * draw(st.integers(min_value=0, max_value=depth))
    return json.dumps(draw(json_values))


inputs = st.one_of(
    mutated_requests(),
    mutated_requests().map(json.dumps),
    mutated_requests().map(lambda b: json.dumps(b).encode()),
    raw_bodies(),
)


def _assert_safe_valid(request: SetupRequest) -> None:
    normalized = request.to_orchestration_dict()
    json.dumps(normalized)
    names = [normalized["resourceGroup"], normalized["identity"]["name"], normalized["aks"]["name"],
             normalized["aks"]["vnetName"], normalized["aks"]["nodeSubnetName"], normalized["acr"]["name"]]
    for block, keys in (("hopsworksNetwork", ("vnetName", "subnetName")), ("hopsworksSubnet", ("name",))):
        if normalized[block]:
            names.extend(normalized[block][key] for key in keys)
    for name in names:
        assert not any(c in name for c in "/?%#\\") and name not in {".", ".."}, name
    aks = normalized["aks"]
    service, vnet = cidr.parse_cidr(aks["serviceCidr"]), cidr.parse_cidr(aks["addressSpace"])
    assert not service.overlaps(vnet)
    assert cidr.parse_cidr(aks["nodeSubnetPrefix"]).subnet_of(vnet)
    assert cidr.parse_address(aks["dnsServiceIp"]) in service
    assert (normalized["hopsworksNetwork"] is None) != (normalized["hopsworksSubnet"] is None)
    assert request.instance_id == naming.instance_id(
        normalized["subscriptionId"], normalized["resourceGroup"], aks["name"]
    )
    # Normalization is a fixed point.
    again = validate_setup_request(normalized)
    assert isinstance(again, SetupRequest) and again.to_orchestration_dict() == normalized


@settings(
    max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(inputs)
def test_validation_never_raises_and_every_error_names_a_field(raw: Any) -> None:
    result = validate_setup_request(raw)
    if isinstance(result, SetupRequest):
        _assert_safe_valid(result)
        return
    assert isinstance(result, list) and result
    for error in result:
        assert isinstance(error, FieldError)
        assert FIELD_PATH.fullmatch(error.field), error.field
        assert isinstance(error.message, str) and error.message.strip()
        json.dumps(error.to_dict())  # the 400 body must serialize
