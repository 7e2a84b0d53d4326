"""SetupRequest: the body of `POST /api/setups`, its defaults, and its validation.

`validate_setup_request` is the entry point: it never raises and reports every problem at once, each as a
FieldError naming a dotted camelCase path (`aks.serviceCidr`, `hopsworksNetwork`, `body`) and the rule.

Validation has two phases. Pydantic checks the shape, the types and each field's own rule (names, CIDR
syntax, ranges). The cross-field rules (topology blocks, containment, overlaps, reserved ranges, tags) then
run on the raw input, using whichever fields parsed, so a type error in one block does not hide an overlap
in another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from provisioning import cidr, naming

MAX_BODY_BYTES = 1024 * 1024

# ---------------------------------------------------------------- documented defaults

DEFAULT_AKS_ADDRESS_SPACE = "10.240.0.0/16"
DEFAULT_AKS_NODE_SUBNET_NAME = "aks-nodes"
DEFAULT_AKS_NODE_SUBNET_PREFIX = "10.240.0.0/20"
DEFAULT_AKS_SERVICE_CIDR = "10.0.0.0/16"
DEFAULT_AKS_DNS_SERVICE_IP = "10.0.0.10"
DEFAULT_AKS_NODE_COUNT = 1
DEFAULT_AKS_VM_SIZE = "Standard_D4s_v5"
AKS_VNET_NAME_SUFFIX = "-vnet"  # default aks.vnetName is "<aks.name>-vnet"
DEFAULT_ROLE_SCOPE = "resourceGroup"
DEFAULT_RETENTION_DAYS = 7  # the guide's
DEFAULT_HOPSWORKS_VNET_NAME = "hopsworks-vnet"
DEFAULT_HOPSWORKS_ADDRESS_SPACE = "172.18.0.0/16"  # the guide's
DEFAULT_HOPSWORKS_SUBNET_NAME = "default"
DEFAULT_HOPSWORKS_SUBNET_PREFIX = "172.18.0.0/24"
DEFAULT_HOPSWORKS_SUBNET = "hopsworks"
DEFAULT_HOPSWORKS_SUBNET_PREFIX_IN_AKS = "10.240.16.0/24"

# ---------------------------------------------------------------- bounds

NODE_COUNT_MIN, NODE_COUNT_MAX = 1, 1000
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 0, 365
# Azure CNI (no overlay) gives every pod a vnet address: default maxPods 30, plus the node's own address.
AZURE_CNI_ADDRESSES_PER_NODE = 31
UPGRADE_SURGE_NODES = 1
SERVICE_CIDR_SMALLEST_PREFIX = 26

Topology = Literal["peering", "subnet"]
RoleScope = Literal["resourceGroup", "subscription"]


@dataclass(frozen=True)
class FieldError:
    """One problem with a request: the dotted camelCase path of the field and the rule it breaks."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


# ---------------------------------------------------------------- field rules (used by the models)


def _check_name(rule: naming.NameRule) -> Callable[[str], str]:
    def check(value: str) -> str:
        error = rule.error(value)
        if error:
            raise ValueError(error)
        return value

    return check


def _check_network(largest: int, smallest: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        network = cidr.parse_cidr(value)
        error = cidr.prefix_error(network, largest, smallest)
        if error:
            raise ValueError(error)
        return str(network)

    return check


_vnet_space = _check_network(cidr.LARGEST_PREFIX, cidr.SMALLEST_PREFIX)
_subnet_prefix = _check_network(cidr.LARGEST_PREFIX, cidr.SMALLEST_PREFIX)
_service_cidr = _check_network(cidr.SERVICE_CIDR_LARGEST_PREFIX, SERVICE_CIDR_SMALLEST_PREFIX)


def _check_range(name: str, low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{name} must be an integer from {low} to {high}")
        return value

    return check


class _Strict(BaseModel):
    # Input only by camelCase alias; no coercion ("5" is not 5, true is not 1); unknown fields rejected.
    model_config = ConfigDict(extra="forbid", strict=True, validate_by_alias=True, validate_by_name=False)


class IdentitySpec(_Strict):
    name: str = Field(alias="name")
    role_scope: RoleScope = Field(DEFAULT_ROLE_SCOPE, alias="roleScope")

    _name = field_validator("name")(_check_name(naming.IDENTITY))


class AksSpec(_Strict):
    name: str = Field(alias="name")
    vnet_name: str | None = Field(None, alias="vnetName")
    address_space: str = Field(DEFAULT_AKS_ADDRESS_SPACE, alias="addressSpace")
    node_subnet_name: str = Field(DEFAULT_AKS_NODE_SUBNET_NAME, alias="nodeSubnetName")
    node_subnet_prefix: str = Field(DEFAULT_AKS_NODE_SUBNET_PREFIX, alias="nodeSubnetPrefix")
    service_cidr: str = Field(DEFAULT_AKS_SERVICE_CIDR, alias="serviceCidr")
    dns_service_ip: str = Field(DEFAULT_AKS_DNS_SERVICE_IP, alias="dnsServiceIp")
    node_count: int = Field(DEFAULT_AKS_NODE_COUNT, alias="nodeCount")
    vm_size: str = Field(DEFAULT_AKS_VM_SIZE, alias="vmSize")
    kubernetes_version: str | None = Field(None, alias="kubernetesVersion")

    _name = field_validator("name")(_check_name(naming.AKS_CLUSTER))
    _node_subnet_name = field_validator("node_subnet_name")(_check_name(naming.SUBNET))
    _address_space = field_validator("address_space")(_vnet_space)
    _node_subnet_prefix = field_validator("node_subnet_prefix")(_subnet_prefix)
    _service_cidr = field_validator("service_cidr")(_service_cidr)
    _node_count = field_validator("node_count")(_check_range("nodeCount", NODE_COUNT_MIN, NODE_COUNT_MAX))
    _vm_size = field_validator("vm_size")(_check_name(naming.VM_SIZE))

    @field_validator("vnet_name")
    @classmethod
    def _vnet_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(naming.VIRTUAL_NETWORK)(value)

    @field_validator("dns_service_ip")
    @classmethod
    def _dns_service_ip(cls, value: str) -> str:
        return str(cidr.parse_address(value))

    @field_validator("kubernetes_version")
    @classmethod
    def _kubernetes_version(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(naming.KUBERNETES_VERSION)(value)

    @model_validator(mode="after")
    def _default_vnet_name(self) -> AksSpec:
        if self.vnet_name is None:
            self.vnet_name = f"{self.name}{AKS_VNET_NAME_SUFFIX}"
        return self


class AcrSpec(_Strict):
    name: str = Field(alias="name")
    retention_days: int = Field(DEFAULT_RETENTION_DAYS, alias="retentionDays")

    _name = field_validator("name")(_check_name(naming.CONTAINER_REGISTRY))
    _retention_days = field_validator("retention_days")(
        _check_range("retentionDays", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX)
    )


class HopsworksNetworkSpec(_Strict):
    vnet_name: str = Field(DEFAULT_HOPSWORKS_VNET_NAME, alias="vnetName")
    address_space: str = Field(DEFAULT_HOPSWORKS_ADDRESS_SPACE, alias="addressSpace")
    subnet_name: str = Field(DEFAULT_HOPSWORKS_SUBNET_NAME, alias="subnetName")
    subnet_prefix: str = Field(DEFAULT_HOPSWORKS_SUBNET_PREFIX, alias="subnetPrefix")

    _vnet_name = field_validator("vnet_name")(_check_name(naming.VIRTUAL_NETWORK))
    _address_space = field_validator("address_space")(_vnet_space)
    _subnet_name = field_validator("subnet_name")(_check_name(naming.SUBNET))
    _subnet_prefix = field_validator("subnet_prefix")(_subnet_prefix)


class HopsworksSubnetSpec(_Strict):
    name: str = Field(DEFAULT_HOPSWORKS_SUBNET, alias="name")
    prefix: str = Field(DEFAULT_HOPSWORKS_SUBNET_PREFIX_IN_AKS, alias="prefix")

    _name = field_validator("name")(_check_name(naming.SUBNET))
    _prefix = field_validator("prefix")(_subnet_prefix)


class SetupRequest(_Strict):
    subscription_id: str = Field(alias="subscriptionId")
    resource_group: str = Field(alias="resourceGroup")
    location: str | None = Field(None, alias="location")
    topology: Topology = Field(alias="topology")
    identity: IdentitySpec = Field(alias="identity")
    aks: AksSpec = Field(alias="aks")
    acr: AcrSpec = Field(alias="acr")
    hopsworks_network: HopsworksNetworkSpec | None = Field(None, alias="hopsworksNetwork")
    hopsworks_subnet: HopsworksSubnetSpec | None = Field(None, alias="hopsworksSubnet")
    tags: dict[str, str] = Field(default_factory=dict, alias="tags")

    _resource_group = field_validator("resource_group")(_check_name(naming.RESOURCE_GROUP))

    @field_validator("subscription_id")
    @classmethod
    def _subscription_id(cls, value: str) -> str:
        # ARM treats subscription ids case-insensitively; one spelling keeps instance ids and names stable.
        return _check_name(naming.SUBSCRIPTION_ID)(value).lower()

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(naming.LOCATION)(value)

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> SetupRequest:
        # validate_setup_request runs these on the raw input itself (so they are reported next to the
        # field errors); anyone building the model directly still gets them enforced.
        if not (isinstance(info.context, dict) and info.context.get("skip_cross_field_rules")):
            errors = cross_field_errors(self.model_dump(by_alias=True))
            if errors:
                raise ValueError("; ".join(f"{e.field}: {e.message}" for e in errors))
        return self

    # ------------------------------------------------------------ derived values

    @property
    def aks_vnet_name(self) -> str:
        return self.aks.vnet_name or f"{self.aks.name}{AKS_VNET_NAME_SUFFIX}"

    @property
    def instance_id(self) -> str:
        return naming.instance_id(self.subscription_id, self.resource_group, self.aks.name)

    def to_orchestration_dict(self) -> dict[str, Any]:
        """Normalized camelCase JSON with every default filled (the orchestration input's `request`).

        The block the topology does not use is present as null; `location` is null when the caller left it
        to the resource group's location (preflight finds it).
        """
        return self.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------- validation entry point


def validate_setup_request(raw: bytes | str | Mapping[str, Any]) -> SetupRequest | list[FieldError]:
    """The request, or every problem with it. Never raises."""
    try:
        return _validate(raw)
    except Exception:  # noqa: BLE001 - the contract is "never raises"; a bug here must still be a 400
        return [FieldError("body", "could not be validated as a SetupRequest")]


def _validate(raw: bytes | str | Mapping[str, Any]) -> SetupRequest | list[FieldError]:
    data, body_error = _load(raw)
    if body_error:
        return [body_error]
    if not isinstance(data, dict):
        return [FieldError("body", "must be a JSON object (a SetupRequest)")]

    errors: list[FieldError] = []
    model: SetupRequest | None = None
    try:
        model = SetupRequest.model_validate(data, context={"skip_cross_field_rules": True})
    except ValidationError as exc:
        errors.extend(_from_pydantic(exc))
    errors.extend(cross_field_errors(data))
    if errors or model is None:
        return _dedupe(errors) or [FieldError("body", "is not a valid SetupRequest")]
    return model


def _load(raw: object) -> tuple[Any, FieldError | None]:
    if isinstance(raw, Mapping):
        return dict(raw), None
    if isinstance(raw, bytes | bytearray | memoryview):
        raw = bytes(raw)
        if len(raw) > MAX_BODY_BYTES:
            return None, FieldError("body", f"must be at most {MAX_BODY_BYTES} bytes")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, FieldError("body", "must be JSON encoded as UTF-8")
    if not isinstance(raw, str):
        return None, FieldError("body", "must be a JSON object (a SetupRequest)")
    if len(raw) > MAX_BODY_BYTES:
        return None, FieldError("body", f"must be at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return None, FieldError("body", "is empty; send a SetupRequest JSON object")
    try:
        return json.loads(raw, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, FieldError("body", f"is not valid JSON: {exc.msg} at {where}")
    except (ValueError, RecursionError):
        return None, FieldError(
            "body", "is not valid JSON (numbers too large, NaN/Infinity or nesting too deep)"
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[FieldError] = set()
    unique = []
    for error in errors:
        if error not in seen:
            seen.add(error)
            unique.append(error)
    return unique


# ---------------------------------------------------------------- pydantic errors -> FieldError

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "identity": IdentitySpec,
    "aks": AksSpec,
    "acr": AcrSpec,
    "hopsworksNetwork": HopsworksNetworkSpec,
    "hopsworksSubnet": HopsworksSubnetSpec,
}


def _aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _from_pydantic(exc: ValidationError) -> list[FieldError]:
    errors = []
    for item in exc.errors(include_url=False, include_input=False):
        loc = tuple(item.get("loc", ()))
        kind = item.get("type", "")
        msg = str(item.get("msg", "is invalid"))
        if kind == "value_error":
            message = msg.removeprefix("Value error, ")
        elif kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            model = _SECTION_MODELS.get(str(loc[0])) if len(loc) == 2 else SetupRequest
            allowed = ", ".join(_aliases(model)) if model else ""
            message = f"is not a known field; allowed here: {allowed}" if allowed else "is not a known field"
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            message = "must be a JSON object"
        else:
            message = msg.replace("Input should be", "must be", 1)
        if loc and loc[0] == "tags" and len(loc) > 1:
            # Tag keys are user text: name them in the message, not in the dotted path.
            errors.append(FieldError("tags", f"tag {_short(str(loc[1]))}: {message}"))
            continue
        if kind == "extra_forbidden" and loc and not _PLAIN_KEY.fullmatch(str(loc[-1])):
            # An unknown key is user text: when it is not a plain identifier, name it in the message only.
            parent = ".".join(str(part) for part in loc[:-1]) or "body"
            errors.append(FieldError(parent, f"field {_short(str(loc[-1]))} {message}"))
            continue
        field = ".".join(str(part) for part in loc) if loc else "body"
        errors.append(FieldError(field, message))
    return errors


# ---------------------------------------------------------------- cross-field rules on raw input

_ABSENT = object()


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The block as a mapping; {} when absent or null (defaults apply); None when it has the wrong type."""
    value = data.get(key)
    if value is None:
        return {}
    return value if isinstance(value, Mapping) else None


def _text(section: Mapping[str, Any] | None, key: str, default: str | None) -> str | None:
    if section is None:
        return None
    value = section.get(key)
    if value is None:
        return default
    return value if isinstance(value, str) else None


def _network(
    section: Mapping[str, Any] | None, key: str, default: str, largest: int, smallest: int
) -> cidr.IPv4Network | None:
    """The parsed network when the field is valid on its own (its own errors come from phase one)."""
    text = _text(section, key, default)
    if text is None:
        return None
    try:
        network = cidr.parse_cidr(text)
    except cidr.CidrError:
        return None
    return None if cidr.prefix_error(network, largest, smallest) else network


def _int(section: Mapping[str, Any] | None, key: str, default: int) -> int | None:
    if section is None:
        return None
    value = section.get(key, _ABSENT)
    if value is _ABSENT or value is None:
        return default
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cross_field_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Rules that involve more than one field, on a raw (or dumped) request. Never raises on odd input."""
    errors: list[FieldError] = []
    add = errors.append
    topology = data.get("topology")
    aks = _section(data, "aks")

    # --- the block the topology needs present, the other absent
    present = {key: data.get(key) is not None for key in ("hopsworksNetwork", "hopsworksSubnet")}
    needed_block = {"peering": "hopsworksNetwork", "subnet": "hopsworksSubnet"}
    if isinstance(topology, str) and topology in needed_block:
        for block in ("hopsworksNetwork", "hopsworksSubnet"):
            if block == needed_block[topology] and not present[block]:
                add(FieldError(block, f"is required when topology is '{topology}' ({{}} takes the defaults)"))
            elif block != needed_block[topology] and present[block]:
                add(FieldError(block, f"must be absent when topology is '{topology}'"))
    peering = topology == "peering"
    in_aks_subnet = topology == "subnet"
    hops_net = _section(data, "hopsworksNetwork") if peering else None
    hops_subnet = _section(data, "hopsworksSubnet") if in_aks_subnet else None

    # --- names derived from other names
    aks_name = _text(aks, "name", None)
    aks_name_ok = aks_name is not None and naming.AKS_CLUSTER.is_valid(aks_name)
    aks_vnet = _text(aks, "vnetName", f"{aks_name}{AKS_VNET_NAME_SUFFIX}" if aks_name_ok else None)
    if aks is not None and aks.get("vnetName") is None and aks_name_ok and aks_vnet:
        if not naming.VIRTUAL_NETWORK.is_valid(aks_vnet):
            add(FieldError(
                "aks.vnetName",
                f"the default, aks.name + '{AKS_VNET_NAME_SUFFIX}', would break the rule: "
                f"{naming.VIRTUAL_NETWORK.rule}; set aks.vnetName",
            ))
    if peering and hops_net is not None and aks_vnet:
        hops_vnet = _text(hops_net, "vnetName", DEFAULT_HOPSWORKS_VNET_NAME)
        if hops_vnet and hops_vnet.casefold() == aks_vnet.casefold():
            add(FieldError("hopsworksNetwork.vnetName", "must differ from the AKS virtual network's name"))
    if in_aks_subnet and hops_subnet is not None:
        node_subnet = _text(aks, "nodeSubnetName", DEFAULT_AKS_NODE_SUBNET_NAME)
        name = _text(hops_subnet, "name", DEFAULT_HOPSWORKS_SUBNET)
        if name and node_subnet and name.casefold() == node_subnet.casefold():
            add(FieldError("hopsworksSubnet.name", "must differ from aks.nodeSubnetName (same vnet)"))

    resource_group = data.get("resourceGroup")
    location = data.get("location")
    if (
        aks_name_ok
        and isinstance(resource_group, str) and naming.RESOURCE_GROUP.is_valid(resource_group)
        and isinstance(location, str) and naming.LOCATION.is_valid(location)
    ):
        error = naming.node_resource_group_error(resource_group, aks_name, location)
        if error:
            add(FieldError("aks.name", error))

    # --- address ranges
    wide, narrow = cidr.LARGEST_PREFIX, cidr.SMALLEST_PREFIX
    aks_space = _network(aks, "addressSpace", DEFAULT_AKS_ADDRESS_SPACE, wide, narrow)
    node_prefix = _network(aks, "nodeSubnetPrefix", DEFAULT_AKS_NODE_SUBNET_PREFIX, wide, narrow)
    service = _network(
        aks, "serviceCidr", DEFAULT_AKS_SERVICE_CIDR,
        cidr.SERVICE_CIDR_LARGEST_PREFIX, SERVICE_CIDR_SMALLEST_PREFIX,
    )
    hops_space = _network(hops_net, "addressSpace", DEFAULT_HOPSWORKS_ADDRESS_SPACE, wide, narrow)
    hops_prefix = _network(hops_net, "subnetPrefix", DEFAULT_HOPSWORKS_SUBNET_PREFIX, wide, narrow)
    hops_in_aks = _network(hops_subnet, "prefix", DEFAULT_HOPSWORKS_SUBNET_PREFIX_IN_AKS, wide, narrow)

    for field, network in (
        ("aks.addressSpace", aks_space),
        ("aks.serviceCidr", service),
        ("hopsworksNetwork.addressSpace", hops_space),
    ):
        if network is None:
            continue
        for reserved in cidr.reserved_overlaps(network, include_docker_bridge=field == "aks.serviceCidr"):
            add(FieldError(field, f"must not overlap {reserved.network} ({reserved.reason})"))

    if aks_space and node_prefix and not cidr.contains(aks_space, node_prefix):
        add(FieldError("aks.nodeSubnetPrefix", f"must lie inside aks.addressSpace ({aks_space})"))
    node_count = _int(aks, "nodeCount", DEFAULT_AKS_NODE_COUNT)
    if node_prefix and node_count is not None and NODE_COUNT_MIN <= node_count <= NODE_COUNT_MAX:
        needed = (node_count + UPGRADE_SURGE_NODES) * AZURE_CNI_ADDRESSES_PER_NODE
        available = cidr.usable_subnet_addresses(node_prefix)
        if available < needed:
            add(FieldError(
                "aks.nodeSubnetPrefix",
                f"is too small for {node_count} node(s) with Azure CNI: needs {needed} addresses "
                f"({AZURE_CNI_ADDRESSES_PER_NODE} per node, plus one upgrade surge node) but has {available} "
                f"usable (Azure reserves 5 per subnet)",
            ))

    if service and aks_space and cidr.overlaps(service, aks_space):
        add(FieldError("aks.serviceCidr", f"must not overlap aks.addressSpace ({aks_space})"))
    if service and hops_space and cidr.overlaps(service, hops_space):
        add(FieldError("aks.serviceCidr", f"must not overlap hopsworksNetwork.addressSpace ({hops_space})"))

    dns_text = _text(aks, "dnsServiceIp", DEFAULT_AKS_DNS_SERVICE_IP)
    if service and dns_text is not None:
        try:
            dns = cidr.parse_address(dns_text)
        except cidr.CidrError:
            dns = None
        if dns is not None:
            if not cidr.contains_address(service, dns):
                add(FieldError("aks.dnsServiceIp", f"must lie inside aks.serviceCidr ({service})"))
            elif dns == service.network_address:
                add(FieldError("aks.dnsServiceIp", "must not be the network address of aks.serviceCidr"))
            elif dns == service.network_address + 1:
                add(FieldError(
                    "aks.dnsServiceIp",
                    "must not be the first address of aks.serviceCidr (the kubernetes service uses it)",
                ))
            elif dns == service.broadcast_address:
                add(FieldError("aks.dnsServiceIp", "must not be the last address of aks.serviceCidr"))

    if hops_space and aks_space and cidr.overlaps(hops_space, aks_space):
        add(FieldError(
            "hopsworksNetwork.addressSpace",
            f"must not overlap aks.addressSpace ({aks_space}): peered networks need distinct ranges",
        ))
    if hops_space and hops_prefix and not cidr.contains(hops_space, hops_prefix):
        add(FieldError(
            "hopsworksNetwork.subnetPrefix", f"must lie inside hopsworksNetwork.addressSpace ({hops_space})"
        ))

    if hops_in_aks and aks_space and not cidr.contains(aks_space, hops_in_aks):
        add(FieldError("hopsworksSubnet.prefix", f"must lie inside aks.addressSpace ({aks_space})"))
    if hops_in_aks and node_prefix and cidr.overlaps(hops_in_aks, node_prefix):
        add(FieldError("hopsworksSubnet.prefix", f"must not overlap aks.nodeSubnetPrefix ({node_prefix})"))

    errors.extend(_tag_errors(data.get("tags")))
    return errors


def _tag_errors(tags: object) -> list[FieldError]:
    if not isinstance(tags, Mapping):
        return []  # absent, null or the wrong type (phase one says so)
    errors = []
    if len(tags) > naming.MAX_USER_TAGS:
        errors.append(FieldError(
            "tags",
            f"at most {naming.MAX_USER_TAGS} tags: Azure allows {naming.MAX_TAGS_PER_RESOURCE} per resource "
            f"and the setup adds {len(naming.RUN_TAGS)} of its own",
        ))
    seen: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            continue
        key_error = naming.tag_key_error(key)
        if key_error:
            errors.append(FieldError("tags", f"tag {_short(key)}: {key_error}"))
        if isinstance(value, str):
            value_error = naming.tag_value_error(value)
            if value_error:
                errors.append(FieldError("tags", f"tag {_short(key)}: {value_error}"))
        folded = key.casefold()
        if folded in seen:
            errors.append(FieldError(
                "tags",
                f"tag {_short(key)}: tag names are case-insensitive in Azure and {_short(seen[folded])} "
                "is given too",
            ))
        seen[folded] = key
    return errors
