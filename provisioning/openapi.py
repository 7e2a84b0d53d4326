"""The API description: an OpenAPI 3.0 document built from the request model and the answers' shapes, and a
Swagger 2.0 variant of it for Logic Apps / Power Automate custom connectors. Pure: no Functions imports
(`api/openapi.py` serves it at `GET /api/openapi.json`).

The request's schema is `SetupRequest.model_json_schema()` (pydantic), with each field's rule from
`provisioning.naming` and the documented bounds added; the answers' schemas are generated the same way from
the typed shapes below (TypedDicts), and the examples come from `examples/*.json` and from the real
validator and result builder run on them.

Why OpenAPI 3.0.3 rather than 3.1: API Management, the custom-connector wizards and most client generators
read 3.0. Pydantic writes JSON Schema 2020-12, so `to_openapi30` brings it down (`anyOf [X, null]` ->
`nullable`, `const` -> `enum`); `to_swagger2` goes on to 2.0 (`x-nullable`, `definitions`, body parameters).

To describe a new operation, add an `Operation` to `operations()`; the shapes its answers name go in
`ANSWER_SHAPES` (their schemas are generated like the others).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from provisioning import naming
from provisioning.request import (
    NODE_COUNT_MAX,
    NODE_COUNT_MIN,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    SetupRequest,
    validate_setup_request,
)
from provisioning.result import build_setup_result

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"
TITLE = "Hopsworks AKS + ACR setup"
COMPONENTS = "#/components/schemas/"
DEFINITIONS = "#/definitions/"
JSON = "application/json"
# The Durable extension's status endpoint (the 202's Location); outside the app's `/api` route prefix.
STATUS_PATH = "/runtime/webhooks/durabletask/instances/{instanceId}"
FORMATS = ("openapi3", "swagger2")

# ---------------------------------------------------------------- the answers' shapes

RuntimeStatus = Literal[
    "Pending", "Running", "ContinuedAsNew", "Suspended", "Completed", "Failed", "Terminated", "Canceled"
]
RUNNING_STATES = ("Pending", "Running", "ContinuedAsNew", "Suspended")
StepState = Literal["pending", "running", "succeeded", "failed", "rolled_back"]  # provisioning.status.STATES


class FieldError(TypedDict):
    """One problem with the request: the dotted camelCase path of the field and the rule it breaks."""

    field: Annotated[str, Field(description="dotted camelCase path, e.g. aks.serviceCidr; body: the whole")]
    message: Annotated[str, Field(description="the rule the value breaks")]


class ErrorList(TypedDict):
    """400: every problem at once; nothing was started and Azure was not called."""

    errors: Annotated[list[FieldError], Field(min_length=1)]


class ServiceErrorDetail(TypedDict):
    code: Annotated[str, Field(description="InvalidAppSettings, StartFailed, ...")]
    message: str


class ServiceError(TypedDict):
    """500 from the app itself: bad app settings (named, values never echoed) or the Durable extension
    unreachable."""

    error: ServiceErrorDetail


class CheckStatus(TypedDict):
    """The Durable extension's check-status payload. Its URLs carry the extension's system key: treat them as
    secrets. `statusQueryGetUri` (also the `Location` header) answers 500 once the run has failed."""

    id: Annotated[str, Field(description="instance id: one per target (subscription, group, AKS name)")]
    statusQueryGetUri: str
    sendEventPostUri: str
    terminatePostUri: str
    purgeHistoryDeleteUri: str
    restartPostUri: NotRequired[str]
    rewindPostUri: NotRequired[str]
    suspendPostUri: NotRequired[str]
    resumePostUri: NotRequired[str]


class HopsworksValues(TypedDict):
    """The values to enter in hopsworks.ai (its Azure AKS/ACR settings)."""

    location: str
    resourceGroup: str
    managedIdentity: Annotated[str, Field(description="the user-assigned identity's name")]
    aksClusterName: str
    acrRegistryName: str
    virtualNetworkName: Annotated[str, Field(description="the vnet the Hopsworks cluster goes into")]
    subnetName: str
    networkResourceGroup: str


class ResourceEntry(TypedDict):
    id: str
    type: Annotated[str, Field(description="ARM resource type, e.g. Microsoft.Network/virtualNetworks")]
    action: Annotated[Literal["created", "existing"],
                      Field(description="created by this run, or found and used as it was (never deleted)")]


class SetupResult(TypedDict):
    """The output of a completed setup."""

    hopsworks: HopsworksValues
    resources: list[ResourceEntry]


class StepError(TypedDict):
    step: str
    code: Annotated[str, Field(description="the ARM error code")]


class Progress(TypedDict):
    """The custom status while a run goes on: step states, counts, and the failed step's ARM code."""

    topology: NotRequired[str]
    steps: dict[str, StepState]
    done: int
    total: int
    error: NotRequired[StepError]


class PlanChange(TypedDict):
    id: str
    type: str
    action: Literal["create", "keep", "update", "adopt", "conflict"]
    reason: str


class PlanProblem(TypedDict):
    step: str
    code: str
    message: str


class Plan(TypedDict):
    """What a setup of this request would do, read without writing anything (issue #11). A plan with
    problems means the setup would fail in preflight, before any write."""

    changes: list[PlanChange]
    problems: list[PlanProblem]
    permissions: Annotated[dict[str, Any], Field(description="what the app's identity needs for this "
                                                             "request (actions at each scope) and what "
                                                             "preflight found missing")]
    summary: NotRequired[Annotated[dict[str, int], Field(description="how many changes of each action")]]


class Busy(TypedDict):
    """409: a setup or teardown for this target is running; nothing was started. Follow its status URL (also
    the Location header) and try again once it has finished."""

    error: ServiceErrorDetail
    id: str
    statusQueryGetUri: str


class DeletedResource(TypedDict):
    id: str
    type: str


class KeptResource(TypedDict):
    id: str
    type: str
    reason: Annotated[str, Field(description="why it stays: it existed before the first setup, or its owner "
                                             "is unclear")]


class TeardownResult(TypedDict):
    """The output of a completed teardown."""

    deleted: list[DeletedResource]
    kept: list[KeptResource]


class InstanceStatus(TypedDict):
    """The Durable extension's instance status (the `Location` URL's answer)."""

    name: NotRequired[str | None]
    instanceId: str
    runtimeStatus: RuntimeStatus
    input: NotRequired[Any]
    customStatus: NotRequired[Progress | None]
    output: NotRequired[SetupResult | TeardownResult | str | None]
    createdTime: NotRequired[str | None]
    lastUpdatedTime: NotRequired[str | None]


class RunningStatus(InstanceStatus):
    """202 from the status URL: the run goes on; `customStatus` shows its progress."""


class CompletedStatus(InstanceStatus):
    """200 from the status URL: the run ended; `output` is the result (SetupResult or TeardownResult)."""


class FailedStatus(InstanceStatus):
    """500 from the status URL (it carries returnInternalServerErrorOnFailure=true): the run failed. `output`
    names the step, the ARM error code, what was rolled back and what was left behind."""


ANSWER_SHAPES: tuple[type, ...] = (
    FieldError, ErrorList, ServiceError, CheckStatus, HopsworksValues, ResourceEntry, SetupResult, StepError,
    Progress, PlanChange, PlanProblem, Plan, Busy, DeletedResource, KeptResource,
    TeardownResult, RunningStatus, CompletedStatus, FailedStatus,
)

# ---------------------------------------------------------------- the request's field rules

_ASCII_PATTERN_RULES = (
    naming.IDENTITY, naming.AKS_CLUSTER, naming.CONTAINER_REGISTRY, naming.VIRTUAL_NETWORK, naming.SUBNET,
    naming.LOCATION, naming.VM_SIZE, naming.KUBERNETES_VERSION, naming.SUBSCRIPTION_ID,
)
# (schema, property) -> the naming rule it follows, or a description of its own.
REQUEST_FIELD_RULES: dict[tuple[str, str], naming.NameRule | str] = {
    ("SetupRequest", "subscriptionId"): naming.SUBSCRIPTION_ID,
    ("SetupRequest", "resourceGroup"): naming.RESOURCE_GROUP,
    ("SetupRequest", "location"): naming.LOCATION,
    ("SetupRequest", "topology"): "peering: a Hopsworks vnet peered with the AKS vnet (+ private DNS link); "
                                  "subnet: a Hopsworks subnet inside the AKS vnet",
    ("SetupRequest", "tags"): "tags for every resource the run creates",
    ("SetupRequest", "hopsworksNetwork"): "topology peering only",
    ("SetupRequest", "hopsworksSubnet"): "topology subnet only",
    ("IdentitySpec", "name"): naming.IDENTITY,
    ("IdentitySpec", "roleScope"): "where the identity's four roles are assigned",
    ("AksSpec", "name"): naming.AKS_CLUSTER,
    ("AksSpec", "vnetName"): naming.VIRTUAL_NETWORK,
    ("AksSpec", "addressSpace"): "CIDR of the AKS vnet",
    ("AksSpec", "nodeSubnetName"): naming.SUBNET,
    ("AksSpec", "nodeSubnetPrefix"): "CIDR inside addressSpace, large enough for the nodes' pods (Azure CNI)",
    ("AksSpec", "serviceCidr"): "Kubernetes service CIDR; must not overlap the vnets",
    ("AksSpec", "dnsServiceIp"): "an address inside serviceCidr (not its first)",
    ("AksSpec", "nodeCount"): f"{NODE_COUNT_MIN} to {NODE_COUNT_MAX}",
    ("AksSpec", "vmSize"): naming.VM_SIZE,
    ("AksSpec", "kubernetesVersion"): naming.KUBERNETES_VERSION,
    ("AcrSpec", "name"): naming.CONTAINER_REGISTRY,
    ("AcrSpec", "retentionDays"): "days untagged manifests are kept",
    ("HopsworksNetworkSpec", "vnetName"): naming.VIRTUAL_NETWORK,
    ("HopsworksNetworkSpec", "addressSpace"): "CIDR of the Hopsworks vnet; must not overlap the AKS vnet",
    ("HopsworksNetworkSpec", "subnetName"): naming.SUBNET,
    ("HopsworksNetworkSpec", "subnetPrefix"): "CIDR inside addressSpace",
    ("HopsworksSubnetSpec", "name"): naming.SUBNET,
    ("HopsworksSubnetSpec", "prefix"): "CIDR inside aks.addressSpace, apart from the node subnet",
}
REQUEST_BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("AksSpec", "nodeCount"): (NODE_COUNT_MIN, NODE_COUNT_MAX),
    ("AcrSpec", "retentionDays"): (RETENTION_DAYS_MIN, RETENTION_DAYS_MAX),
}


def _ruled(prop: dict[str, Any], rule: naming.NameRule | str) -> None:
    target = next((s for s in prop.get("anyOf", ()) if s.get("type") == "string"), prop)
    if isinstance(rule, str):
        prop["description"] = rule
        return
    prop["description"] = rule.rule
    target["minLength"], target["maxLength"] = rule.min_length, rule.max_length
    if rule in _ASCII_PATTERN_RULES:  # ECMA-262 reads these the same; RESOURCE_GROUP's \w is Unicode-wide
        target["pattern"] = f"^(?:{rule.pattern.pattern})$"


def request_schemas() -> dict[str, dict[str, Any]]:
    """SetupRequest and its blocks as component schemas (JSON Schema 2020-12, as pydantic writes it)."""
    schema = SetupRequest.model_json_schema(
        by_alias=True, mode="validation", ref_template=COMPONENTS + "{model}"
    )
    schemas: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    schemas["SetupRequest"] = schema
    schema["description"] = (
        "A setup target and its options (camelCase). Only subscriptionId, resourceGroup, topology, "
        "identity.name, aks.name, acr.name and the topology's block are required; everything else has the "
        "default shown."
    )
    for (name, prop_name), rule in REQUEST_FIELD_RULES.items():
        _ruled(schemas[name]["properties"][prop_name], rule)
    for (name, prop_name), (low, high) in REQUEST_BOUNDS.items():
        schemas[name]["properties"][prop_name].update(minimum=low, maximum=high)
    return schemas


def answer_schemas() -> dict[str, dict[str, Any]]:
    adapters = [(shape.__name__, "serialization", TypeAdapter(shape)) for shape in ANSWER_SHAPES]
    _, top = TypeAdapter.json_schemas(adapters, ref_template=COMPONENTS + "{model}")  # type: ignore[arg-type]
    return dict(top["$defs"])


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Answer:
    status: int
    description: str
    schema: str | tuple[str, ...] | None = None  # a component name, or several (any of them)
    headers: tuple[str, ...] = ()  # names in HEADERS
    example: Any = None


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    operation_id: str
    summary: str
    description: str
    answers: tuple[Answer, ...]
    tag: str
    request_schema: str | None = None
    long_running: bool = False  # 202 + Location until done: Logic Apps' asynchronous pattern
    final_answer: Answer | None = None  # what following the Location ends with (for connectors)
    security: str = "function"  # function | system | anonymous
    parameters: tuple[dict[str, Any], ...] = ()
    in_connector: bool = True  # part of the Swagger 2.0 custom-connector variant
    status_operation: str | None = None  # the app's status operation for the ids this one answers


HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "the status URL to poll (GET) until it answers something other than 202. It "
                                "carries a key (the function key sent as `code`: the app's status endpoint; "
                                "else the Durable extension's system key): a secret",
                 "schema": {"type": "string", "format": "uri"}},
    "Retry-After": {"description": "seconds to wait before polling Location",
                    "schema": {"type": "integer", "minimum": 0}},
}

UNAUTHORIZED = Answer(401, "the function key (x-functions-key header or `code` query) is missing or wrong")


def _start_answers(kind: str, examples: Mapping[str, Any]) -> tuple[Answer, ...]:
    return (
        Answer(202, f"the {kind} runs (started now, or already going for this target): poll Location",
               "CheckStatus", ("Location", "Retry-After"), examples.get("checkStatus")),
        Answer(400, "the request breaks a rule: every problem listed, nothing started", "ErrorList",
               example=examples.get("errorList")),
        UNAUTHORIZED,
        Answer(409, f"a {'teardown' if kind == 'setup' else 'setup'} for this target is running: nothing "
                    "started; its status URL is in Location", "Busy", ("Location",)),
        Answer(500, "bad app settings, or the Durable extension could not start the run", "ServiceError"),
    )


def operations(examples: Mapping[str, Any] | None = None) -> list[Operation]:
    """Every operation the document describes, in document order."""
    ex = dict(examples or {})
    setup_done = Answer(200, "the setup completed: output is the SetupResult", "CompletedStatus",
                        example=ex.get("completedStatus"))
    teardown_done = Answer(200, "the teardown completed: output lists deleted and kept", "CompletedStatus")
    teardown_ex = {key: value for key, value in ex.items() if key != "checkStatus"}  # a setup's example
    return [
        Operation(
            "/api/setups", "post", "StartSetup", "Set up AKS and ACR for Hopsworks",
            "Validates the request and starts the setup (one run per target: a target whose run is still "
            "going answers 202 with that run's URLs). Follow Location until it is not 202: 200 with the "
            "Hopsworks values, 500 when the run failed (it removed what it had created).",
            _start_answers("setup", ex), "setups", "SetupRequest", long_running=True, final_answer=setup_done,
            status_operation="GetSetupStatus",
        ),
        Operation(
            "/api/plans", "post", "PlanSetup", "Plan a setup without writing anything",
            "What a setup of this request would do to each resource (create, keep, update, adopt, conflict) "
            "and the problems preflight would fail on; reads only, zero ARM writes, answered inline.",
            (Answer(200, "the plan", "Plan"), *_start_answers("plan", ex)[1:3],
             Answer(500, "bad app settings", "ServiceError"),
             Answer(503, "Azure's reads stayed unavailable: try again after Retry-After", "ServiceError",
                    ("Retry-After",)),
             Answer(504, "Azure's answers took longer than the plan may take", "ServiceError")),
            "lifecycle", "SetupRequest",
        ),
        Operation(
            "/api/teardowns", "post", "StartTeardown", "Remove what setups for this target created",
            "Deletes exactly what setups for the target created, in reverse dependency order; keeps whatever "
            "existed before. Follow Location like a setup's: 200 with deleted and kept, 500 when it failed.",
            _start_answers("teardown", teardown_ex), "lifecycle", "SetupRequest", long_running=True,
            final_answer=teardown_done, status_operation="GetTeardownStatus",
        ),
        *(_app_status_operation(kind, done, ex) for kind, done in (("setup", setup_done),
                                                                   ("teardown", teardown_done))),
        Operation(
            STATUS_PATH, "get", "GetRunStatus", "Status of a setup or teardown (the Durable extension's)",
            "The Durable extension's status endpoint, where Location points when the POST sent its key in "
            "the x-functions-key header. Use the URL as given: it carries the task hub, the connection and "
            "the system key.",
            (Answer(202, "the run goes on", "RunningStatus", ("Location", "Retry-After"),
                    ex.get("runningStatus")),
             Answer(200, "the run ended: output is the SetupResult or TeardownResult (Completed), or says "
                         "why (Terminated; Failed without returnInternalServerErrorOnFailure)",
                    "CompletedStatus", example=ex.get("completedStatus")),
             Answer(401, "the system key (`code`) is missing or wrong"),
             Answer(404, "no such instance"),
             Answer(500, "the run failed", "FailedStatus", example=ex.get("failedStatus"))),
            "status", security="system", parameters=_status_parameters(), in_connector=False,
        ),
        Operation(
            "/api/openapi.json", "get", "GetApiDescription", "This API description",
            "OpenAPI 3.0 (default) or, with format=swagger2, Swagger 2.0 for Logic Apps / Power Automate "
            "custom connectors. Anonymous: API Management and the connector wizards import it from a URL "
            "without a key, and it holds no secret (no key, no instance, nothing from the subscription).",
            (Answer(200, "the API description"),
             Answer(400, "an unknown format", "ErrorList")),
            "meta", security="anonymous",
            parameters=({"name": "format", "in": "query", "required": False,
                         "description": "openapi3 (default) or swagger2",
                         "schema": {"type": "string", "enum": list(FORMATS), "default": FORMATS[0]}},),
        ),
    ]


def _app_status_operation(kind: str, done: Answer, ex: Mapping[str, Any]) -> Operation:
    plural = f"{kind}s"
    return Operation(
        f"/api/{plural}/{{instanceId}}", "get", f"Get{kind.title()}Status", f"Status of a {kind}",
        f"The app's own status endpoint for {plural}, where Location points when the POST sent its key as "
        "`code`: 202 with a Retry-After that follows the run while it goes on, then 200, or 500 when it "
        "failed, was terminated or canceled.",
        (Answer(202, f"the {kind} goes on", "RunningStatus", ("Location", "Retry-After"),
                ex.get("runningStatus") if kind == "setup" else None),
         done,
         Answer(400, f"not an id a POST /api/{plural} answered", "ErrorList"),
         UNAUTHORIZED,
         Answer(404, f"no {kind} with this id", "ServiceError"),
         Answer(500, f"the {kind} failed (or its status could not be read)", ("FailedStatus", "ServiceError"),
                example=ex.get("failedStatus") if kind == "setup" else None)),
        "status",
        parameters=({"name": "instanceId", "in": "path", "required": True,
                     "description": f"the id POST /api/{plural} answered", "schema": {"type": "string"}},),
        in_connector=False,
    )


def _status_parameters() -> tuple[dict[str, Any], ...]:
    def query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "description": description,
                "schema": schema}

    return (
        {"name": "instanceId", "in": "path", "required": True, "description": "the 202 payload's id",
         "schema": {"type": "string"}},
        query("taskHub", "the task hub (in the Location URL)", {"type": "string"}),
        query("connection", "the storage connection name (in the Location URL)", {"type": "string"}),
        query("returnInternalServerErrorOnFailure", "answer 500 (not 200) once the run has failed",
              {"type": "boolean", "default": False}),
    )


# ---------------------------------------------------------------- examples


def build_examples(requests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Examples for the document from example requests (`examples/*.json`, by name): the requests, and the
    answers the real validator and result builder give for them."""
    examples: dict[str, Any] = {"requests": {name: dict(body) for name, body in requests.items()}}
    first = next(iter(requests.values()), None)
    if first is None:
        return examples
    valid = validate_setup_request(dict(first))
    broken = copy.deepcopy(dict(first))
    broken["aks"] = {**broken.get("aks", {}), "serviceCidr": broken.get("aks", {}).get("addressSpace"),
                     "nodeCount": 0}
    broken.pop("acr", None)
    errors = validate_setup_request(broken)
    if isinstance(errors, list):
        examples["errorList"] = {"errors": [error.to_dict() for error in errors]}
    if isinstance(valid, SetupRequest):
        examples.update(_run_examples(valid))
    return examples


def _run_examples(request: SetupRequest) -> dict[str, Any]:
    normalized = request.to_orchestration_dict()
    location = normalized.get("location") or "northeurope"
    group = f"/subscriptions/{request.subscription_id}/resourceGroups/{request.resource_group}/providers"
    resources = [
        {"id": f"{group}/Microsoft.ManagedIdentity/userAssignedIdentities/{request.identity.name}",
         "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "action": "created"},
        {"id": f"{group}/Microsoft.ContainerService/managedClusters/{request.aks.name}",
         "type": "Microsoft.ContainerService/managedClusters", "action": "created"},
        {"id": f"{group}/Microsoft.ContainerRegistry/registries/{request.acr.name}",
         "type": "Microsoft.ContainerRegistry/registries", "action": "created"},
    ]
    instance = request.instance_id
    base = f"https://<app>.azurewebsites.net/runtime/webhooks/durabletask/instances/{instance}"
    suffix = "taskHub=<hub>&connection=Storage&code=<system key>"
    times = {"createdTime": "2026-01-01T10:00:00Z", "lastUpdatedTime": "2026-01-01T10:07:41Z"}
    steps = {"preflight": "succeeded", "identity": "succeeded", "aks_cluster": "running"}
    return {
        "checkStatus": {
            "id": instance,
            "statusQueryGetUri": f"{base}?{suffix}&returnInternalServerErrorOnFailure=true",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{base}?{suffix}",
        },
        "runningStatus": {"name": "setup_orchestrator", "instanceId": instance, "runtimeStatus": "Running",
                          "customStatus": {"topology": request.topology, "steps": steps, "done": 2,
                                           "total": len(steps)},
                          "output": None, **times},
        "completedStatus": {"name": "setup_orchestrator", "instanceId": instance,
                            "runtimeStatus": "Completed",
                            "output": build_setup_result(normalized, resources, location), **times},
        "failedStatus": {"name": "setup_orchestrator", "instanceId": instance, "runtimeStatus": "Failed",
                         "output": "Orchestrator function 'setup_orchestrator' failed: Setup failed at step "
                                   "aks_cluster: QuotaExceeded: ... Rolled back 3 resource(s) this run "
                                   "created: ... Left behind: nothing.",
                         **times},
    }


# ---------------------------------------------------------------- the OpenAPI 3.0 document


@dataclass
class _Builder:
    examples: Mapping[str, Any]
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)

    def request_body(self, schema: str) -> dict[str, Any]:
        content: dict[str, Any] = {"schema": {"$ref": COMPONENTS + schema}}
        requests = self.examples.get("requests") or {}
        if requests:
            content["examples"] = {name: {"summary": f"examples/{name}.json", "value": body}
                                   for name, body in requests.items()}
        return {"required": True, "content": {JSON: content}}

    @staticmethod
    def answer(answer: Answer) -> dict[str, Any]:
        described: dict[str, Any] = {"description": answer.description}
        if answer.headers:
            described["headers"] = {name: HEADERS[name] for name in answer.headers}
        if answer.schema:
            names = (answer.schema,) if isinstance(answer.schema, str) else answer.schema
            refs = [{"$ref": COMPONENTS + name} for name in names]
            media: dict[str, Any] = {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}
            if answer.example is not None:
                media["example"] = answer.example
            described["content"] = {JSON: media}
        elif answer.status == 200:
            described["content"] = {JSON: {"schema": {"type": "object"}}}
        return described

    def add(self, op: Operation) -> None:
        described: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
            "tags": [op.tag],
            "responses": {str(a.status): self.answer(a) for a in op.answers},
        }
        if op.parameters:
            described["parameters"] = [dict(p) for p in op.parameters]
        if op.request_schema:
            described["requestBody"] = self.request_body(op.request_schema)
        described["security"] = {"function": [{"functionKey": []}, {"functionKeyQuery": []}],
                                 "system": [{"systemKey": []}], "anonymous": []}[op.security]
        if op.long_running:
            described["x-ms-long-running-operation"] = True
            described["x-ms-long-running-operation-options"] = {"final-state-via": "location"}
        self.paths.setdefault(op.path, {})[op.method] = described

    def link_statuses(self, included: list[Operation]) -> None:
        """The 202 of each long-running operation links to the status operations that answer for its id."""
        present = {op.operation_id for op in included}
        for op in included:
            targets = [target for target in (op.status_operation, "GetRunStatus") if target in present]
            if op.long_running and targets:
                self.paths[op.path][op.method]["responses"]["202"]["links"] = {
                    target: {"operationId": target, "parameters": {"instanceId": "$response.body#/id"},
                             "description": "the run's status (Location has the URL to use, with its key)"}
                    for target in targets
                }


def build_openapi(
    server_url: str | None = None,
    examples: Mapping[str, Any] | None = None,
    include: Callable[[Operation], bool] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.0 document. `server_url`: the app's origin (from the request); `examples`: as
    `build_examples` makes them; `include`: which operations to describe (default all)."""
    builder = _Builder(examples or {})
    included = [op for op in operations(examples) if include is None or include(op)]
    for op in included:
        builder.add(op)
    builder.link_statuses(included)
    schemas = {**request_schemas(), **answer_schemas()}
    document: dict[str, Any] = {
        "openapi": "3.1.0",  # the schemas are JSON Schema 2020-12 until to_openapi30 brings them down
        "info": {
            "title": TITLE,
            "version": API_VERSION,
            "description": "Sets up an Azure subscription for Hopsworks on AKS + ACR (the Hopsworks guide "
                           "'Integration with Azure AKS and ACR') from one request, as a Durable Functions "
                           "app: POST answers 202, follow Location until it is not 202.",
        },
        "paths": builder.paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                                "description": "a function key of the app"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code",
                                     "description": "a function key of the app, as the `code` query"},
                "systemKey": {"type": "apiKey", "in": "query", "name": "code",
                              "description": "the Durable extension's system key (in the Location URL)"},
            },
        },
        "tags": [{"name": "setups"}, {"name": "lifecycle"}, {"name": "status"}, {"name": "meta"}],
    }
    if server_url:
        document["servers"] = [{"url": server_url.rstrip("/")}]
    return to_openapi30(document)


# ---------------------------------------------------------------- JSON Schema 2020-12 -> OpenAPI 3.0 / 2.0


def _walk(node: Any, fix: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """`fix` applied to every dict of a JSON tree, bottom-up."""
    if isinstance(node, list):
        return [_walk(item, fix) for item in node]
    if isinstance(node, dict):
        return fix({key: _walk(value, fix) for key, value in node.items()})
    return node


def _schema_30(node: dict[str, Any], nullable_key: str = "nullable") -> dict[str, Any]:
    """One JSON Schema 2020-12 node as OpenAPI 3.0 / Swagger 2.0 read it."""
    if "anyOf" in node and any(option == {"type": "null"} for option in node["anyOf"]):
        others = [option for option in node["anyOf"] if option != {"type": "null"}]
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        if len(others) == 1 and "$ref" not in others[0]:
            node = {**others[0], **rest}
        elif len(others) == 1 and nullable_key == "x-nullable":
            node = {"allOf": others, **rest}  # Swagger 2.0 has no anyOf; x-nullable next to allOf is read
        else:  # OpenAPI 3.0 reads `nullable` only next to a `type` (not $ref, not allOf): null is an option
            node = {"anyOf": [*others, {"enum": [None], nullable_key: True}], **rest}
        node[nullable_key] = True
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    if "examples" in node and isinstance(node["examples"], list):
        node = {**{k: v for k, v in node.items() if k != "examples"}, "example": node["examples"][0]}
    if "properties" not in node:
        node.pop("title", None)  # a field's title is pydantic's spelling of its name: noise
    return node


def to_openapi30(document: Mapping[str, Any]) -> dict[str, Any]:
    converted = copy.deepcopy(dict(document))
    converted["openapi"] = OPENAPI_VERSION
    converted["components"]["schemas"] = _walk(converted["components"]["schemas"], _schema_30)
    return converted


def _schema_20(node: dict[str, Any]) -> dict[str, Any]:
    node = _schema_30(node, "x-nullable")
    if "nullable" in node:
        node["x-nullable"] = node.pop("nullable")
    if "default" in node and node["default"] is None:
        del node["default"]  # Swagger 2.0 cannot say null here; x-nullable and no default mean the same
    if "$ref" in node and node["$ref"].startswith(COMPONENTS):
        node = {**node, "$ref": DEFINITIONS + node["$ref"][len(COMPONENTS):]}
    if "anyOf" in node:
        # 3.0's null option becomes x-nullable; one option left stays (allOf); Swagger 2.0 has no anyOf for
        # several: any value, described in words.
        options = [o for o in node["anyOf"] if not (o.get("enum") == [None] and len(o) == 2)]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) < len(node["anyOf"]):
            rest["x-nullable"] = True
        node = {"allOf": options, **rest} if len(options) == 1 else rest
    return node


def _summary(name: str) -> str:
    words = "".join(f" {c}" if c.isupper() else c for c in name).strip()
    return words[:1].upper() + words[1:]


def _connector_hints(schema: dict[str, Any]) -> dict[str, Any]:
    """x-ms-summary on each property; x-ms-visibility: required ones important, defaulted ones advanced."""
    required = set(schema.get("required") or ())
    for name, prop in (schema.get("properties") or {}).items():
        prop.setdefault("x-ms-summary", _summary(name))
        prop.setdefault("x-ms-visibility", "important" if name in required else "advanced")
    return schema


def to_swagger2(document: Mapping[str, Any]) -> dict[str, Any]:
    """The Swagger 2.0 variant for custom connectors: the connector's operations (not the status endpoint:
    connectors follow Location themselves), body parameters, `x-ms-*` hints, and for each long-running
    operation the final answer (200) its Location ends with."""
    source = copy.deepcopy(dict(document))
    definitions = _walk(source["components"]["schemas"], _schema_20)
    for schema in definitions.values():
        _connector_hints(schema)
    bodies = [op["requestBody"]["content"][JSON] for methods in source["paths"].values()
              for op in methods.values() if "requestBody" in op]
    named = [example for body in bodies for example in (body.get("examples") or {}).values()]
    first_example = named[0]["value"] if named else None
    if first_example is not None:  # 2.0 has no named request examples: the schema's one example
        definitions["SetupRequest"]["example"] = first_example
    swagger: dict[str, Any] = {
        "swagger": "2.0",
        "info": source["info"],
        "basePath": "/",
        "schemes": ["https"],
        "consumes": [JSON],
        # No `produces`: in 2.0 it would claim JSON for every answer, and a 401 from the host has no body.
        "paths": {},
        "definitions": definitions,
        "securityDefinitions": {
            # One key scheme: custom connectors take one API key parameter.
            "functionKey": {**source["components"]["securitySchemes"]["functionKey"]},
        },
        "security": [{"functionKey": []}],
    }
    servers = source.get("servers") or []
    if servers:
        scheme, _, rest = servers[0]["url"].partition("://")
        swagger["schemes"] = [scheme]
        swagger["host"] = rest.split("/", 1)[0]
    wanted = {op.operation_id: op for op in operations() if op.in_connector}
    for path, methods in source["paths"].items():
        for method, described in methods.items():
            op = wanted.get(described["operationId"])
            if op is not None:
                swagger["paths"].setdefault(path, {})[method] = _operation_20(described, op)
    return _walk(swagger, _ref_20)


def _ref_20(node: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith(COMPONENTS):
        return {**node, "$ref": DEFINITIONS + node["$ref"][len(COMPONENTS):]}
    return node


def _operation_20(described: dict[str, Any], op: Operation) -> dict[str, Any]:
    converted: dict[str, Any] = {
        key: described[key] for key in ("operationId", "summary", "description", "tags") if key in described
    }
    converted["x-ms-visibility"] = "important" if op.long_running else "advanced"
    parameters = [_parameter_20(p) for p in described.get("parameters") or ()]
    if "requestBody" in described:
        media = described["requestBody"]["content"][JSON]
        parameters.append({"name": "body", "in": "body", "required": True, "schema": media["schema"],
                           "x-ms-summary": "Request"})
    if parameters:
        converted["parameters"] = parameters
    responses = {code: _response_20(answer) for code, answer in described["responses"].items()}
    if op.long_running and op.final_answer is not None:
        responses["200"] = _response_20(_Builder.answer(op.final_answer))
        converted["x-ms-long-running-operation"] = True
        converted["x-ms-long-running-operation-options"] = {"final-state-via": "location"}
    converted["responses"] = dict(sorted(responses.items()))
    if op.security == "anonymous":
        converted["security"] = []
    return converted


def _parameter_20(parameter: Mapping[str, Any]) -> dict[str, Any]:
    converted = {key: value for key, value in parameter.items() if key != "schema"}
    converted.update(parameter.get("schema") or {})
    converted["x-ms-summary"] = _summary(parameter["name"])
    return converted


def _response_20(answer: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"description": answer["description"]}
    media = (answer.get("content") or {}).get(JSON)
    if media:
        converted["schema"] = media["schema"]
        if "example" in media:
            converted["examples"] = {JSON: media["example"]}
    if answer.get("headers"):
        converted["headers"] = {
            name: {"description": header["description"], **header["schema"]}
            for name, header in answer["headers"].items()
        }
    return converted


def build_document(
    fmt: str,
    server_url: str | None = None,
    examples: Mapping[str, Any] | None = None,
    include: Callable[[Operation], bool] | None = None,
) -> dict[str, Any]:
    """The document in `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    document = build_openapi(server_url, examples, include)
    return to_swagger2(document) if fmt == "swagger2" else document


def load_example_requests(paths: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """{stem: body} of the example request files that parse as JSON objects (others are skipped)."""
    requests: dict[str, dict[str, Any]] = {}
    for path in sorted(paths, key=str):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(body, dict):
            requests[path.stem] = body
    return requests
