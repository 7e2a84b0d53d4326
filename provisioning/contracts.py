"""The Durable boundary: one typed contract per activity input and output, and per chain input and result.

Everything that crosses the boundary (orchestration input, activity inputs, activity results, chain results)
is JSON with camelCase keys (docs/DESIGN.md, "Activity contract"). Each shape here is a frozen dataclass
with an explicit `to_dict()` (the wire form) and `from_dict()` (which rejects an unknown key or a missing
required one, naming it): a wrong key fails where it is made, not in Azure.

Each input names its activity (`provisioning.function_names`, the constants the registrations use), so a
caller cannot name a function that is not registered.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

from provisioning import function_names as fn

CREATED = "created"
EXISTING = "existing"
ACTIVITY_CRASHED = "ActivityCrashed"


class ContractError(ValueError):
    """A dict that does not fit a contract: the message names the contract, the key and the rule."""


# ---------------------------------------------------------------- the wire mechanics


def wire_name(python_name: str) -> str:
    """`node_subnet_id` -> `nodeSubnetId`."""
    head, *rest = python_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


W = TypeVar("W", bound="Wire")


class Wire:
    """Base of every contract: camelCase JSON out, strict camelCase JSON in."""

    # Fields left off the wire while they hold their default (a key that only some answers carry).
    SPARSE: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {wire_name(f.name): _dump(getattr(self, f.name)) for f in fields
                if f.name not in self.SPARSE or getattr(self, f.name) != f.default}

    @classmethod
    def from_dict(cls: type[W], data: Any, where: str | None = None) -> W:
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            raise ContractError(f"{where}: must be a JSON object, not {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {wire_name(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ContractError(f"{where}: unknown field '{unknown[0]}' (known: {', '.join(sorted(fields))})")
        values: dict[str, Any] = {}
        for key, spec in fields.items():
            if key not in data:
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                    raise ContractError(f"{where}: missing field '{key}'")
                continue
            values[spec.name] = _load(hints[spec.name], data[key], f"{where}.{key}")
        return cls(**values)


def _dump(value: Any) -> Any:
    if isinstance(value, Wire):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _load(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _load(inner, value, where)
    if isinstance(hint, type) and issubclass(hint, Wire):
        return hint.from_dict(value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ContractError(f"{where}: must be a list, not {type(value).__name__}")
        (item,) = typing.get_args(hint)
        return [_load(item, entry, f"{where}[{index}]") for index, entry in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ContractError(f"{where}: must be an object, not {type(value).__name__}")
        return dict(value)
    if hint is Any:
        return value
    return _scalar(hint, value, where)


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ContractError(f"{where}: must be an integer, not a boolean")
    if not isinstance(value, hint):
        raise ContractError(f"{where}: must be {hint.__name__}, not {type(value).__name__}")
    return value


# ---------------------------------------------------------------- orchestration input


@dataclass(frozen=True, kw_only=True)
class Timing(Wire):
    """The orchestrator's timing settings (the starter puts them in the orchestration input)."""

    poll_interval_seconds: float = 5
    retry_first_seconds: float = 5
    retry_max_seconds: float = 120
    retry_max_attempts: int = 8
    cluster_timeout_seconds: float = 3600


@dataclass(frozen=True, kw_only=True)
class SetupInput(Wire):
    """`{"request": normalized SetupRequest (camelCase), "timing": Timing}`."""

    request: dict[str, Any]
    timing: Timing = field(default_factory=Timing)


# ---------------------------------------------------------------- what every activity answers


@dataclass(frozen=True, kw_only=True)
class ResourceRef(Wire):
    """A resource an activity made (`created`: this run's, rolled back on failure) or found (`existing`)."""

    id: str
    type: str
    action: str


@dataclass(frozen=True, kw_only=True)
class Problem(Wire):
    """One problem preflight found: code, the resource or field it concerns, the rule."""

    code: str
    target: str
    message: str


@dataclass(frozen=True, kw_only=True)
class ActivityError(Wire):
    SPARSE: ClassVar[frozenset[str]] = frozenset({"problems", "resource_id", "provisioning_state"})
    code: str
    message: str = ""
    status: int | None = None
    transient: bool = False
    problems: list[Problem] | None = None  # preflight's every problem (PreflightFailed)
    # The resource the error is about (ResourceFailedState; a Failed cluster from get_aks_cluster) and its
    # provisioningState (get_aks_cluster: Failed/Canceled, transient when begin_aks_cluster may PUT it again).
    resource_id: str | None = None
    provisioning_state: str | None = None


OutputT = TypeVar("OutputT", bound=Wire)


@dataclass(frozen=True, kw_only=True)
class ActivityResult(Wire):
    """`{"ok": true, "resources": [...], "outputs": {...}}` or `{"ok": false, "error": {...}, "resources"?}`.

    `outputs` stays a plain dict on the wire; `output(Type)` reads it as the activity's typed output.
    """

    ok: bool
    resources: list[ResourceRef] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: ActivityError | None = None

    @classmethod
    def success(
        cls, resources: list[ResourceRef] | None = None, outputs: Wire | None = None
    ) -> ActivityResult:
        return cls(ok=True, resources=list(resources or []), outputs=outputs.to_dict() if outputs else {})

    @classmethod
    def failure(cls, error: ActivityError, resources: list[ResourceRef] | None = None) -> ActivityResult:
        return cls(ok=False, error=error, resources=list(resources or []))

    def output(self, output_type: type[OutputT]) -> OutputT:
        return output_type.from_dict(self.outputs, output_type.__name__)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "resources": [r.to_dict() for r in self.resources]}
        if self.ok:
            data["outputs"] = _dump(self.outputs)
        else:
            data["error"] = (self.error or ActivityError(code="Unknown")).to_dict()
        return data


# ---------------------------------------------------------------- activity inputs (common fields first)


@dataclass(frozen=True, kw_only=True)
class Common(Wire):
    """The fields every activity input carries (the orchestrator makes them once per run)."""

    subscription_id: str
    resource_group: str
    location: str | None
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str
    instance_id: str

    def fields(self) -> dict[str, Any]:
        """As keyword arguments for an input contract: `IdentityInput(**common.fields(), name=...)`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Common)}


@dataclass(frozen=True, kw_only=True)
class ActivityInput(Common):
    """An activity's input: the common fields, then the activity's own."""

    NAME: ClassVar[str] = ""


@dataclass(frozen=True, kw_only=True)
class PreflightInput(ActivityInput):
    NAME: ClassVar[str] = fn.PREFLIGHT
    request: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PreflightOutput(Wire):
    SPARSE: ClassVar[frozenset[str]] = frozenset({"notes"})
    location: str | None = None
    # Subnets and peerings of the requested vnets before the run wrote anything (they carry no runId tag);
    # None when preflight took no snapshot: then nothing found is claimed as this run's.
    existed_before: list[str] | None = None
    # What preflight could not check ahead (e.g. the registry name without checkNameAvailability/read).
    notes: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class IdentityInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_IDENTITY
    name: str


@dataclass(frozen=True, kw_only=True)
class IdentityOutput(Wire):
    id: str
    principal_id: str
    client_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RoleAssignmentInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_ROLE_ASSIGNMENT
    scope: str
    role_definition_guid: str
    principal_id: str
    principal_type: str = "ServicePrincipal"


@dataclass(frozen=True, kw_only=True)
class RoleAssignmentOutput(Wire):
    id: str | None  # None: RoleAssignmentExists under another name that the listing did not show


@dataclass(frozen=True, kw_only=True)
class SubnetSpec(Wire):
    name: str
    prefix: str


@dataclass(frozen=True, kw_only=True)
class AksNetworkInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_AKS_NETWORK
    vnet_name: str
    address_space: str
    subnets: list[SubnetSpec]
    existed_before: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class AksNetworkOutput(Wire):
    vnet_id: str
    subnet_ids: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class HopsworksNetworkInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_HOPSWORKS_NETWORK
    vnet_name: str
    address_space: str
    subnet_name: str
    subnet_prefix: str
    existed_before: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class HopsworksNetworkOutput(Wire):
    vnet_id: str
    subnet_id: str


@dataclass(frozen=True, kw_only=True)
class PeeringInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_PEERING
    vnet_name: str  # the local vnet, in the request's resource group
    peering_name: str
    remote_vnet_id: str
    existed_before: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class PeeringOutput(Wire):
    id: str
    peering_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class BeginClusterInput(ActivityInput):
    NAME: ClassVar[str] = fn.BEGIN_AKS_CLUSTER
    name: str
    node_subnet_id: str
    service_cidr: str
    dns_service_ip: str
    node_count: int = 1
    vm_size: str | None = None
    kubernetes_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class BeginClusterOutput(Wire):
    id: str
    provisioning_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class GetClusterInput(ActivityInput):
    NAME: ClassVar[str] = fn.GET_AKS_CLUSTER
    name: str


@dataclass(frozen=True, kw_only=True)
class ClusterOutput(Wire):
    id: str | None = None
    provisioning_state: str | None = None
    principal_id: str | None = None  # the cluster's system identity
    kubelet_object_id: str | None = None
    node_resource_group: str | None = None
    private_fqdn: str | None = None


@dataclass(frozen=True, kw_only=True)
class RegistryInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_REGISTRY
    name: str


@dataclass(frozen=True, kw_only=True)
class RegistryOutput(Wire):
    id: str
    login_server: str | None = None


@dataclass(frozen=True, kw_only=True)
class RetentionInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_RETENTION_POLICY
    name: str
    days: int


@dataclass(frozen=True, kw_only=True)
class RetentionOutput(Wire):
    days: int
    status: str | None = None


@dataclass(frozen=True, kw_only=True)
class DnsLinkInput(ActivityInput):
    NAME: ClassVar[str] = fn.ENSURE_DNS_ZONE_LINK
    node_resource_group: str
    private_fqdn: str | None  # None: the zone is found by listing the node resource group
    vnet_id: str
    link_name: str


@dataclass(frozen=True, kw_only=True)
class DnsLinkOutput(Wire):
    zone_name: str
    id: str


@dataclass(frozen=True, kw_only=True)
class DeleteInput(ActivityInput):
    NAME: ClassVar[str] = fn.DELETE_RESOURCE
    id: str
    type: str


@dataclass(frozen=True, kw_only=True)
class DeleteOutput(Wire):
    SPARSE: ClassVar[frozenset[str]] = frozenset({"busy"})
    done: bool
    # The service refused because another operation on the resource still runs (AKS: 409
    # OperationNotAllowed while the cluster is Creating): wait for a terminal state, then call again.
    busy: bool = False


# Every input contract above (each names its activity).
INPUTS: dict[str, type[ActivityInput]] = {cls.NAME: cls for cls in ActivityInput.__subclasses__()}
OUTPUTS: dict[str, type[Wire]] = {
    fn.PREFLIGHT: PreflightOutput, fn.ENSURE_IDENTITY: IdentityOutput,
    fn.ENSURE_ROLE_ASSIGNMENT: RoleAssignmentOutput, fn.ENSURE_AKS_NETWORK: AksNetworkOutput,
    fn.ENSURE_HOPSWORKS_NETWORK: HopsworksNetworkOutput, fn.ENSURE_PEERING: PeeringOutput,
    fn.BEGIN_AKS_CLUSTER: BeginClusterOutput, fn.GET_AKS_CLUSTER: ClusterOutput,
    fn.ENSURE_REGISTRY: RegistryOutput, fn.ENSURE_RETENTION_POLICY: RetentionOutput,
    fn.ENSURE_DNS_ZONE_LINK: DnsLinkOutput, fn.DELETE_RESOURCE: DeleteOutput,
}


def parse_input(activity: str, payload: Any) -> ActivityInput:
    """An activity's input dict as its typed contract (an activity body starts with this)."""
    return INPUTS[activity].from_dict(payload, f"{activity} input")


# ---------------------------------------------------------------- what a chain (sub-orchestration) answers


@dataclass(frozen=True, kw_only=True)
class StepFailure(Wire):
    """A permanent failure: the step it ended, the code, and the message."""

    step: str
    code: str
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class StepReport(Wire):
    """One step of a chain as it ended: its outputs, or its failure; the resources it reported either way."""

    step: str
    ok: bool
    resources: list[ResourceRef] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    failure: StepFailure | None = None


@dataclass(frozen=True, kw_only=True)
class PeeringChainInput(Wire):
    """The peering chain's input: Hopsworks -> AKS (on the Hopsworks vnet), then AKS -> Hopsworks."""

    timing: Timing
    first: PeeringInput
    second: PeeringInput


@dataclass(frozen=True, kw_only=True)
class ClusterWatchInput(Wire):
    """The cluster watch's input; a generation that continues as new passes it on with its reads counted."""

    timing: Timing
    get: GetClusterInput
    begin: BeginClusterInput  # to PUT the cluster again (AKS's reconcile) after a passing failure
    begun: dict[str, Any] = field(default_factory=dict)  # begin_aks_cluster's outputs (the cluster's id)
    started: str = ""  # orchestration time (ISO) of the first wait; the cluster timeout runs from it
    reads: int = 0  # reads made by the generations before this one
    repairs: int = 0  # PUTs again made by the generations before this one


@dataclass(frozen=True, kw_only=True)
class ChainResult(Wire):
    """What a chain did: one report per step it started, in order. A chain never raises for an ARM answer."""

    steps: list[StepReport]

    @property
    def failure(self) -> StepFailure | None:
        return next((report.failure for report in self.steps if report.failure is not None), None)
