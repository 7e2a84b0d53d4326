"""Core of the simulated Azure Resource Manager: requests, routing, state, long-running operations, faults.

How to write a provider
=======================

A provider is a module in ``simulator/providers/`` with one function ``register(arm: Arm) -> None`` that
adds routes; list the module in ``simulator.providers.PROVIDERS``. A route is a path template plus a
handler::

    from simulator.arm import Arm, ArmError, Request, Response

    TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
    RID = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/" + TYPE + "/{name}"

    def register(arm: Arm) -> None:
        arm.route("PUT", RID, put_identity, resource_type=TYPE, api_versions={"2024-11-30"})

    def put_identity(arm: Arm, req: Request) -> Response:
        rid = req.resource_id                      # canonical id built from the template and the request path
        body = req.json_object()                   # parsed JSON object, else 400 InvalidRequestContent
        existing = arm.store.get(rid)              # case-insensitive lookup, None if absent
        ...
        arm.store.put(rid, TYPE, resource_body)    # stores the ARM JSON (id kept case-preserving)
        return Response(201, resource_body)

Templates: ``{name}`` matches one path segment, ``{name*}`` matches one or more (e.g. ``/{scope*}/providers/
Microsoft.Authorization/roleAssignments/{roleAssignmentName}``); literal segments match case-insensitively.
When several routes match, the one with the most literal segments wins. ``req.params`` holds the captured
values.

What the core does before a handler runs, so providers need not:

* bearer token check (401 ``InvalidAuthenticationToken``), ``api-version`` present (400
  ``MissingApiVersionParameter``) and, when the route lists ``api_versions``, supported (400
  ``InvalidApiVersionParameter``); subscription id must be a GUID (400 ``InvalidSubscriptionId``);
* ``ResourceGroupNotFound`` (404) for anything under a resource group that does not exist;
* authorization (``simulator/rbac.py``): the caller is the token's ``oid`` (``req.caller``); the action is
  derived from the path and method (``<namespace>/<types>/read|write|delete``, POST ``.../action``) and
  checked against the caller's role assignments at the request's path -> 403 ``AuthorizationFailed``
  (before ``ResourceGroupNotFound``, as ARM); operation-status URLs are not authorized;
* faults of kind ``status`` and ``drop`` (a handler never sees them) and the request log;
* every in-flight long-running operation whose time has come is completed (lazy state advance).

Errors: ``raise ArmError(status, code, message)`` anywhere in a handler; the client gets the ARM error body
``{"error": {"code", "message"}}``. Helpers: ``arm.not_found(rid)`` (404 ``ResourceNotFound`` with ARM's
text), ``arm.require_parent(parent_id)`` (404 ``ParentResourceNotFound``).

State: ``arm.store`` (a :class:`Store`) maps resource ids to :class:`Resource` records (``id``, ``type``,
``body`` = what GET returns, ``internal`` = provider-private dict). ``store.delete(rid)`` removes the
resource, every resource under its id (children) and the role assignments scoped at or under it. Everything
runs under one lock (``arm.lock``, held for the whole request), so handlers need no locking of their own.

Long-running operations: ``arm.start_lro(req, rid, kind, status=201, body=..., headers=(...))`` registers
an operation on the resource and returns the first response, with ABSOLUTE ``Azure-AsyncOperation`` and/or
``Location`` URLs on this host (``headers`` names which) and an integer ``Retry-After`` when the scaled poll
hint is >= 1 s. The provider sets the body's ``provisioningState`` (Creating/Updating/Deleting) itself
before calling. At the end the core sets ``properties.provisioningState`` to Succeeded/Failed/Canceled
(``kind="delete"``: removes the resource and its children on success) and then calls ``on_done(arm, op)``
if given (side effects: AKS node resource group, peering state ...). How long an operation lasts:
:data:`LATENCY` (seconds per resource type and kind) times ``latency_scale``, or, in deterministic mode,
``polls_to_complete`` observations (status reads of the operation or GETs of the resource).
``arm.ensure_idle(rid, code)`` raises 409 with ``code`` (``OperationNotAllowed``,
``AnotherOperationInProgress``) when an operation runs on ``rid`` or (``include_children=True``) under it.
An operation can also hold OTHER resources busy while it runs: append their ids to ``op.holds`` (an AKS
create holds its node vnet); ``arm.holding_operation(rid)`` finds such an operation.

Principals: ``arm.register_principal(principal_id)`` for every identity that can receive role assignments
(user assigned identities, a cluster's system identity and kubelet identity). List them in the owning
resource's ``internal["principals"]`` and use ``arm.delete_resource(rid)`` (or a delete LRO) to remove it:
its principals are then forgotten too. Provider-private module state must be cleared on ``Simulator.reset``:
append a callable to ``arm.extra_reset``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator.rbac import (
    APP_CLIENT_ID,
    APP_PRINCIPAL_ID,
    APP_RESOURCE_ID,
    RA_TYPE,
    UNAUTHORIZED_ACTIONS,
    Assignment,
    Rbac,
    action_for,
    authorization_failed_message,
    linked_authorization_failed_message,
    linked_checks,
)

# Seconds an operation takes at latency_scale=1, per resource type (lower case) and kind.
LATENCY: dict[str, dict[str, float]] = {
    "microsoft.containerservice/managedclusters": {"create": 300.0, "update": 240.0, "delete": 180.0},
    "microsoft.containerregistry/registries": {"create": 15.0, "update": 5.0, "delete": 10.0},
    "microsoft.network/virtualnetworks": {"create": 5.0, "update": 5.0, "delete": 5.0},
    "microsoft.network/virtualnetworks/subnets": {"create": 5.0, "update": 5.0, "delete": 5.0},
    "microsoft.network/virtualnetworks/virtualnetworkpeerings": {"create": 5.0, "update": 5.0, "delete": 5.0},
    "microsoft.network/privatednszones": {"create": 30.0, "update": 30.0, "delete": 30.0},
    "microsoft.network/privatednszones/virtualnetworklinks": {"create": 30.0, "update": 30.0, "delete": 30.0},
    "microsoft.resources/resourcegroups": {"delete": 10.0},
    "microsoft.managedidentity/userassignedidentities": {"create": 0.0, "update": 0.0, "delete": 0.0},
}
DEFAULT_LATENCY = 5.0
# The Retry-After hint (seconds at latency_scale=1) each provider sends on its operations.
RETRY_AFTER: dict[str, float] = {
    "microsoft.containerservice/managedclusters": 15.0,
    "microsoft.containerregistry/registries": 5.0,
    "microsoft.network/privatednszones": 10.0,
    "microsoft.network/privatednszones/virtualnetworklinks": 10.0,
}
DEFAULT_RETRY_AFTER = 10.0

# The simulated directory (tenant) every identity and token belongs to.
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

ARM_AUDIENCES = {
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
}

_CHALLENGE = 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token"'
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value or ""))


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_guid() -> str:
    return str(uuid.uuid4())


class ArmError(Exception):
    """An ARM error answer: ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        return Response(self.status, self.body(), dict(self.headers))


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; None -> empty body
    headers: dict[str, str] = field(default_factory=dict)


class Drop(Exception):
    """Raised by the core to close the connection without answering (fault kind ``drop``)."""


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, no query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)
    route: Route | None = None
    resource_id: str = ""  # canonical id from the route template (up to the last captured segment)
    lro_fault: Fault | None = None  # an lro_failed / lro_canceled fault waiting for start_lro
    log_resource_type: str | None = None  # a handler may name the type for the request log (operation polls)
    caller: str = ""  # principal id (oid) of the bearer token

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")

    def json(self) -> Any:
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return body

    @property
    def subscription_id(self) -> str:
        return self.params.get("subscriptionId", "")

    @property
    def resource_group(self) -> str:
        return self.params.get("resourceGroupName", "")


Handler = Callable[["Arm", Request], Response]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    resource_type: str | None
    api_versions: frozenset[str] | None
    action: str | None
    regex: re.Pattern[str]
    literal_count: int

    def permission_action(self, method: str) -> str | None:
        if self.action:
            return self.action
        if not self.resource_type:
            return None
        verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
            method
        )
        return f"{self.resource_type}/{verb}" if verb else None


def _compile(template: str) -> tuple[re.Pattern[str], int]:
    parts = []
    literals = 0
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("*}"):
            parts.append(f"(?P<{segment[1:-2]}>[^/]+(?:/[^/]+)*?)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literals += 1
    return re.compile("^/" + "/".join(parts) + "/?$", re.IGNORECASE), literals


def _fill(template: str, params: dict[str, str]) -> str:
    """The template with its captures filled in, cut after the last capture (= the resource's id)."""
    out = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{"):
            out.append(params[segment.strip("{}*")])
        else:
            out.append(segment)
    last = max((i for i, s in enumerate(template.strip("/").split("/")) if s.startswith("{")), default=-1)
    return "/" + "/".join(out[: last + 1])


@dataclass
class Resource:
    id: str
    type: str
    body: dict[str, Any]
    internal: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)


class Store:
    """Resources by id; ids keep their case, lookups ignore it."""

    def __init__(self) -> None:
        self._items: dict[str, Resource] = {}

    def get(self, rid: str) -> Resource | None:
        return self._items.get(rid.lower().rstrip("/"))

    def put(
        self, rid: str, rtype: str, body: dict[str, Any], internal: dict[str, Any] | None = None
    ) -> Resource:
        key = rid.lower().rstrip("/")
        existing = self._items.get(key)
        if existing is not None:
            existing.body = body
            existing.type = rtype
            if internal is not None:
                existing.internal = internal
            return existing
        res = Resource(id=rid.rstrip("/"), type=rtype, body=body, internal=internal or {})
        self._items[key] = res
        return res

    def delete(self, rid: str) -> list[Resource]:
        """Remove the resource and everything under its id (children, role assignments scoped there)."""
        key = rid.lower().rstrip("/")
        gone = [r for k, r in self._items.items() if k == key or k.startswith(key + "/")]
        for r in gone:
            del self._items[r.id.lower()]
        return gone

    def children(self, parent_id: str, rtype: str | None = None) -> list[Resource]:
        """Resources under ``parent_id`` at any depth (optionally of one type), in creation order."""
        prefix = parent_id.lower().rstrip("/") + "/"
        return [
            r
            for k, r in self._items.items()
            if k.startswith(prefix) and (rtype is None or r.type.lower() == rtype.lower())
        ]

    def of_type(self, rtype: str) -> list[Resource]:
        return [r for r in self._items.values() if r.type.lower() == rtype.lower()]

    def all(self) -> list[Resource]:
        return list(self._items.values())

    def clear(self) -> None:
        self._items.clear()


@dataclass
class Fault:
    kind: str  # status | drop | lro_failed | lro_canceled | principal_not_found
    method: str | None = None
    path: str | None = None  # substring of the path (case-insensitive), or a regex when regex=True
    regex: bool = False
    resource_type: str | None = None
    count: int = 1  # times it fires; -1 = forever
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    seconds: float | None = None  # principal_not_found: principals younger than this
    requests: int | None = None  # principal_not_found: principals younger than this many requests
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0

    def matches(self, method: str, path: str, resource_type: str | None) -> bool:
        if self.count == 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path:
            if self.regex:
                if not re.search(self.path, path, re.IGNORECASE):
                    return False
            elif self.path.lower() not in path.lower():
                return False
        if self.resource_type and (resource_type or "").lower() != self.resource_type.lower():
            return False
        return True

    def consume(self) -> None:
        self.fired += 1
        if self.count > 0:
            self.count -= 1

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


FAULT_KINDS = {"status", "drop", "lro_failed", "lro_canceled", "principal_not_found"}


@dataclass
class Operation:
    id: str
    resource_id: str
    resource_type: str
    kind: str  # create | update | delete
    subscription_id: str
    namespace: str
    location: str
    started: float
    duration: float
    polls_needed: int | None
    outcome: str = "Succeeded"  # what it ends with
    error: dict[str, str] | None = None
    status: str = "InProgress"
    observed: int = 0
    start_time: str = field(default_factory=utc_now_iso)
    end_time: str | None = None
    on_done: Callable[[Arm, Operation], None] | None = None
    retry_after: float = DEFAULT_RETRY_AFTER
    result_body: dict[str, Any] | None = None
    # Ids of OTHER resources this operation keeps busy while it runs (an AKS create: its vnet); see
    # :meth:`Arm.holding_operation`.
    holds: list[str] = field(default_factory=list)

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.status_path(),
            "name": self.id,
            "status": self.status,
            "startTime": self.start_time,
        }
        if self.end_time:
            body["endTime"] = self.end_time
        if self.error and self.status in ("Failed", "Canceled"):
            body["error"] = dict(self.error)
        return body

    def status_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/providers/{self.namespace}/locations/{self.location}"
            f"/operationStatuses/{self.id}"
        )

    def result_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/providers/{self.namespace}/locations/{self.location}"
            f"/operationResults/{self.id}"
        )


class Arm:
    """The simulated ARM: routes, state, operations, faults, principals, permissions, tokens, request log."""

    def __init__(self, latency_scale: float = 1.0, polls_to_complete: int | None = None) -> None:
        self.lock = threading.RLock()
        self.latency_scale = latency_scale
        self.polls_to_complete = polls_to_complete
        # Per resource type (lower case) and kind, seconds at latency_scale=1 that replace LATENCY's (a run
        # against another latency model, e.g. an 8-minute cluster).
        self.latency_overrides: dict[str, dict[str, float]] = {}
        self.principal_replication_delay: float = 0.0  # seconds (scaled) a new principal stays invisible
        self.principal_replication_requests: int = 0  # or: requests a new principal stays invisible
        self.endpoint = ""  # set by the server: "https://127.0.0.1:PORT"
        self.routes: list[Route] = []
        self.store = Store()
        self.operations: dict[str, Operation] = {}
        self.faults: list[Fault] = []
        self.principals: dict[str, dict[str, Any]] = {}
        self.rbac = Rbac()  # role definitions, grants, denies (simulator/rbac.py)
        self._token_key = secrets.token_bytes(32)  # HS256 key of the tokens this simulator issues
        self.tokens: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.request_count = 0
        self.extra_reset: list[Callable[[Arm], None]] = []  # providers' own state to clear on reset()
        self._canonical: tuple[int, dict[str, str]] = (-1, {})

    # ----- routing -----------------------------------------------------------------------------------------
    def route(
        self,
        method: str,
        template: str,
        handler: Handler,
        resource_type: str | None = None,
        api_versions: Iterable[str] | None = None,
        action: str | None = None,
    ) -> None:
        regex, literals = _compile(template)
        self.routes.append(
            Route(
                method=method.upper(),
                template=template,
                handler=handler,
                resource_type=resource_type,
                api_versions=frozenset(api_versions) if api_versions else None,
                action=action,
                regex=regex,
                literal_count=literals,
            )
        )

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): path_known = some route matches the path with another method."""
        best: tuple[Route | None, dict[str, str]] = (None, {})
        path_known = False
        for r in self.routes:
            m = r.regex.match(path)
            if not m:
                continue
            path_known = True
            if r.method != method.upper():
                continue
            if best[0] is None or r.literal_count > best[0].literal_count:
                best = (r, m.groupdict())
        return best[0], best[1], path_known

    # ----- helpers for providers -------------------------------------------------------------------------
    def not_found(self, rid: str) -> ArmError:
        parsed = parse_resource_id(rid)
        rtype = parsed.get("type", "")
        name = parsed.get("name", rid.rsplit("/", 1)[-1])
        rg = parsed.get("resourceGroup", "")
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    def require_parent(self, parent_id: str) -> Resource:
        parent = self.store.get(parent_id)
        if parent is None:
            parsed = parse_resource_id(parent_id)
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource "
                f"'{parsed.get('name', parent_id)}' not found.",
            )
        return parent

    def resource_group(self, subscription_id: str, name: str) -> Resource | None:
        return self.store.get(f"/subscriptions/{subscription_id}/resourceGroups/{name}")

    def add_resource_group(
        self, subscription_id: str, name: str, location: str, tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        with self.lock:
            rid = f"/subscriptions/{subscription_id}/resourceGroups/{name}"
            existing = self.store.get(rid)
            if existing is not None:
                return existing.body
            body = {
                "id": rid,
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location,
                "tags": dict(tags or {}),
                "properties": {"provisioningState": "Succeeded"},
            }
            self.store.put(rid, "Microsoft.Resources/resourceGroups", body)
            return body

    # ----- principals ------------------------------------------------------------------------------------
    def register_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        with self.lock:
            self.principals[principal_id.lower()] = {
                "type": principal_type,
                "created": time.monotonic(),
                "request": self.request_count,
            }

    def unregister_principal(self, principal_id: str) -> None:
        with self.lock:
            self.principals.pop(principal_id.lower(), None)

    def principal_visible(
        self, principal_id: str, method: str = "PUT", path: str = "", resource_type: str | None = None
    ) -> bool:
        """False when the principal is unknown or still 'replicating' (standing delay or a fault)."""
        info = self.principals.get(principal_id.lower())
        if info is None:
            return False
        age_s = time.monotonic() - info["created"]
        age_n = self.request_count - info["request"]
        if self.principal_replication_delay and age_s < self.principal_replication_delay * self.latency_scale:
            return False
        if self.principal_replication_requests and age_n < self.principal_replication_requests:
            return False
        for f in self.faults:
            if f.kind != "principal_not_found" or not f.matches(method, path, resource_type):
                continue
            young = (f.seconds is not None and age_s < f.seconds) or (
                f.requests is not None and age_n < f.requests
            )
            if f.seconds is None and f.requests is None:
                young = True
            if young:
                f.consume()
                return False
        return True

    # ----- permissions (model and rules: simulator/rbac.py) -----------------------------------------------
    def deny_permission(self, subscription_id: str, resource_group: str, action: str) -> None:
        with self.lock:
            self.rbac.deny(f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}", action)

    def assignments_at(self, scope: str, principal_id: str | None = None) -> list[Assignment]:
        """Every role assignment that applies at ``scope`` (configured grants and ones made through ARM)."""
        return self.rbac.applicable(self.stored_assignments(), scope, principal_id)

    def stored_assignments(self) -> list[Assignment]:
        """The role assignments made through ARM (the store's), at any scope."""
        return [
            Assignment(
                principal_id=p["principalId"],
                role_guid=p["roleDefinitionId"].rstrip("/").rsplit("/", 1)[-1],
                scope=p["scope"],
                name=r.body["name"],
                principal_type=p.get("principalType") or "ServicePrincipal",
                body=r.body,
            )
            for r in self.store.of_type(RA_TYPE)
            for p in [r.body["properties"]]
        ]

    def authorize(self, req: Request, principal_id: str) -> None:
        """403 AuthorizationFailed unless the caller's assignments allow the request's action at its scope."""
        action = action_for(req.method, req.path, self.canonical_names())
        if action is None or action.lower() in UNAUTHORIZED_ACTIONS:
            return
        scope = "/" + req.path.strip("/")
        if not self.allowed(principal_id, action, scope):
            message = authorization_failed_message(principal_id, action, scope)
            raise ArmError(403, "AuthorizationFailed", message)
        try:
            body = req.json() if req.method == "PUT" else None
        except ArmError:
            return  # the provider answers the bad body
        # A write that references another resource also needs an action there (ARM's linked scopes).
        for linked_action, linked in linked_checks(action, body):
            if not self.allowed(principal_id, linked_action, linked):
                message = linked_authorization_failed_message(
                    principal_id, action, scope, linked_action, linked
                )
                raise ArmError(403, "LinkedAuthorizationFailed", message)

    def allowed(self, principal_id: str, action: str, scope: str) -> bool:
        return self.rbac.is_allowed(self.assignments_at(scope, principal_id), action, scope)

    def canonical_names(self) -> dict[str, str]:
        """Lower-case type segment -> the spelling of the registered resource types (for ARM's messages)."""
        if self._canonical[0] != len(self.routes):
            names = {"subscriptions": "subscriptions", "resourcegroups": "resourceGroups"}
            for r in self.routes:
                for segment in (r.resource_type or "").split("/"):
                    names.setdefault(segment.lower(), segment)
            self._canonical = (len(self.routes), names)
        return self._canonical[1]

    # ----- long-running operations -----------------------------------------------------------------------
    def duration(self, resource_type: str, kind: str) -> float:
        overrides = self.latency_overrides.get(resource_type.lower(), {})
        table = LATENCY.get(resource_type.lower(), {})
        return overrides.get(kind, table.get(kind, DEFAULT_LATENCY)) * self.latency_scale

    def retry_after_for(self, resource_type: str) -> int | None:
        """Integer Retry-After for this resource type's operations, or None when below 1 s / deterministic."""
        if self.polls_to_complete is not None:
            return None
        value = RETRY_AFTER.get(resource_type.lower(), DEFAULT_RETRY_AFTER) * self.latency_scale
        return int(value) if value >= 1 else None

    def active_operation(self, rid: str, include_children: bool = False) -> Operation | None:
        self.advance()
        key = rid.lower().rstrip("/")
        for op in self.operations.values():
            if op.status != "InProgress":
                continue
            k = op.resource_id.lower()
            if k == key or (include_children and k.startswith(key + "/")):
                return op
        return None

    def holding_operation(self, rid: str) -> Operation | None:
        """An operation in progress on another resource that holds ``rid`` (or a resource under it) busy."""
        self.advance()
        key = rid.lower().rstrip("/")
        for op in self.operations.values():
            if op.status != "InProgress":
                continue
            for held in op.holds:
                h = held.lower().rstrip("/")
                if h == key or h.startswith(key + "/") or key.startswith(h + "/"):
                    return op
        return None

    def ensure_idle(
        self,
        rid: str,
        code: str = "OperationNotAllowed",
        include_children: bool = False,
        message: str | None = None,
    ) -> None:
        op = self.active_operation(rid, include_children)
        if op is not None:
            raise ArmError(
                409,
                code,
                message
                or f"Operation is not allowed because there's an in progress {op.kind} operation on "
                f"'{op.resource_id}' (operation id {op.id}). Please wait for it to finish before retrying.",
            )

    def start_lro(
        self,
        req: Request,
        rid: str,
        kind: str,
        status: int = 201,
        body: dict[str, Any] | None = None,
        headers: Iterable[str] = ("Azure-AsyncOperation",),
        resource_type: str | None = None,
        location: str | None = None,
        on_done: Callable[[Arm, Operation], None] | None = None,
        duration: float | None = None,
    ) -> Response:
        """Start an operation on ``rid`` and answer the request that started it.

        ``headers`` names which of ``Azure-AsyncOperation`` / ``Location`` to send (absolute URLs).
        ``body`` is the first response's body (None -> empty). Faults ``lro_failed``/``lro_canceled``
        matched on this request decide the outcome.
        """
        rtype = resource_type or (req.route.resource_type if req.route else "") or ""
        namespace = rtype.split("/", 1)[0] if rtype else "Microsoft.Resources"
        res = self.store.get(rid)
        loc = location or (res.body.get("location") if res else None) or "global"
        op = Operation(
            id=new_guid(),
            resource_id=res.id if res else rid,
            resource_type=rtype,
            kind=kind,
            subscription_id=req.subscription_id or parse_resource_id(rid).get("subscription", ""),
            namespace=namespace,
            location=str(loc).replace(" ", "").lower(),
            started=time.monotonic(),
            duration=self.duration(rtype, kind) if duration is None else duration * self.latency_scale,
            polls_needed=self.polls_to_complete,
            on_done=on_done,
        )
        fault = req.lro_fault
        if fault is not None:
            op.outcome = "Failed" if fault.kind == "lro_failed" else "Canceled"
            op.error = {
                "code": fault.code or ("InternalServerError" if fault.kind == "lro_failed" else "Canceled"),
                "message": fault.message or f"The operation ended {op.outcome} (simulated fault).",
            }
            fault.consume()
            req.lro_fault = None
        self.operations[op.id] = op
        out_headers: dict[str, str] = {}
        for name in headers:
            if name.lower() == "azure-asyncoperation":
                out_headers["Azure-AsyncOperation"] = (
                    self.endpoint + op.status_path() + f"?api-version={req.api_version}"
                )
            elif name.lower() == "location":
                out_headers["Location"] = self.endpoint + op.result_path() + f"?api-version={req.api_version}"
        retry = self.retry_after_for(rtype)
        if retry is not None:
            out_headers["Retry-After"] = str(retry)
        # An operation that takes no time at all still reports InProgress first, as ARM does.
        return Response(status, body, out_headers)

    def observe(self, rid: str) -> None:
        """A GET of a resource counts as an observation of its operation (deterministic mode)."""
        key = rid.lower().rstrip("/")
        for op in self.operations.values():
            if op.status == "InProgress" and op.resource_id.lower() == key:
                op.observed += 1

    def advance(self) -> None:
        """Finish every operation whose time (or number of observations) has come."""
        now = time.monotonic()
        for op in list(self.operations.values()):
            if op.status != "InProgress":
                continue
            if op.polls_needed is not None:
                due = op.observed >= op.polls_needed
            else:
                due = now - op.started >= op.duration
            if due:
                self._finish(op)

    def _finish(self, op: Operation) -> None:
        op.status = op.outcome
        op.end_time = utc_now_iso()
        res = self.store.get(op.resource_id)
        if op.kind == "delete" and op.outcome == "Succeeded":
            for gone in self.store.delete(op.resource_id):
                self._forget_principals(gone)
        elif res is not None:
            props = res.body.setdefault("properties", {})
            if isinstance(props, dict):
                props["provisioningState"] = op.outcome
            op.result_body = copy.deepcopy(res.body)
        if op.on_done is not None:
            op.on_done(self, op)

    def _forget_principals(self, res: Resource) -> None:
        for pid in res.internal.get("principals", []):
            self.unregister_principal(pid)

    def delete_resource(self, rid: str) -> list[Resource]:
        """Remove a resource now (children and scoped role assignments too); forget its principals."""
        gone = self.store.delete(rid)
        for r in gone:
            self._forget_principals(r)
        return gone

    # ----- faults ----------------------------------------------------------------------------------------
    def add_fault(self, **kwargs: Any) -> Fault:
        kind = kwargs.get("kind", "status")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {sorted(FAULT_KINDS)}, not {kind!r}")
        if kind == "status" and not kwargs.get("status"):
            raise ValueError("fault kind 'status' needs status=<HTTP status>")
        allowed = set(Fault.__dataclass_fields__) - {"id", "fired"}
        unknown = set(kwargs) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = Fault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def fault_for(self, method: str, path: str, resource_type: str | None, kinds: set[str]) -> Fault | None:
        for f in self.faults:
            if f.kind in kinds and f.matches(method, path, resource_type):
                return f
        return None

    # ----- tokens ----------------------------------------------------------------------------------------
    def issue_token(self, resource: str, principal_id: str | None = None) -> dict[str, Any]:
        """A managed identity's access token: a JWT (HS256 with this simulator's key) whose claims carry the
        identity's ``oid`` (principal id), ``tid``, ``appid`` (client id) and ``xms_mirid`` (its resource id).
        The app's identity (:data:`simulator.rbac.APP_PRINCIPAL_ID`) unless ``principal_id`` names another."""
        principal = (principal_id or APP_PRINCIPAL_ID).lower()
        now = int(time.time())
        expires_on = now + 24 * 3600
        with self.lock:
            client_id, mirid = self._identity_of(principal)
            claims = {
                "aud": resource.removesuffix("/.default"),
                "iss": f"https://sts.windows.net/{TENANT_ID}/",
                "iat": now,
                "nbf": now,
                "exp": expires_on,
                "aio": uuid.uuid4().hex,
                "appid": client_id,
                "appidacr": "2",
                "idp": f"https://sts.windows.net/{TENANT_ID}/",
                "idtyp": "app",
                "oid": principal,
                "sub": principal,
                "tid": TENANT_ID,
                "uti": uuid.uuid4().hex[:22],
                "ver": "1.0",
                "xms_mirid": mirid,
            }
            token = self._sign(claims)
            self.tokens[token] = {"resource": resource, "expires_on": expires_on, "oid": principal}
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
        }

    def _identity_of(self, principal_id: str) -> tuple[str, str]:
        """(client id, resource id) of a principal: the app's, a user-assigned identity's, else itself."""
        if principal_id == APP_PRINCIPAL_ID:
            return APP_CLIENT_ID, APP_RESOURCE_ID
        for res in self.store.of_type("Microsoft.ManagedIdentity/userAssignedIdentities"):
            props = res.body.get("properties") or {}
            if str(props.get("principalId", "")).lower() == principal_id:
                return str(props.get("clientId", principal_id)), res.id
        return principal_id, ""

    def _sign(self, claims: dict[str, Any]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._token_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(signature)}"

    def check_token(self, authorization: str | None) -> str:
        """The caller's principal id (the token's ``oid``); 401 unless this simulator issued the token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers={"WWW-Authenticate": _CHALLENGE},
            )
        token = authorization.split(" ", 1)[1].strip()
        info = self.tokens.get(token)
        if info is None or info["expires_on"] < time.time():
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                headers={"WWW-Authenticate": _CHALLENGE},
            )
        audience = info["resource"].removesuffix(".default").rstrip("/")
        if audience not in {a.rstrip("/") for a in ARM_AUDIENCES}:
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{info['resource']}'. "
                "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
                "'https://management.azure.com/'.",
            )
        return str(info["oid"])

    # ----- dispatch --------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Response:
        """Answer one ARM request (raises Drop for a dropped connection)."""
        split = urlsplit(raw_path)
        from urllib.parse import unquote

        # An empty segment is dropped, as ARM does (the SDKs send `{namespace}//{type}` for an empty
        # parentResourcePath).
        path = re.sub(r"/{2,}", "/", unquote(split.path))
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        req = Request(method=method.upper(), path=path, query=query, headers=headers, raw_body=raw_body)
        with self.lock:
            self.request_count += 1
            entry: dict[str, Any] = {
                "method": req.method,
                "path": path,
                "apiVersion": req.api_version or None,
                "status": 0,
                "resourceType": None,
                "time": utc_now_iso(),
            }
            self.log.append(entry)
            try:
                response = self._dispatch(req, entry)
            except ArmError as err:
                response = err.response()
            except Drop:
                entry["status"] = 0  # no answer: the connection was closed
                raise
            entry["status"] = response.status
            if req.log_resource_type:
                entry["resourceType"] = req.log_resource_type
            if "x-ms-request-id" not in {k.lower() for k in response.headers}:
                response.headers["x-ms-request-id"] = new_guid()
            return response

    def _dispatch(self, req: Request, entry: dict[str, Any]) -> Response:
        self.advance()
        route, params, path_known = self.match(req.method, req.path)
        if route is not None:
            entry["resourceType"] = route.resource_type
        req.caller = self.check_token(req.headers.get("authorization"))
        fault = self.fault_for(
            req.method, req.path, route.resource_type if route else None, {"status", "drop"}
        )
        if fault is not None:
            fault.consume()
            if fault.kind == "drop":
                raise Drop()
            status = int(fault.status or 500)
            code = fault.code or {
                429: "TooManyRequests",
                500: "InternalServerError",
                503: "ServiceUnavailable",
            }.get(status, "SimulatedFault")
            hdrs = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            raise ArmError(status, code, fault.message or f"Simulated fault {status} {code}.", headers=hdrs)
        if not req.api_version:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        segments = req.path.strip("/").split("/")
        if len(segments) >= 2 and segments[0].lower() == "subscriptions" and not is_guid(segments[1]):
            raise ArmError(
                400,
                "InvalidSubscriptionId",
                f"The provided subscription identifier '{segments[1]}' is malformed or invalid.",
            )
        # ARM authorizes before it looks for the resource (a 403 even where the group does not exist).
        self.authorize(req, req.caller)
        if route is None:
            if path_known:
                raise ArmError(405, "MethodNotAllowed", f"The requested method {req.method} is not allowed.")
            raise ArmError(
                404,
                "InvalidResourceType" if len(segments) > 2 else "NotFound",
                f"The resource type could not be found for path '{req.path}'.",
            )
        req.params = params
        req.route = route
        req.resource_id = _fill(route.template, params)
        if route.api_versions and req.api_version not in route.api_versions:
            raise ArmError(
                400,
                "InvalidApiVersionParameter" if route.resource_type else "NoRegisteredProviderFound",
                f"The api-version '{req.api_version}' is invalid. The supported versions are "
                f"'{','.join(sorted(route.api_versions))}'.",
            )
        if (
            len(segments) > 4
            and segments[0].lower() == "subscriptions"
            and segments[2].lower() == "resourcegroups"
        ):
            if self.resource_group(segments[1], segments[3]) is None:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{segments[3]}' could not be found."
                )
            if req.method in ("PUT", "PATCH", "POST", "DELETE"):
                rg_id = f"/subscriptions/{segments[1]}/resourceGroups/{segments[3]}"
                busy = self.active_operation(rg_id)
                if busy is not None and busy.kind == "delete":
                    raise ArmError(
                        409,
                        "ResourceGroupBeingDeleted",
                        f"The resource group '{segments[3]}' is in deprovisioning state and cannot perform "
                        "this operation.",
                    )
        req.lro_fault = self.fault_for(
            req.method, req.path, route.resource_type, {"lro_failed", "lro_canceled"}
        )
        if req.method in ("GET", "HEAD"):
            self.observe(req.resource_id)
            self.advance()
        return route.handler(self, req)

    # ----- dumps -----------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return {
                "resources": [copy.deepcopy(r.body) for r in self.store.all()],
                "operations": [
                    {"id": o.id, "resourceId": o.resource_id, "kind": o.kind, "status": o.status}
                    for o in self.operations.values()
                ],
                "faults": [f.to_dict() for f in self.faults],
                "principals": sorted(self.principals),
                "deniedPermissions": self.rbac.denies_by_scope(),
                "grants": self.rbac.grants_body(),
                "latencyScale": self.latency_scale,
                "pollsToComplete": self.polls_to_complete,
                "latencyOverrides": copy.deepcopy(self.latency_overrides),
            }

    def reset(self) -> None:
        with self.lock:
            self.store.clear()
            self.operations.clear()
            self.faults.clear()
            self.principals.clear()
            self.rbac.reset()
            self.log.clear()
            self.principal_replication_delay = 0.0
            self.principal_replication_requests = 0
            for hook in self.extra_reset:
                hook(self)


def parse_resource_id(rid: str) -> dict[str, str]:
    """subscription, resourceGroup, namespace, type (e.g. Microsoft.Network/virtualNetworks/subnets), name."""
    parts = [p for p in rid.strip("/").split("/") if p]
    out: dict[str, str] = {}
    i = 0
    while i < len(parts):
        seg = parts[i].lower()
        if seg == "subscriptions" and i + 1 < len(parts):
            out["subscription"] = parts[i + 1]
            i += 2
        elif seg == "resourcegroups" and i + 1 < len(parts):
            out["resourceGroup"] = parts[i + 1]
            out["type"] = "Microsoft.Resources/resourceGroups"
            out["name"] = parts[i + 1]
            i += 2
        elif seg == "providers" and i + 1 < len(parts):
            out["namespace"] = parts[i + 1]
            rest = parts[i + 2 :]
            types = rest[0::2]
            names = rest[1::2]
            if types:
                out["type"] = parts[i + 1] + "/" + "/".join(types)
            if names:
                out["name"] = names[-1]
            break
        else:
            i += 1
    return out
