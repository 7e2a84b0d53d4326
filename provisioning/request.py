"""SetupRequest: the body of `POST /api/setups`, its defaults, and its validation.

`validate_setup_request` is the entry point: it never raises and reports every problem at once, each as a
FieldError naming a dotted camelCase path (`aks.serviceCidr`, `hopsworksNetwork`, `body`) and the rule.

Validation has two phases. Pydantic checks the shape, the types and each field's own rule (names, CIDR
syntax, ranges). The cross-field rules (topology blocks, containment, overlaps, reserved ranges, tags), one
function each, then run on the model; when phase one failed, on the fields that passed it, so a type error
in one block does not hide an overlap in another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from provisioning import cidr, naming

MAX_BODY_BYTES = 1024 * 1024
AKS_VNET_NAME_SUFFIX = "-vnet"  # default aks.vnetName is "<aks.name>-vnet"

# ---------------------------------------------------------------- bounds

NODE_COUNT_MIN, NODE_COUNT_MAX = 1, 1000
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 0, 365
# Azure CNI (no overlay) gives every pod a vnet address: default maxPods 30, plus the node's own address.
AZURE_CNI_ADDRESSES_PER_NODE = 31
UPGRADE_SURGE_NODES = 1
SERVICE_CIDR_SMALLEST_PREFIX = 26


@dataclass(frozen=True)
class FieldError:
    """One problem with a request: the dotted camelCase path of the field and the rule it breaks."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


# ---------------------------------------------------------------- field rules (the models' field types)


def _checked(error_of: Callable[[Any], str | None]) -> AfterValidator:
    def check(value: Any) -> Any:
        error = error_of(value)
        if error:
            raise ValueError(error)
        return value

    return AfterValidator(check)


def _network(largest: int, smallest: int) -> AfterValidator:
    def check(value: str) -> str:
        network = cidr.parse_cidr(value)
        error = cidr.prefix_error(network, largest, smallest)
        if error:
            raise ValueError(error)
        return str(network)

    return AfterValidator(check)


def _in_range(name: str, low: int, high: int) -> AfterValidator:
    rule = f"{name} must be an integer from {low} to {high}"
    return _checked(lambda value: None if low <= value <= high else rule)


ResourceGroupName = Annotated[str, _checked(naming.RESOURCE_GROUP.error)]
# ARM treats subscription ids case-insensitively; one spelling keeps instance ids and names stable.
SubscriptionId = Annotated[str, _checked(naming.SUBSCRIPTION_ID.error), AfterValidator(str.lower)]
Location = Annotated[str, _checked(naming.LOCATION.error)]
IdentityName = Annotated[str, _checked(naming.IDENTITY.error)]
AksClusterName = Annotated[str, _checked(naming.AKS_CLUSTER.error)]
RegistryName = Annotated[str, _checked(naming.CONTAINER_REGISTRY.error)]
VnetName = Annotated[str, _checked(naming.VIRTUAL_NETWORK.error)]
SubnetName = Annotated[str, _checked(naming.SUBNET.error)]
VmSize = Annotated[str, _checked(naming.VM_SIZE.error)]
KubernetesVersion = Annotated[str, _checked(naming.KUBERNETES_VERSION.error)]
Cidr = Annotated[str, _network(cidr.LARGEST_PREFIX, cidr.SMALLEST_PREFIX)]
ServiceCidr = Annotated[str, _network(cidr.SERVICE_CIDR_LARGEST_PREFIX, SERVICE_CIDR_SMALLEST_PREFIX)]
IPv4Text = Annotated[str, AfterValidator(lambda value: str(cidr.parse_address(value)))]
NodeCount = Annotated[int, _in_range("nodeCount", NODE_COUNT_MIN, NODE_COUNT_MAX)]
RetentionDays = Annotated[int, _in_range("retentionDays", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX)]
Topology = Literal["peering", "subnet"]
RoleScope = Literal["resourceGroup", "subscription"]


class _Strict(BaseModel):
    # Input only by camelCase alias; no coercion ("5" is not 5, true is not 1); unknown fields rejected.
    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", strict=True, validate_by_alias=True, validate_by_name=False
    )


class IdentitySpec(_Strict):
    name: IdentityName
    role_scope: RoleScope = "resourceGroup"


class AksSpec(_Strict):
    name: AksClusterName
    vnet_name: VnetName | None = None
    address_space: Cidr = "10.240.0.0/16"
    node_subnet_name: SubnetName = "aks-nodes"
    node_subnet_prefix: Cidr = "10.240.0.0/20"
    service_cidr: ServiceCidr = "10.0.0.0/16"
    dns_service_ip: IPv4Text = "10.0.0.10"
    node_count: NodeCount = 1
    vm_size: VmSize = "Standard_D4s_v5"
    kubernetes_version: KubernetesVersion | None = None

    @model_validator(mode="after")
    def _default_vnet_name(self) -> AksSpec:
        if self.vnet_name is None:
            self.vnet_name = f"{self.name}{AKS_VNET_NAME_SUFFIX}"
        return self


class AcrSpec(_Strict):
    name: RegistryName
    retention_days: RetentionDays = 7  # the guide's


class HopsworksNetworkSpec(_Strict):
    vnet_name: VnetName = "hopsworks-vnet"
    address_space: Cidr = "172.18.0.0/16"  # the guide's
    subnet_name: SubnetName = "default"
    subnet_prefix: Cidr = "172.18.0.0/24"


class HopsworksSubnetSpec(_Strict):
    name: SubnetName = "hopsworks"
    prefix: Cidr = "10.240.16.0/24"


class SetupRequest(_Strict):
    subscription_id: SubscriptionId
    resource_group: ResourceGroupName
    location: Location | None = None
    topology: Topology
    identity: IdentitySpec
    aks: AksSpec
    acr: AcrSpec
    hopsworks_network: HopsworksNetworkSpec | None = None
    hopsworks_subnet: HopsworksSubnetSpec | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> SetupRequest:
        # validate_setup_request runs these itself (so they are reported next to the field errors, also
        # when some fields failed); anyone building the model directly still gets them enforced.
        if not (isinstance(info.context, dict) and info.context.get("skip_cross_field_rules")):
            errors = cross_field_errors(self)
            if errors:
                raise ValueError("; ".join(f"{e.field}: {e.message}" for e in errors))
        return self

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
    try:
        data = _load(raw)
    except _BadBody as exc:
        return [FieldError("body", str(exc))]
    try:
        model = SetupRequest.model_validate(data, context={"skip_cross_field_rules": True})
    except ValidationError as exc:
        errors = _from_pydantic(exc) + _partial_cross_field_errors(data, exc)
        return list(dict.fromkeys(errors)) or [FieldError("body", "is not a valid SetupRequest")]
    return list(dict.fromkeys(cross_field_errors(model))) or model


class _BadBody(ValueError):
    """The body is not a JSON object; the message says why."""


def _load(raw: object) -> dict[str, Any]:
    if isinstance(raw, bytes | bytearray | memoryview):
        raw = bytes(raw)
        if len(raw) > MAX_BODY_BYTES:
            raise _BadBody(f"must be at most {MAX_BODY_BYTES} bytes")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _BadBody("must be JSON encoded as UTF-8") from None
    if isinstance(raw, str):
        if len(raw) > MAX_BODY_BYTES:
            raise _BadBody(f"must be at most {MAX_BODY_BYTES} bytes")
        if not raw.strip():
            raise _BadBody("is empty; send a SetupRequest JSON object")
        try:
            raw = json.loads(raw, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise _BadBody(f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (ValueError, RecursionError):
            raise _BadBody(
                "is not valid JSON (numbers too large, NaN/Infinity or nesting too deep)"
            ) from None
    if not isinstance(raw, Mapping):
        raise _BadBody("must be a JSON object (a SetupRequest)")
    return dict(raw)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# ---------------------------------------------------------------- pydantic errors -> FieldError

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "identity": IdentitySpec,
    "aks": AksSpec,
    "acr": AcrSpec,
    "hopsworksNetwork": HopsworksNetworkSpec,
    "hopsworksSubnet": HopsworksSubnetSpec,
}
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_OWN_WORDS = {  # pydantic error types the API words itself
    "missing": "is required",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _message(kind: str, loc: tuple[Any, ...], msg: str) -> str:
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        model = _SECTION_MODELS.get(str(loc[0])) if len(loc) == 2 else SetupRequest
        if not model:
            return "is not a known field"
        allowed = ", ".join(field.alias or name for name, field in model.model_fields.items())
        return f"is not a known field; allowed here: {allowed}"
    return _OWN_WORDS.get(kind) or msg.replace("Input should be", "must be", 1)


def _from_pydantic(exc: ValidationError) -> list[FieldError]:
    errors = []
    for item in exc.errors(include_url=False, include_input=False):
        loc = tuple(item.get("loc", ()))
        kind = item.get("type", "")
        message = _message(kind, loc, str(item.get("msg", "is invalid")))
        if loc and loc[0] == "tags" and len(loc) > 1:
            # Tag keys are user text: name them in the message, not in the dotted path.
            errors.append(FieldError("tags", f"tag {_short(str(loc[1]))}: {message}"))
        elif kind == "extra_forbidden" and loc and not _PLAIN_KEY.fullmatch(str(loc[-1])):
            # An unknown key is user text: when it is not a plain identifier, name it in the message only.
            parent = ".".join(str(part) for part in loc[:-1]) or "body"
            errors.append(FieldError(parent, f"field {_short(str(loc[-1]))} {message}"))
        else:
            errors.append(FieldError(".".join(str(part) for part in loc) if loc else "body", message))
    return errors


# ---------------------------------------------------------------- cross-field rules, one function per rule
#
# The rules read the request by the dotted camelCase paths their errors name (`_view`): each field as given
# or its model's default, and None where the field broke its own rule (phase one reports that) so no rule
# repeats or guesses at it. A valid model gives every field; a request that failed phase one gives the fields
# that passed.

View = Mapping[str, Any]
Rule = Callable[[View], Iterator[FieldError]]
_BLOCK_OF_TOPOLOGY = {"peering": "hopsworksNetwork", "subnet": "hopsworksSubnet"}
_TOP_LEVEL_FIELDS = ("topology", "resourceGroup", "location")
# The fields the rules compare as ranges and addresses, parsed once (each passed its own rule).
_PARSED: dict[str, Callable[[str], Any]] = {
    "aks.addressSpace": cidr.parse_cidr, "aks.nodeSubnetPrefix": cidr.parse_cidr,
    "aks.serviceCidr": cidr.parse_cidr, "aks.dnsServiceIp": cidr.parse_address,
    "hopsworksNetwork.addressSpace": cidr.parse_cidr, "hopsworksNetwork.subnetPrefix": cidr.parse_cidr,
    "hopsworksSubnet.prefix": cidr.parse_cidr,
}


def _view(data: Mapping[str, Any], failed: Set[tuple[str, ...]] = frozenset()) -> dict[str, Any]:
    """`data` (the request as given, or a valid model's dump) as the rules read it; `failed`: the locs of
    phase one's errors. The block the topology uses takes its defaults also when left out (its absence is a
    rule of its own); a block that failed itself (not an object, or a key that is not text: pydantic then
    names no field inside it, checked or not) gives no fields."""
    view = {key: None if (key,) in failed else data.get(key) for key in _TOP_LEVEL_FIELDS}
    view.update({key: data.get(key) for key in ("tags", *_BLOCK_OF_TOPOLOGY.values())})
    for alias in filter(None, ("aks", _BLOCK_OF_TOPOLOGY.get(view["topology"]))):
        block = data.get(alias)
        if block is None:
            block = {}
        elif (alias,) in failed or not isinstance(block, Mapping):
            continue
        for field in _SECTION_MODELS[alias].model_fields.values():
            path, value = f"{alias}.{field.alias}", block.get(field.alias)
            if (alias, field.alias) in failed:
                value = None
            elif value is None:
                value = None if field.is_required() else field.default
            if value is not None and path in _PARSED:
                value = _PARSED[path](value)
            view[path] = value
    if view.get("aks.vnetName") is None and ("aks", "vnetName") not in failed and view.get("aks.name"):
        view["aks.vnetName"] = f"{view['aks.name']}{AKS_VNET_NAME_SUFFIX}"  # the default
    return view


# ---- the rules, in the order their errors are reported


def _topology_blocks(f: View) -> Iterator[FieldError]:
    """The block the topology needs is present, the other absent."""
    topology = f["topology"]
    needed = _BLOCK_OF_TOPOLOGY.get(topology or "")
    for block in _BLOCK_OF_TOPOLOGY.values() if needed else ():
        if block == needed and f[block] is None:
            yield FieldError(block, f"is required when topology is '{topology}' ({{}} takes the defaults)")
        elif block != needed and f[block] is not None:
            yield FieldError(block, f"must be absent when topology is '{topology}'")


def _default_aks_vnet_name_is_valid(f: View) -> Iterator[FieldError]:
    # A given vnetName passed its own rule already; only the default, derived from aks.name, can break it.
    vnet = f.get("aks.vnetName")
    if vnet is not None and not naming.VIRTUAL_NETWORK.is_valid(vnet):
        yield FieldError(
            "aks.vnetName",
            f"the default, aks.name + '{AKS_VNET_NAME_SUFFIX}', would break the rule: "
            f"{naming.VIRTUAL_NETWORK.rule}; set aks.vnetName",
        )


def _hopsworks_vnet_differs_from_aks_vnet(f: View) -> Iterator[FieldError]:
    if _same_name(f.get("hopsworksNetwork.vnetName"), f.get("aks.vnetName")):
        yield FieldError("hopsworksNetwork.vnetName", "must differ from the AKS virtual network's name")


def _hopsworks_subnet_differs_from_node_subnet(f: View) -> Iterator[FieldError]:
    if _same_name(f.get("hopsworksSubnet.name"), f.get("aks.nodeSubnetName")):
        yield FieldError("hopsworksSubnet.name", "must differ from aks.nodeSubnetName (same vnet)")


def _same_name(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.casefold() == b.casefold())  # Azure names are case-insensitive


def _inside(f: View, inner: str, outer: str) -> Iterator[FieldError]:
    if f.get(inner) and f.get(outer) and not cidr.contains(f[outer], f[inner]):
        yield FieldError(inner, f"must lie inside {outer} ({f[outer]})")


def _clear_of(f: View, field: str, other: str, why: str = "") -> Iterator[FieldError]:
    if f.get(field) and f.get(other) and cidr.overlaps(f[field], f[other]):
        yield FieldError(field, f"must not overlap {other} ({f[other]}){why}")


def _node_resource_group_name_fits(f: View) -> Iterator[FieldError]:
    # Without a location the group's location decides, known in preflight only.
    if f.get("aks.name") and f["resourceGroup"] and f["location"]:
        error = naming.node_resource_group_error(f["resourceGroup"], f["aks.name"], f["location"])
        if error:
            yield FieldError("aks.name", error)


def _ranges_avoid_reserved(f: View) -> Iterator[FieldError]:
    for field in ("aks.addressSpace", "aks.serviceCidr", "hopsworksNetwork.addressSpace"):
        network = f.get(field)
        if network is None:
            continue
        for reserved in cidr.reserved_overlaps(network, include_docker_bridge=field == "aks.serviceCidr"):
            yield FieldError(field, f"must not overlap {reserved.network} ({reserved.reason})")


def _node_subnet_inside_aks_vnet(f: View) -> Iterator[FieldError]:
    return _inside(f, "aks.nodeSubnetPrefix", "aks.addressSpace")


def _node_subnet_holds_the_nodes(f: View) -> Iterator[FieldError]:
    prefix, count = f.get("aks.nodeSubnetPrefix"), f.get("aks.nodeCount")
    if prefix is None or count is None:
        return
    needed = (count + UPGRADE_SURGE_NODES) * AZURE_CNI_ADDRESSES_PER_NODE
    available = cidr.usable_subnet_addresses(prefix)
    if available < needed:
        yield FieldError(
            "aks.nodeSubnetPrefix",
            f"is too small for {count} node(s) with Azure CNI: needs {needed} addresses "
            f"({AZURE_CNI_ADDRESSES_PER_NODE} per node, plus one upgrade surge node) but has {available} "
            f"usable (Azure reserves 5 per subnet)",
        )


def _service_cidr_clear_of_the_vnets(f: View) -> Iterator[FieldError]:
    yield from _clear_of(f, "aks.serviceCidr", "aks.addressSpace")
    yield from _clear_of(f, "aks.serviceCidr", "hopsworksNetwork.addressSpace")


def _dns_service_ip_usable_in_service_cidr(f: View) -> Iterator[FieldError]:
    service, dns = f.get("aks.serviceCidr"), f.get("aks.dnsServiceIp")
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


def _hopsworks_vnet_clear_of_aks_vnet(f: View) -> Iterator[FieldError]:
    why = ": peered networks need distinct ranges"
    return _clear_of(f, "hopsworksNetwork.addressSpace", "aks.addressSpace", why)


def _hopsworks_subnet_inside_its_vnet(f: View) -> Iterator[FieldError]:
    return _inside(f, "hopsworksNetwork.subnetPrefix", "hopsworksNetwork.addressSpace")


def _hopsworks_subnet_inside_aks_vnet(f: View) -> Iterator[FieldError]:
    return _inside(f, "hopsworksSubnet.prefix", "aks.addressSpace")


def _hopsworks_subnet_clear_of_node_subnet(f: View) -> Iterator[FieldError]:
    return _clear_of(f, "hopsworksSubnet.prefix", "aks.nodeSubnetPrefix")


def _tag_rules(f: View) -> Iterator[FieldError]:
    tags = f["tags"]
    if not isinstance(tags, Mapping):
        return  # absent, null or the wrong type (phase one says so)
    if len(tags) > naming.MAX_USER_TAGS:
        yield FieldError(
            "tags",
            f"at most {naming.MAX_USER_TAGS} tags: Azure allows {naming.MAX_TAGS_PER_RESOURCE} per resource "
            f"and the setup adds {len(naming.RUN_TAGS)} of its own",
        )
    seen: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            continue
        value_error = naming.tag_value_error(value) if isinstance(value, str) else None
        for error in (naming.tag_key_error(key), value_error):
            if error:
                yield FieldError("tags", f"tag {_short(key)}: {error}")
        folded = key.casefold()
        if folded in seen:
            yield FieldError(
                "tags",
                f"tag {_short(key)}: tag names are case-insensitive in Azure and {_short(seen[folded])} "
                "is given too",
            )
        seen[folded] = key


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


def _apply_rules(view: View) -> list[FieldError]:
    return [error for rule in CROSS_FIELD_RULES for error in rule(view)]


def cross_field_errors(request: SetupRequest) -> list[FieldError]:
    """The rules that involve more than one field, on a model whose fields each passed their own rule."""
    return _apply_rules(_view(request.model_dump(by_alias=True)))


def _partial_cross_field_errors(data: Mapping[str, Any], exc: ValidationError) -> list[FieldError]:
    """The same rules on a request that failed phase one, over the fields that passed it. Tags are read
    as given: a tag whose value has the wrong type must not hide a bad key in another tag."""
    failed = {tuple(str(part) for part in item["loc"][:2]) for item in exc.errors(include_url=False)}
    if () in failed:
        return list(_tag_rules({"tags": data.get("tags")}))  # the body itself failed (a key that is not text)
    return _apply_rules(_view(data, failed))
