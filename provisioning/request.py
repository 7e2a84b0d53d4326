"""SetupRequest: the body of `POST /api/setups`, its defaults, and its validation.

`validate_setup_request` is the entry point: it never raises and reports every problem at once, each as a
FieldError naming a dotted camelCase path (`aks.serviceCidr`, `hopsworksNetwork`, `body`) and the rule.

Validation has two phases. Pydantic checks the shape, the types and each field's own rule (names, CIDR
syntax, ranges). The cross-field rules (topology blocks, containment, overlaps, reserved ranges, tags), one
function each, then run on the model; when phase one failed, on a model built from the fields that passed
it, so a type error in one block does not hide an overlap in another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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
_M = TypeVar("_M", bound=BaseModel)
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
        # validate_setup_request runs these itself (so they are reported next to the field errors, also
        # when some fields failed); anyone building the model directly still gets them enforced.
        if not (isinstance(info.context, dict) and info.context.get("skip_cross_field_rules")):
            errors = cross_field_errors(self)
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

    try:
        model = SetupRequest.model_validate(data, context={"skip_cross_field_rules": True})
    except ValidationError as exc:
        errors = _from_pydantic(exc) + _partial_cross_field_errors(data, exc)
        return _dedupe(errors) or [FieldError("body", "is not a valid SetupRequest")]
    return _dedupe(cross_field_errors(model)) or model


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


# ---------------------------------------------------------------- cross-field rules, one function per rule
#
# The rules read a _Fields: each field the rules need, parsed, or None where the field broke its own rule
# (phase one reports that) so no rule repeats or guesses at it. A valid model gives every field; a request
# that failed phase one gives the fields that passed, read from a model built as far as it parsed
# (`_partial_model`), with the models' own defaults for fields not given.


@dataclass(frozen=True)
class _Fields:
    """The request as the cross-field rules see it (None: the field failed its own rule, or is not used)."""

    topology: str | None
    blocks_given: frozenset[str]  # "hopsworksNetwork" / "hopsworksSubnet" when given non-null
    resource_group: str | None
    location: str | None
    aks_name: str | None
    aks_vnet_name: str | None  # given, or the default derived from aks.name
    node_subnet_name: str | None
    aks_space: cidr.IPv4Network | None
    node_prefix: cidr.IPv4Network | None
    service_cidr: cidr.IPv4Network | None
    dns_service_ip: cidr.IPv4Address | None
    node_count: int | None
    hopsworks_vnet_name: str | None  # topology peering only
    hopsworks_space: cidr.IPv4Network | None
    hopsworks_subnet_prefix: cidr.IPv4Network | None
    hopsworks_subnet_name: str | None  # topology subnet only
    hopsworks_prefix_in_aks: cidr.IPv4Network | None
    tags: Mapping[Any, Any] | None


_INVALID: Any = object()  # a partial model's value for a field that failed its own rule


def _attr(model: BaseModel | None, name: str) -> Any:
    """The field's value; None when the block is missing, the field failed its own rule, or it is a required
    field that was not given (a partial model leaves those unset)."""
    value = None if model is None else getattr(model, name, None)
    return None if value is _INVALID else value


def _aks_vnet_name(aks: AksSpec | None) -> str | None:
    """aks.vnetName as given, or the default derived from a valid aks.name when it was not given."""
    given = None if aks is None else getattr(aks, "vnet_name", None)
    if given is not None:
        return _attr(aks, "vnet_name")
    name = _attr(aks, "name")
    return f"{name}{AKS_VNET_NAME_SUFFIX}" if name else None


def _net(model: BaseModel | None, name: str) -> cidr.IPv4Network | None:
    value = _attr(model, name)
    return None if value is None else cidr.parse_cidr(value)


def _fields(request: SetupRequest, tags: Mapping[Any, Any] | None) -> _Fields:
    """The rules' view of `request`: a validated model, or a partial one (`_partial_model`)."""
    aks: AksSpec | None = _attr(request, "aks")
    dns = _attr(aks, "dns_service_ip")
    network = _topology_block(request, "peering", "hopsworks_network", HopsworksNetworkSpec)
    subnet = _topology_block(request, "subnet", "hopsworks_subnet", HopsworksSubnetSpec)
    return _Fields(
        topology=_attr(request, "topology"),
        blocks_given=frozenset(
            alias for alias, name in _BLOCKS.items() if getattr(request, name, None) is not None
        ),
        resource_group=_attr(request, "resource_group"),
        location=_attr(request, "location"),
        aks_name=_attr(aks, "name"),
        aks_vnet_name=_aks_vnet_name(aks),
        node_subnet_name=_attr(aks, "node_subnet_name"),
        aks_space=_net(aks, "address_space"),
        node_prefix=_net(aks, "node_subnet_prefix"),
        service_cidr=_net(aks, "service_cidr"),
        dns_service_ip=None if dns is None else cidr.parse_address(dns),
        node_count=_attr(aks, "node_count"),
        hopsworks_vnet_name=_attr(network, "vnet_name"),
        hopsworks_space=_net(network, "address_space"),
        hopsworks_subnet_prefix=_net(network, "subnet_prefix"),
        hopsworks_subnet_name=_attr(subnet, "name"),
        hopsworks_prefix_in_aks=_net(subnet, "prefix"),
        tags=tags,
    )


_BLOCKS = {"hopsworksNetwork": "hopsworks_network", "hopsworksSubnet": "hopsworks_subnet"}
_BLOCK_OF_TOPOLOGY = {"peering": "hopsworksNetwork", "subnet": "hopsworksSubnet"}


def _topology_block(
    request: SetupRequest, topology: str, name: str, spec: type[BaseModel]
) -> BaseModel | None:
    """The block `topology` uses, with its defaults when it was left out (its absence is a rule of its own);
    None for the other topology."""
    block = getattr(request, name, None)
    if _attr(request, "topology") != topology or block is _INVALID:
        return None
    return spec() if block is None else block


def _partial_model(data: Mapping[str, Any], exc: ValidationError) -> SetupRequest:
    """A SetupRequest built from `data` without validation, from the fields that passed phase one: a field
    or block that failed is _INVALID, a field not given (or null) has the model's default. Tags are left to
    the caller."""
    failed_top: set[str] = set()
    failed_in: dict[str, set[str]] = {}
    for item in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in item.get("loc", ())]
        if len(loc) == 1:
            failed_top.add(loc[0])
        elif len(loc) > 1:
            failed_in.setdefault(loc[0], set()).add(loc[1])
    blocks = {
        alias: _partial_block(model, data.get(alias), failed_in.get(alias, set()), alias in failed_top)
        for alias, model in _SECTION_MODELS.items()
        if not (alias in _BLOCKS and data.get(alias) is None)  # an optional block left out stays None
    }
    top = {key: value for key, value in data.items() if key not in _SECTION_MODELS and key != "tags"}
    return _construct(SetupRequest, top, failed_top | {"tags"}, blocks)


def _partial_block(model: type[BaseModel], raw: object, failed: set[str], block_failed: bool) -> Any:
    """The block as far as it parsed: defaults when absent or null; _INVALID when the block itself failed
    (not an object, or a key that is not text: pydantic then names no field inside it, checked or not)."""
    if raw is None:
        raw = {}
    elif block_failed or not isinstance(raw, Mapping):
        return _INVALID  # given, so the topology rule still sees it; no field of it can be read
    return _construct(model, raw, failed, {})


def _construct(model: type[_M], raw: Mapping[str, Any], failed: set[str], blocks: Mapping[str, Any]) -> _M:
    values: dict[str, Any] = {}
    for alias in _aliases(model):
        if alias in blocks:
            values[alias] = blocks[alias]
        elif alias in failed:
            values[alias] = _INVALID  # no rule may read it, and no default may stand in for it
        elif raw.get(alias) is not None:
            values[alias] = raw[alias]
    return model.model_construct(**values)


# ---- the rules, in the order their errors are reported

Rule = Callable[["_Fields"], Iterator[FieldError]]


def _topology_blocks(f: _Fields) -> Iterator[FieldError]:
    """The block the topology needs is present, the other absent."""
    needed = _BLOCK_OF_TOPOLOGY.get(f.topology or "")
    for block in _BLOCKS if needed else ():
        if block == needed and block not in f.blocks_given:
            yield FieldError(block, f"is required when topology is '{f.topology}' ({{}} takes the defaults)")
        elif block != needed and block in f.blocks_given:
            yield FieldError(block, f"must be absent when topology is '{f.topology}'")


def _default_aks_vnet_name_is_valid(f: _Fields) -> Iterator[FieldError]:
    # A given vnetName passed its own rule already; only the default, derived from aks.name, can break it.
    if f.aks_vnet_name is not None and not naming.VIRTUAL_NETWORK.is_valid(f.aks_vnet_name):
        yield FieldError(
            "aks.vnetName",
            f"the default, aks.name + '{AKS_VNET_NAME_SUFFIX}', would break the rule: "
            f"{naming.VIRTUAL_NETWORK.rule}; set aks.vnetName",
        )


def _hopsworks_vnet_differs_from_aks_vnet(f: _Fields) -> Iterator[FieldError]:
    if _same_name(f.hopsworks_vnet_name, f.aks_vnet_name):
        yield FieldError("hopsworksNetwork.vnetName", "must differ from the AKS virtual network's name")


def _hopsworks_subnet_differs_from_node_subnet(f: _Fields) -> Iterator[FieldError]:
    if _same_name(f.hopsworks_subnet_name, f.node_subnet_name):
        yield FieldError("hopsworksSubnet.name", "must differ from aks.nodeSubnetName (same vnet)")


def _same_name(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.casefold() == b.casefold())  # Azure names are case-insensitive


def _node_resource_group_name_fits(f: _Fields) -> Iterator[FieldError]:
    # Without a location the group's location decides, known in preflight only.
    if f.aks_name and f.resource_group and f.location:
        error = naming.node_resource_group_error(f.resource_group, f.aks_name, f.location)
        if error:
            yield FieldError("aks.name", error)


def _ranges_avoid_reserved(f: _Fields) -> Iterator[FieldError]:
    for field, network in (
        ("aks.addressSpace", f.aks_space),
        ("aks.serviceCidr", f.service_cidr),
        ("hopsworksNetwork.addressSpace", f.hopsworks_space),
    ):
        if network is None:
            continue
        for reserved in cidr.reserved_overlaps(network, include_docker_bridge=field == "aks.serviceCidr"):
            yield FieldError(field, f"must not overlap {reserved.network} ({reserved.reason})")


def _node_subnet_inside_aks_vnet(f: _Fields) -> Iterator[FieldError]:
    if f.aks_space and f.node_prefix and not cidr.contains(f.aks_space, f.node_prefix):
        yield FieldError("aks.nodeSubnetPrefix", f"must lie inside aks.addressSpace ({f.aks_space})")


def _node_subnet_holds_the_nodes(f: _Fields) -> Iterator[FieldError]:
    if f.node_prefix is None or f.node_count is None:
        return
    needed = (f.node_count + UPGRADE_SURGE_NODES) * AZURE_CNI_ADDRESSES_PER_NODE
    available = cidr.usable_subnet_addresses(f.node_prefix)
    if available < needed:
        yield FieldError(
            "aks.nodeSubnetPrefix",
            f"is too small for {f.node_count} node(s) with Azure CNI: needs {needed} addresses "
            f"({AZURE_CNI_ADDRESSES_PER_NODE} per node, plus one upgrade surge node) but has {available} "
            f"usable (Azure reserves 5 per subnet)",
        )


def _service_cidr_clear_of_the_vnets(f: _Fields) -> Iterator[FieldError]:
    vnets = (("aks.addressSpace", f.aks_space), ("hopsworksNetwork.addressSpace", f.hopsworks_space))
    for name, space in vnets:
        if f.service_cidr and space and cidr.overlaps(f.service_cidr, space):
            yield FieldError("aks.serviceCidr", f"must not overlap {name} ({space})")


def _dns_service_ip_usable_in_service_cidr(f: _Fields) -> Iterator[FieldError]:
    service, dns = f.service_cidr, f.dns_service_ip
    if service is None or dns is None:
        return
    if not cidr.contains_address(service, dns):
        yield FieldError("aks.dnsServiceIp", f"must lie inside aks.serviceCidr ({service})")
    elif dns == service.network_address:
        yield FieldError("aks.dnsServiceIp", "must not be the network address of aks.serviceCidr")
    elif dns == service.network_address + 1:
        yield FieldError(
            "aks.dnsServiceIp",
            "must not be the first address of aks.serviceCidr (the kubernetes service uses it)",
        )
    elif dns == service.broadcast_address:
        yield FieldError("aks.dnsServiceIp", "must not be the last address of aks.serviceCidr")


def _hopsworks_vnet_clear_of_aks_vnet(f: _Fields) -> Iterator[FieldError]:
    if f.hopsworks_space and f.aks_space and cidr.overlaps(f.hopsworks_space, f.aks_space):
        yield FieldError(
            "hopsworksNetwork.addressSpace",
            f"must not overlap aks.addressSpace ({f.aks_space}): peered networks need distinct ranges",
        )


def _hopsworks_subnet_inside_its_vnet(f: _Fields) -> Iterator[FieldError]:
    space, prefix = f.hopsworks_space, f.hopsworks_subnet_prefix
    if space and prefix and not cidr.contains(space, prefix):
        yield FieldError(
            "hopsworksNetwork.subnetPrefix", f"must lie inside hopsworksNetwork.addressSpace ({space})"
        )


def _hopsworks_subnet_inside_aks_vnet(f: _Fields) -> Iterator[FieldError]:
    prefix = f.hopsworks_prefix_in_aks
    if prefix and f.aks_space and not cidr.contains(f.aks_space, prefix):
        yield FieldError("hopsworksSubnet.prefix", f"must lie inside aks.addressSpace ({f.aks_space})")


def _hopsworks_subnet_clear_of_node_subnet(f: _Fields) -> Iterator[FieldError]:
    prefix = f.hopsworks_prefix_in_aks
    if prefix and f.node_prefix and cidr.overlaps(prefix, f.node_prefix):
        yield FieldError("hopsworksSubnet.prefix", f"must not overlap aks.nodeSubnetPrefix ({f.node_prefix})")


def _tag_rules(f: _Fields) -> Iterator[FieldError]:
    yield from _tag_errors(f.tags)


CROSS_FIELD_RULES: tuple[Rule, ...] = (
    _topology_blocks,
    _default_aks_vnet_name_is_valid,
    _hopsworks_vnet_differs_from_aks_vnet,
    _hopsworks_subnet_differs_from_node_subnet,
    _node_resource_group_name_fits,
    _ranges_avoid_reserved,
    _node_subnet_inside_aks_vnet,
    _node_subnet_holds_the_nodes,
    _service_cidr_clear_of_the_vnets,
    _dns_service_ip_usable_in_service_cidr,
    _hopsworks_vnet_clear_of_aks_vnet,
    _hopsworks_subnet_inside_its_vnet,
    _hopsworks_subnet_inside_aks_vnet,
    _hopsworks_subnet_clear_of_node_subnet,
    _tag_rules,
)


def _apply_rules(fields: _Fields) -> list[FieldError]:
    return [error for rule in CROSS_FIELD_RULES for error in rule(fields)]


def cross_field_errors(request: SetupRequest) -> list[FieldError]:
    """The rules that involve more than one field, on a model whose fields each passed their own rule."""
    return _apply_rules(_fields(request, request.tags))


def _partial_cross_field_errors(data: Mapping[str, Any], exc: ValidationError) -> list[FieldError]:
    """The same rules on a request that failed phase one, over the fields that passed it. Tags are read
    as given: a tag whose value has the wrong type must not hide a bad key in another tag."""
    tags = data.get("tags")
    tags = tags if isinstance(tags, Mapping) else None
    if any(not item.get("loc") for item in exc.errors(include_url=False, include_input=False)):
        return _tag_errors(tags)  # the body itself failed (a key that is not text): no field to trust
    return _apply_rules(_fields(_partial_model(data, exc), tags))


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
