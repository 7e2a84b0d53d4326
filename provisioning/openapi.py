"""The API description: OpenAPI 3.0 built from the request model (pydantic, plus `provisioning.naming`'s
rules) and the answers' TypedDicts, with examples from `examples/*.json` run through the real validator and
result builder; and a Swagger 2.0 variant for Logic Apps / Power Automate custom connectors. Pure: no
Functions imports (`api/openapi.py` serves it at `GET /api/openapi.json`).

Why OpenAPI 3.0.3 rather than 3.1: API Management, the custom-connector wizards and most client generators
read 3.0; pydantic's JSON Schema 2020-12 is brought down by `_converted`. A new operation goes in
`operations()`, the shapes its answers name in `ANSWER_SHAPES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
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


# The shapes answers name; the shapes inside them come along.
ANSWER_SHAPES: tuple[type, ...] = (
    ErrorList, ServiceError, CheckStatus, Plan, Busy, RunningStatus, CompletedStatus, FailedStatus,
)

# ---------------------------------------------------------------- the request's field rules

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
    if rule is not naming.RESOURCE_GROUP:  # ECMA-262 reads the others the same; its \w is Unicode-wide
        target["pattern"] = f"^(?:{rule.pattern.pattern})$"


def request_schemas(prefix: str = COMPONENTS) -> dict[str, dict[str, Any]]:
    """SetupRequest and its blocks (JSON Schema 2020-12, as pydantic writes it), refs under `prefix`."""
    schema = SetupRequest.model_json_schema(by_alias=True, mode="validation", ref_template=prefix + "{model}")
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


def _schemas(swagger: bool) -> dict[str, dict[str, Any]]:
    """The request's and the answers' schemas, by name, as OpenAPI 3.0 (or, `swagger`, 2.0) reads them."""
    prefix = DEFINITIONS if swagger else COMPONENTS
    adapters = [(shape.__name__, "serialization", TypeAdapter(shape)) for shape in ANSWER_SHAPES]
    _, answers = TypeAdapter.json_schemas(adapters, ref_template=prefix + "{model}")  # type: ignore[arg-type]
    schemas = {**request_schemas(prefix), **answers["$defs"]}
    return {name: _converted(schema, swagger) for name, schema in sorted(schemas.items())}


# ---------------------------------------------------------------- JSON Schema 2020-12 -> OpenAPI 3.0 / 2.0


def _converted(node: Any, swagger: bool) -> Any:
    """A JSON Schema 2020-12 tree as OpenAPI 3.0 (or, `swagger`, 2.0) reads it, converted bottom-up."""
    if isinstance(node, list):
        return [_converted(item, swagger) for item in node]
    if not isinstance(node, dict):
        return node
    node = _without_any_of_null({key: _converted(value, swagger) for key, value in node.items()}, swagger)
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    if "examples" in node and isinstance(node["examples"], list):
        node = {**{k: v for k, v in node.items() if k != "examples"}, "example": node["examples"][0]}
    if "properties" not in node:
        node.pop("title", None)  # a field's title is pydantic's spelling of its name: noise
    if swagger and "default" in node and node["default"] is None:
        del node["default"]  # Swagger 2.0 cannot say null here; x-nullable and no default mean the same
    return node


def _without_any_of_null(node: dict[str, Any], swagger: bool) -> dict[str, Any]:
    if "anyOf" not in node:
        return node
    options = [option for option in node["anyOf"] if option != {"type": "null"}]
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    nullable = len(options) < len(node["anyOf"])
    if nullable:
        rest["x-nullable" if swagger else "nullable"] = True
    if nullable and len(options) == 1 and "$ref" not in options[0]:
        return {**options[0], **rest}
    if swagger:  # 2.0 has no anyOf: one option stays (allOf, x-nullable read next to it); several: any value
        return {"allOf": options, **rest} if len(options) == 1 else rest
    if nullable:  # 3.0 reads `nullable` only next to a `type` (not $ref, not allOf): null is an option
        return {"anyOf": [*options, {"enum": [None], "nullable": True}], **rest}
    return node


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
    # Set for a long-running operation (202 + Location until done: Logic Apps' asynchronous pattern): what
    # following the Location ends with (for connectors).
    final_answer: Answer | None = None
    security: str = "function"  # function | system | anonymous
    parameters: tuple[dict[str, Any], ...] = ()
    status_operation: str | None = None  # the app's status operation for the ids this one answers


HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "the status URL to poll (GET) until it answers something other than 202. It "
                                "carries a key (the function key sent as `code`: the app's status endpoint; "
                                "else the Durable extension's system key): a secret",
                 "schema": {"type": "string", "format": "uri"}},
    "Retry-After": {"description": "seconds to wait before polling Location",
                    "schema": {"type": "integer", "minimum": 0}},
}
SECURITY = {"function": [{"functionKey": []}, {"functionKeyQuery": []}], "system": [{"systemKey": []}],
            "anonymous": []}
SECURITY_SCHEMES = {
    "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                    "description": "a function key of the app"},
    "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code",
                         "description": "a function key of the app, as the `code` query"},
    "systemKey": {"type": "apiKey", "in": "query", "name": "code",
                  "description": "the Durable extension's system key (in the Location URL)"},
}
LONG_RUNNING = {"x-ms-long-running-operation": True,
                "x-ms-long-running-operation-options": {"final-state-via": "location"}}
INFO = {
    "title": "Hopsworks AKS + ACR setup",
    "version": "1.0.0",
    "description": "Sets up an Azure subscription for Hopsworks on AKS + ACR (the Hopsworks guide "
                   "'Integration with Azure AKS and ACR') from one request, as a Durable Functions app: POST "
                   "answers 202, follow Location until it is not 202.",
}
UNAUTHORIZED = Answer(401, "the function key (x-functions-key header or `code` query) is missing or wrong")


def _parameter(name: str, where: str, description: str, schema: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema or {"type": "string"}}


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
            _start_answers("setup", ex), "setups", "SetupRequest", final_answer=setup_done,
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
            _start_answers("teardown", teardown_ex), "lifecycle", "SetupRequest", final_answer=teardown_done,
            status_operation="GetTeardownStatus",
        ),
        _app_status_operation("setup", setup_done, ex),
        _app_status_operation("teardown", teardown_done, {}),
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
            "status", security="system",
            parameters=(
                _parameter("instanceId", "path", "the 202 payload's id"),
                _parameter("taskHub", "query", "the task hub (in the Location URL)"),
                _parameter("connection", "query", "the storage connection name (in the Location URL)"),
                _parameter("returnInternalServerErrorOnFailure", "query", "answer 500 (not 200) once the run "
                           "has failed", {"type": "boolean", "default": False}),
            ),
        ),
        Operation(
            "/api/openapi.json", "get", "GetApiDescription", "This API description",
            "OpenAPI 3.0 (default) or, with format=swagger2, Swagger 2.0 for Logic Apps / Power Automate "
            "custom connectors. Anonymous: API Management and the connector wizards import it from a URL "
            "without a key, and it holds no secret (no key, no instance, nothing from the subscription).",
            (Answer(200, "the API description"),
             Answer(400, "an unknown format", "ErrorList")),
            "meta", security="anonymous",
            parameters=(_parameter("format", "query", "openapi3 (default) or swagger2",
                                   {"type": "string", "enum": list(FORMATS), "default": FORMATS[0]}),),
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
                ex.get("runningStatus")),
         done,
         Answer(400, f"not an id a POST /api/{plural} answered", "ErrorList"),
         UNAUTHORIZED,
         Answer(404, f"no {kind} with this id", "ServiceError"),
         Answer(500, f"the {kind} failed (or its status could not be read)", ("FailedStatus", "ServiceError"),
                example=ex.get("failedStatus"))),
        "status",
        parameters=(_parameter("instanceId", "path", f"the id POST /api/{plural} answered"),),
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
    broken = dict(first)  # only its top-level keys change
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
        {"id": f"{group}/{kind}/{name}", "type": kind, "action": "created"}
        for kind, name in (("Microsoft.ManagedIdentity/userAssignedIdentities", request.identity.name),
                           ("Microsoft.ContainerService/managedClusters", request.aks.name),
                           ("Microsoft.ContainerRegistry/registries", request.acr.name))
    ]
    instance = request.instance_id
    base = f"https://<app>.azurewebsites.net/runtime/webhooks/durabletask/instances/{instance}"
    suffix = "taskHub=<hub>&connection=Storage&code=<system key>"
    run = {"name": "setup_orchestrator", "instanceId": instance}
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
        "runningStatus": {**run, "runtimeStatus": "Running",
                          "customStatus": {"topology": request.topology, "steps": steps, "done": 2,
                                           "total": len(steps)},
                          "output": None, **times},
        "completedStatus": {**run, "runtimeStatus": "Completed",
                            "output": build_setup_result(normalized, resources, location), **times},
        "failedStatus": {**run, "runtimeStatus": "Failed",
                         "output": "Orchestrator function 'setup_orchestrator' failed: Setup failed at step "
                                   "aks_cluster: QuotaExceeded: ... Rolled back 3 resource(s) this run "
                                   "created: ... Left behind: nothing.",
                         **times},
    }


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


# ---------------------------------------------------------------- the documents


def build_document(
    fmt: str,
    server_url: str | None = None,
    examples: Mapping[str, Any] | None = None,
    include: Callable[[Operation], bool] | None = None,
) -> dict[str, Any]:
    """The document in `fmt` (one of FORMATS). `server_url`: the app's origin (from the request); `examples`:
    as `build_examples` makes them; `include`: which operations to describe (default all)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    swagger = fmt == "swagger2"
    included = [op for op in operations(examples) if include is None or include(op)]
    requests = dict((examples or {}).get("requests") or {})
    present = {op.operation_id for op in included}
    paths: dict[str, dict[str, Any]] = {}
    for op in included:
        if not swagger:
            paths.setdefault(op.path, {})[op.method] = _operation_30(op, requests, present)
        elif op.tag != "status":  # the connector variant has no status endpoints: connectors follow Location
            paths.setdefault(op.path, {})[op.method] = _operation_20(op)
    server = server_url.rstrip("/") if server_url else None
    if swagger:
        return _swagger2(paths, server, requests if any(op.request_schema for op in included) else {})
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": INFO,
        "paths": paths,
        "components": {"schemas": _schemas(swagger=False), "securitySchemes": SECURITY_SCHEMES},
        "tags": [{"name": "setups"}, {"name": "lifecycle"}, {"name": "status"}, {"name": "meta"}],
    }
    if server:
        document["servers"] = [{"url": server}]
    return document


def _head(op: Operation) -> dict[str, Any]:
    return {"operationId": op.operation_id, "summary": op.summary, "description": op.description,
            "tags": [op.tag]}


def _operation_30(op: Operation, requests: dict[str, Any], present: set[str]) -> dict[str, Any]:
    described = {**_head(op), "responses": {str(a.status): _answer(a, swagger=False) for a in op.answers}}
    if op.parameters:
        described["parameters"] = [dict(p) for p in op.parameters]
    if op.request_schema:
        content: dict[str, Any] = {"schema": {"$ref": COMPONENTS + op.request_schema}}
        if requests:
            content["examples"] = {name: {"summary": f"examples/{name}.json", "value": body}
                                   for name, body in requests.items()}
        described["requestBody"] = {"required": True, "content": {JSON: content}}
    described["security"] = SECURITY[op.security]
    if op.final_answer is not None:
        described.update(LONG_RUNNING)
        # The 202 links to the status operations that answer for its id.
        links = {target: {"operationId": target, "parameters": {"instanceId": "$response.body#/id"},
                          "description": "the run's status (Location has the URL to use, with its key)"}
                 for target in (op.status_operation, "GetRunStatus") if target in present}
        if links:
            described["responses"]["202"]["links"] = links
    return described


def _operation_20(op: Operation) -> dict[str, Any]:
    described = {**_head(op), "x-ms-visibility": "important" if op.final_answer else "advanced"}
    parameters = [{**{key: value for key, value in p.items() if key != "schema"}, **p["schema"],
                   "x-ms-summary": _summary(p["name"])} for p in op.parameters]
    if op.request_schema:
        parameters.append({"name": "body", "in": "body", "required": True,
                           "schema": {"$ref": DEFINITIONS + op.request_schema}, "x-ms-summary": "Request"})
    if parameters:
        described["parameters"] = parameters
    answers = {str(a.status): _answer(a, swagger=True) for a in op.answers}
    if op.final_answer is not None:  # its shape; the status endpoints' answers carry the examples
        answers["200"] = _answer(replace(op.final_answer, example=None), swagger=True)
        described.update(LONG_RUNNING)
    described["responses"] = dict(sorted(answers.items()))
    if op.security == "anonymous":
        described["security"] = []
    return described


def _answer(answer: Answer, swagger: bool) -> dict[str, Any]:
    prefix = DEFINITIONS if swagger else COMPONENTS
    names = (answer.schema,) if isinstance(answer.schema, str) else answer.schema or ()
    refs = [{"$ref": prefix + name} for name in names]
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs} if refs else None
    if schema is None and answer.status == 200:
        schema = {"type": "object"}
    described: dict[str, Any] = {"description": answer.description}
    if swagger:
        if schema:
            described["schema"] = schema
        if answer.example is not None:
            described["examples"] = {JSON: answer.example}
        if answer.headers:
            described["headers"] = {name: {"description": HEADERS[name]["description"],
                                           **HEADERS[name]["schema"]} for name in answer.headers}
        return described
    if answer.headers:
        described["headers"] = {name: HEADERS[name] for name in answer.headers}
    if schema:
        example = {} if answer.example is None else {"example": answer.example}
        described["content"] = {JSON: {"schema": schema, **example}}
    return described


def _swagger2(paths: dict[str, Any], server: str | None, requests: dict[str, Any]) -> dict[str, Any]:
    """The Swagger 2.0 variant for custom connectors: body parameters, `x-ms-*` hints, and for each
    long-running operation the final answer (200) its Location ends with."""
    definitions = _schemas(swagger=True)
    for schema in definitions.values():  # x-ms-visibility: required fields important, defaulted ones advanced
        required = set(schema.get("required") or ())
        for name, prop in (schema.get("properties") or {}).items():
            prop.setdefault("x-ms-summary", _summary(name))
            prop.setdefault("x-ms-visibility", "important" if name in required else "advanced")
    if requests:  # 2.0 has no named request examples: the schema's one example
        definitions["SetupRequest"]["example"] = next(iter(requests.values()))
    swagger: dict[str, Any] = {
        "swagger": "2.0",
        "info": INFO,
        "basePath": "/",
        "schemes": ["https"],
        "consumes": [JSON],
        # No `produces`: in 2.0 it would claim JSON for every answer, and a 401 from the host has no body.
        "paths": paths,
        "definitions": definitions,
        # One key scheme: custom connectors take one API key parameter.
        "securityDefinitions": {"functionKey": SECURITY_SCHEMES["functionKey"]},
        "security": [{"functionKey": []}],
    }
    if server:
        scheme, _, rest = server.partition("://")
        swagger["schemes"] = [scheme]
        swagger["host"] = rest.split("/", 1)[0]
    return swagger


def _summary(name: str) -> str:
    words = "".join(f" {c}" if c.isupper() else c for c in name).strip()
    return words[:1].upper() + words[1:]
