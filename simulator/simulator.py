"""The ``Simulator`` facade: the Python API tests and the local host use (see docs/DESIGN.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator.arm import RETRY_AFTER, Arm, ArmError, Fault, Response
from simulator.providers import register_all
from simulator.rbac import APP_PRINCIPAL_ID, parse_grant_spec
from simulator.server import CONTROL_PREFIX, Servers

ARM_SCOPE = "https://management.azure.com/.default"
TOKEN_PATH = "/msi/token"
# The operation kinds the latency model times (simulator.arm.LATENCY).
LATENCY_KINDS = ("create", "update", "delete")


class Simulator:
    def __init__(
        self,
        latency_scale: float = 1.0,
        polls_to_complete: int | None = None,
        port: int = 0,
        latency_overrides: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.arm = Arm(latency_scale=latency_scale, polls_to_complete=polls_to_complete)
        register_all(self.arm)
        self.latency_overrides = latency_overrides or {}
        self._port = port
        self._servers: Servers | None = None

    # ----- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Simulator:
        if self._servers is None:
            self._servers = Servers(self, self._port)
            self.arm.endpoint = f"https://127.0.0.1:{self._servers.port}"
        return self

    def stop(self) -> None:
        if self._servers is not None:
            self._servers.close()
            self._servers = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _running(self) -> Servers:
        if self._servers is None:
            raise RuntimeError("the simulator is not started: call start() first")
        return self._servers

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self._running().port}"

    @property
    def ca_file(self) -> str:
        return self._running().ca_file

    @property
    def identity_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._running().token_port}{TOKEN_PATH}"

    def env(self) -> dict[str, str]:
        servers = self._running()
        return {
            "ARM_ENDPOINT": self.endpoint,
            "ARM_CA_BUNDLE": self.ca_file,
            "ARM_SCOPE": ARM_SCOPE,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": servers.identity_header,
            # Azure's operations answer Retry-After (5-15 s); scaled below 1 s the hint cannot be sent (it
            # must be an integer), so clients get the scaled hint as polling interval, not the SDK's 30 s.
            "ARM_POLLING_INTERVAL": self._polling_interval(),
        }

    def _polling_interval(self) -> str:
        if self.polls_to_complete is not None:
            return "0.01"
        return f"{max(0.01, min(RETRY_AFTER.values()) * self.latency_scale):g}"

    # ----- settings --------------------------------------------------------------------------------------
    @property
    def latency_scale(self) -> float:
        return self.arm.latency_scale

    @latency_scale.setter
    def latency_scale(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency_scale must be >= 0")
        with self.arm.lock:
            self.arm.latency_scale = float(value)

    @property
    def polls_to_complete(self) -> int | None:
        return self.arm.polls_to_complete

    @polls_to_complete.setter
    def polls_to_complete(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("polls_to_complete must be >= 0 or None")
        with self.arm.lock:
            self.arm.polls_to_complete = value

    @property
    def latency_overrides(self) -> dict[str, dict[str, float]]:
        """Seconds at scale 1 per resource type and kind that replace the latency model's (LATENCY).

        ``{"microsoft.containerservice/managedclusters": {"create": 480}}``: an 8-minute cluster. Setting it
        replaces every override; operations already running keep the duration they started with.
        """
        with self.arm.lock:
            return copy.deepcopy(self.arm.latency_overrides)

    @latency_overrides.setter
    def latency_overrides(self, overrides: Mapping[str, Mapping[str, float]]) -> None:
        parsed: dict[str, dict[str, float]] = {}
        for resource_type, kinds in overrides.items():
            if not isinstance(kinds, Mapping):
                raise ValueError(f"latency_overrides[{resource_type!r}] must map kinds to seconds")
            for kind, seconds in kinds.items():
                if kind not in LATENCY_KINDS:
                    raise ValueError(
                        f"latency_overrides[{resource_type!r}]: kind must be one of "
                        f"{', '.join(LATENCY_KINDS)}, not {kind!r}"
                    )
                if float(seconds) < 0:
                    raise ValueError(f"latency_overrides[{resource_type!r}][{kind!r}] must be >= 0")
                parsed.setdefault(resource_type.lower(), {})[kind] = float(seconds)
        with self.arm.lock:
            self.arm.latency_overrides = parsed

    @property
    def principal_replication_delay(self) -> float:
        """Seconds (times latency_scale) a new principal answers PrincipalNotFound to role assignments."""
        return self.arm.principal_replication_delay

    @principal_replication_delay.setter
    def principal_replication_delay(self, seconds: float) -> None:
        with self.arm.lock:
            self.arm.principal_replication_delay = float(seconds)

    @property
    def principal_replication_requests(self) -> int:
        """Requests a new principal answers PrincipalNotFound to role assignments (deterministic variant)."""
        return self.arm.principal_replication_requests

    @principal_replication_requests.setter
    def principal_replication_requests(self, count: int) -> None:
        with self.arm.lock:
            self.arm.principal_replication_requests = int(count)

    # ----- state -----------------------------------------------------------------------------------------
    def add_resource_group(
        self, subscription_id: str, name: str, location: str, tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return self.arm.add_resource_group(subscription_id, name, location, tags)

    def add_resource(self, resource_id: str, resource_type: str, body: dict[str, Any] | None = None) -> None:
        """Put any resource into the state as is (e.g. a scope for role assignments no provider simulates)."""
        with self.arm.lock:
            name = resource_id.rstrip("/").rsplit("/", 1)[-1]
            full = {"id": resource_id, "name": name, "type": resource_type, "properties": {}}
            full.update(body or {})
            self.arm.store.put(resource_id, resource_type, full)

    def add_fault(
        self,
        method: str | None = None,
        path: str | None = None,
        kind: str = "status",
        status: int | None = None,
        retry_after: int | None = None,
        count: int = 1,
        code: str | None = None,
        **more: Any,
    ) -> Fault:
        """Add a fault; simulator.arm.Fault lists the fields (regex, resource_type, message, seconds, ...)."""
        return self.arm.add_fault(
            method=method,
            path=path,
            kind=kind,
            status=status,
            retry_after=retry_after,
            count=count,
            code=code,
            **more,
        )

    def clear_faults(self) -> None:
        with self.arm.lock:
            self.arm.faults.clear()

    def deny_permission(self, subscription_id: str, resource_group: str, action: str) -> None:
        """Remove ``action`` (wildcards allowed) for every caller at that group and beneath it, whatever their
        grants (ARM's deny assignments); the permissions API shows it in ``notActions``."""
        self.arm.deny_permission(subscription_id, resource_group, action)

    # ----- grants (simulator/rbac.py) --------------------------------------------------------------------
    @property
    def app_principal_id(self) -> str:
        """The principal (object) id of the app's managed identity: the ``oid`` of the tokens the identity
        endpoint issues, and the principal of the default grant."""
        return APP_PRINCIPAL_ID

    def grant(self, role: str, scope: str, principal_id: str | None = None) -> dict[str, str]:
        """Assign ``role`` (built-in name such as "Owner", a role definition GUID/id, or a custom role's
        name) at ``scope`` (``/subscriptions/<id>[/resourceGroups/<rg>[/providers/...]]``, or
        ``/subscriptions/*`` for every subscription) to ``principal_id`` (default: the app's identity)."""
        with self.arm.lock:
            return self.arm.rbac.grant_body(self.arm.rbac.add_grant(role, scope, principal_id))

    def revoke_all(self, principal_id: str | None = None) -> None:
        """Remove every grant of the principal (default: the app's identity), the configured ones and the
        role assignments made for it through ARM."""
        principal = (principal_id or APP_PRINCIPAL_ID).lower()
        with self.arm.lock:
            self.arm.rbac.revoke_all(principal)
            for a in self.arm.stored_assignments():
                if a.principal_id.lower() == principal and a.body is not None:
                    self.arm.store.delete(a.body["id"])

    def set_grants(self, grants: list[str | dict[str, str]]) -> list[dict[str, str]]:
        """Replace all configured grants (every principal's) with ``grants``: each "[PRINCIPAL_ID:]ROLE@SCOPE"
        or ``{"role", "scope", "principalId"?}``. An empty list leaves no configured grant at all."""
        specs = [parse_grant_spec(g) if isinstance(g, str) else dict(g) for g in grants]
        with self.arm.lock:
            saved = list(self.arm.rbac.grants)
            self.arm.rbac.grants = []
            try:
                for spec in specs:
                    self.arm.rbac.add_grant(spec["role"], spec["scope"], spec.get("principalId"))
            except (KeyError, ValueError):
                self.arm.rbac.grants = saved
                raise
            return self.arm.rbac.grants_body()

    def grants(self) -> list[dict[str, str]]:
        """The configured grants: ``{"principalId", "role", "roleDefinitionId", "scope", "name"}`` each."""
        with self.arm.lock:
            return self.arm.rbac.grants_body()

    def add_custom_role(
        self,
        role_name: str,
        actions: list[str],
        not_actions: list[str] | None = None,
        data_actions: list[str] | None = None,
        not_data_actions: list[str] | None = None,
        assignable_scopes: list[str] | None = None,
    ) -> dict[str, Any]:
        """Define a custom role (as ``PUT .../roleDefinitions/{id}`` would); returns its ARM body."""
        with self.arm.lock:
            role = self.arm.rbac.add_custom_role(
                role_name,
                actions,
                not_actions or (),
                data_actions or (),
                not_data_actions or (),
                assignable_scopes or ("/",),
            )
            return role.body()

    def token_for(self, principal_id: str | None = None, resource: str = ARM_SCOPE) -> str:
        """An access token of another principal (a user-assigned identity, a test's operator ...): the JWT
        the identity endpoint would issue to that identity."""
        return str(self.arm.issue_token(resource.removesuffix("/.default"), principal_id)["access_token"])

    def register_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        self.arm.register_principal(principal_id, principal_type)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.arm.lock:
            return [dict(e) for e in self.arm.log]

    def state(self) -> dict[str, Any]:
        return self.arm.state()

    def resource(self, rid: str) -> dict[str, Any] | None:
        """The stored body of one resource (after advancing operations), or None."""
        with self.arm.lock:
            self.arm.advance()
            res = self.arm.store.get(rid)
            return json.loads(json.dumps(res.body)) if res else None

    def reset(self) -> None:
        self.arm.reset()

    def issued_tokens(self) -> list[str]:
        """Every access token the identity endpoint has issued (kept across resets): scan outputs for them."""
        with self.arm.lock:
            return list(self.arm.tokens)

    # ----- token endpoint --------------------------------------------------------------------------------
    def token_answer(
        self, path: str, query: dict[str, str], header: str | None
    ) -> tuple[int, dict[str, Any]]:
        servers = self._running()
        if path != TOKEN_PATH:
            return 404, {"statusCode": 404, "message": "Not found"}
        if header != servers.identity_header:
            return 401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or invalid."}
        if query.get("api-version") != "2019-08-01":
            return 400, {"statusCode": 400, "message": "api-version 2019-08-01 is required."}
        resource = query.get("resource")
        if not resource:
            return 400, {"statusCode": 400, "message": "The resource parameter is required."}
        principal = self._identity_principal(query)
        if principal is None:
            return 400, {
                "statusCode": 400,
                "message": "No User Assigned or Delegated Managed Identity found for specified "
                "ClientId/ResourceId/PrincipalId.",
            }
        return 200, self.arm.issue_token(resource, principal)

    def _identity_principal(self, query: dict[str, str]) -> str | None:
        """The principal a token request names: the app's system identity, or a user-assigned identity by
        ``client_id`` / ``principal_id`` / ``mi_res_id`` (App Service's parameters)."""
        wanted = {
            "clientId": query.get("client_id"),
            "principalId": query.get("principal_id"),
            "id": query.get("mi_res_id"),
        }
        if not any(wanted.values()):
            return APP_PRINCIPAL_ID
        with self.arm.lock:
            for res in self.arm.store.of_type("Microsoft.ManagedIdentity/userAssignedIdentities"):
                props = res.body.get("properties") or {}
                have = {
                    "clientId": props.get("clientId"),
                    "principalId": props.get("principalId"),
                    "id": res.id,
                }
                if all(str(have[k]).lower() == v.lower() for k, v in wanted.items() if v):
                    return str(props.get("principalId"))
        return None

    # ----- control API -----------------------------------------------------------------------------------
    def control(self, method: str, raw_path: str, body: bytes) -> Response:
        split = urlsplit(raw_path)
        what = split.path[len(CONTROL_PREFIX) :].strip("/").lower()
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return ArmError(400, "InvalidRequestContent", "The body must be JSON.").response()
        try:
            return self._control(method, what, query, data)
        except (TypeError, ValueError, KeyError) as exc:
            return ArmError(400, "InvalidControlRequest", f"{type(exc).__name__}: {exc}").response()

    def _control(self, method: str, what: str, query: dict[str, str], data: Any) -> Response:
        handlers = {
            "state": self._control_state,
            "requests": self._control_requests,
            "env": self._control_env,
            "reset": self._control_reset,
            "faults": self._control_faults,
            "resourcegroups": self._control_resource_groups,
            "permissions/deny": self._control_deny,
            "grants": self._control_grants,
            "principals": self._control_principals,
            "latency": self._control_latency,
        }
        handler = handlers.get(what)
        response = handler(method, query, data) if handler is not None else None
        if response is None:
            return ArmError(404, "NotFound", f"No control operation {method} /_simulator/{what}.").response()
        return response

    def _control_state(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        return Response(200, self.state()) if method == "GET" else None

    def _control_env(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        return Response(200, self.env()) if method == "GET" else None

    def _control_reset(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method != "POST":
            return None
        self.reset()
        return Response(204)

    def _control_requests(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method == "GET":
            return Response(200, self.requests)
        if method == "DELETE":
            with self.arm.lock:
                self.arm.log.clear()
            return Response(204)
        return None

    def _control_faults(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method == "GET":
            return Response(200, [f.to_dict() for f in self.arm.faults])
        if method == "POST":
            if not isinstance(data, dict):
                raise ValueError("a fault is a JSON object")
            return Response(201, self.add_fault(**data).to_dict())
        if method == "DELETE":
            self.clear_faults()
            return Response(204)
        return None

    def _control_resource_groups(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method != "POST":
            return None
        group = self.add_resource_group(
            data["subscriptionId"], data["name"], data["location"], data.get("tags")
        )
        return Response(201, group)

    def _control_deny(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method != "POST":
            return None
        self.deny_permission(data["subscriptionId"], data["resourceGroup"], data["action"])
        return Response(204)

    def _control_principals(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method != "POST":
            return None
        self.register_principal(data["principalId"], data.get("principalType", "ServicePrincipal"))
        return Response(204)

    def _control_latency(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        if method == "POST":
            if "latencyScale" in data:
                self.latency_scale = float(data["latencyScale"])
            if "pollsToComplete" in data:
                n = data["pollsToComplete"]
                self.polls_to_complete = None if n is None else int(n)
            if "principalReplicationDelay" in data:
                self.principal_replication_delay = float(data["principalReplicationDelay"])
            if "principalReplicationRequests" in data:
                self.principal_replication_requests = int(data["principalReplicationRequests"])
            if "latencyOverrides" in data:
                self.latency_overrides = data["latencyOverrides"] or {}
        if method not in ("GET", "POST"):
            return None
        return Response(
            200,
            {
                "latencyScale": self.latency_scale,
                "pollsToComplete": self.polls_to_complete,
                "principalReplicationDelay": self.principal_replication_delay,
                "principalReplicationRequests": self.principal_replication_requests,
                "latencyOverrides": self.latency_overrides,
            },
        )

    def _control_grants(self, method: str, query: dict[str, str], data: Any) -> Response | None:
        """GET: the configured grants; POST {role, scope, principalId?}: add one; PUT or POST [grant, ...]:
        replace all ("ROLE@SCOPE" strings or objects); DELETE [?principalId=]: revoke (default: the app's)."""
        if method == "GET":
            return Response(200, self.grants())
        if method in ("POST", "PUT") and isinstance(data, list):
            return Response(200, self.set_grants(data))
        if method == "POST":
            if not isinstance(data, dict):
                raise ValueError("a grant is a JSON object {role, scope, principalId?}")
            return Response(201, self.grant(data["role"], data["scope"], data.get("principalId")))
        if method == "PUT":
            raise ValueError("PUT grants takes a JSON list of grants")
        if method == "DELETE":
            self.revoke_all(query.get("principalId"))
            return Response(204)
        return None
