"""HTTP side of the local host: `/api/*` triggers, the Durable webhook API, and the extension's local RPC API.

Public listener (default 127.0.0.1:7071):
  /api/<route>                                HTTP-triggered functions (auth level enforced with host keys)
  /runtime/webhooks/durabletask/...           the Durable extension's HTTP API (system key or master key)
  /                                           a plain "up and running" page (readiness)
Local RPC listener (127.0.0.1:<random>, like the extension's 127.0.0.1:17071/durabletask/):
  /durabletask/...                            what the durable client SDK calls (no key, loopback only)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import azure.functions as func
from aiohttp import web

from devhost.app_index import AppIndex, HttpRoute
from devhost.engine import Engine, InvocationContext, StartError
from devhost.secrets import HostKeys, mask_query, redact

log = logging.getLogger("devhost")

WEBHOOK_PREFIX = "/runtime/webhooks/durabletask"
RPC_PREFIX = "/durabletask"
DEFAULT_CONNECTION = "Storage"


def _bool(query: Any, name: str, default: bool) -> bool:
    value = query.get(name)
    if value is None:
        return default
    return value.lower() == "true"


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(payload)
    return web.Response(
        status=status, body=body.encode(), content_type="application/json", headers=headers or {}
    )


def _error(status: int, message: str, exception_message: str | None = None) -> web.Response:
    payload = {"Message": message}
    if exception_message is not None:
        payload["ExceptionMessage"] = exception_message
    return _json_response(status, payload)


class HostServer:
    def __init__(
        self, engine: Engine, index: AppIndex, keys: HostKeys, *, hub_name: str, host: str, port: int
    ) -> None:
        self.engine = engine
        self.index = index
        self.keys = keys
        self.hub_name = hub_name
        self.host = host
        self.port = port
        self.rpc_port = 0
        self._runners: list[web.AppRunner] = []

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rpc_base_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}{RPC_PREFIX}/"

    async def start(self) -> None:
        public = web.Application(middlewares=[self._access_log], client_max_size=64 * 1024 * 1024)
        public.router.add_route("*", "/{tail:.*}", self._public)
        rpc = web.Application(middlewares=[self._access_log], client_max_size=64 * 1024 * 1024)
        rpc.router.add_route("*", "/{tail:.*}", self._rpc)
        for app, host, port in ((rpc, "127.0.0.1", 0), (public, self.host, self.port)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
            self._runners.append(runner)
            bound = runner.addresses[0][1]
            if app is rpc:
                self.rpc_port = bound
            else:
                self.port = bound

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()

    @web.middleware
    async def _access_log(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        began = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            query = mask_query(request.query_string)
            channel = "rpc " if request.url.port == self.rpc_port else ""
            log.info(
                "%s%s %s%s -> %d (%.0f ms)",
                channel,
                request.method,
                request.path,
                f"?{query}" if query else "",
                status,
                (time.monotonic() - began) * 1000,
            )

    # -- keys ---------------------------------------------------------------------------------------------
    @staticmethod
    def _presented_key(request: web.Request) -> str | None:
        return request.query.get("code") or request.headers.get("x-functions-key")

    def _authorized(self, request: web.Request, level: str) -> bool:
        level = level.upper()
        if level == "ANONYMOUS":
            return True
        key = self._presented_key(request)
        if not key:
            return False
        if level == "ADMIN":
            return key == self.keys.master
        if level == "SYSTEM":
            return key in (self.keys.master, self.keys.system)
        return key in (self.keys.master, self.keys.function_default)

    # -- public listener ------------------------------------------------------------------------------------
    async def _public(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.lower().startswith(WEBHOOK_PREFIX):
            if not self._authorized(request, "SYSTEM"):
                return web.Response(status=401)
            return await self._durable(request, path[len(WEBHOOK_PREFIX) :])
        if path in ("", "/") and request.method in ("GET", "HEAD"):
            return web.Response(text="Your Functions app is up and running (devhost).")
        matches = self.index.match_route(path)
        if not matches:
            return web.Response(status=404)
        allowed = [
            (route, params)
            for route, params in matches
            if route.methods is None or request.method.upper() in route.methods
        ]
        if not allowed:
            return web.Response(status=405)
        route, params = allowed[0]
        if not self._authorized(request, route.auth_level):
            return web.Response(status=401)
        return await self._invoke_http(request, route, params)

    def client_binding(self) -> str:
        """The JSON string the extension hands to a durableClient input binding."""
        base = f"{self.origin}{WEBHOOK_PREFIX}"
        system = f"code={self.keys.system}"
        suffix = f"taskHub={quote(self.hub_name)}&connection={DEFAULT_CONNECTION}&{system}"
        instance = f"{base}/instances/INSTANCEID"
        orchestrators = f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps(
            {
                "taskHubName": self.hub_name,
                "connectionName": None,
                "creationUrls": {
                    "createNewInstancePostUri": f"{orchestrators}?{system}",
                    "createAndWaitOnNewInstancePostUri": f"{orchestrators}?timeout={{timeoutInSeconds}}"
                    f"&pollingInterval={{intervalInSeconds}}&{system}",
                },
                "managementUrls": {
                    "id": "INSTANCEID",
                    "statusQueryGetUri": f"{instance}?{suffix}",
                    "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{suffix}",
                    "terminatePostUri": f"{instance}/terminate?reason={{text}}&{suffix}",
                    "rewindPostUri": f"{instance}/rewind?reason={{text}}&{suffix}",
                    "purgeHistoryDeleteUri": f"{instance}?{suffix}",
                    "restartPostUri": f"{instance}/restart?{suffix}",
                    "suspendPostUri": f"{instance}/suspend?reason={{text}}&{suffix}",
                    "resumePostUri": f"{instance}/resume?reason={{text}}&{suffix}",
                },
                "baseUrl": base,
                "requiredQueryStringParameters": system,
                "rpcBaseUrl": self.rpc_base_url,
                "httpBaseUrl": None,
            }
        )

    async def _invoke_http(
        self, request: web.Request, route: HttpRoute, params: dict[str, str]
    ) -> web.Response:
        function = route.function
        body = await request.read()
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=params,
            body=body,
        )
        kwargs: dict[str, Any] = {function.trigger["name"]: http_request}
        if function.client_binding:
            kwargs[function.client_binding] = self.client_binding()
        if "context" in function.parameters and "context" not in kwargs:
            kwargs["context"] = InvocationContext(function)
        try:
            if function.is_async:
                result = await function.func(**kwargs)
            else:
                result = await asyncio.get_running_loop().run_in_executor(
                    None, partial(function.func, **kwargs)
                )
        except Exception as exc:
            log.error("function %s failed: %s: %s", function.name, type(exc).__name__, redact(str(exc))[:300])
            return web.Response(status=500)
        return self._to_response(result)

    @staticmethod
    def _to_response(result: Any) -> web.Response:
        if isinstance(result, func.HttpResponse):
            headers = {k: v for k, v in result.headers.items() if k.lower() != "content-type"}
            content_type = result.headers.get("Content-Type") or result.mimetype or "text/plain"
            response = web.Response(status=result.status_code, body=result.get_body(), headers=headers)
            response.headers["Content-Type"] = (
                content_type
                if "charset" in content_type or not result.charset
                else f"{content_type}; charset={result.charset}"
            )
            return response
        if result is None:
            return web.Response(status=204)
        if isinstance(result, bytes | str):
            return web.Response(status=200, body=result if isinstance(result, bytes) else result.encode())
        return _json_response(200, result)

    # -- the Durable HTTP API (public webhook and local RPC share it, as in the extension) -------------
    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(RPC_PREFIX):
            return web.Response(status=404)
        return await self._durable(request, request.path[len(RPC_PREFIX) :])

    def _management_payload(self, instance_id: str, return_500: bool = False) -> dict[str, str]:
        base = f"{self.origin}{WEBHOOK_PREFIX}/instances/{quote(instance_id, safe='')}"
        suffix = f"taskHub={quote(self.hub_name)}&connection={DEFAULT_CONNECTION}&code={self.keys.system}"
        status = f"{base}?{suffix}" + ("&returnInternalServerErrorOnFailure=true" if return_500 else "")
        return {
            "id": instance_id,
            "statusQueryGetUri": status,
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{base}?{suffix}",
            "restartPostUri": f"{base}/restart?{suffix}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{suffix}",
        }

    async def _durable(self, request: web.Request, sub: str) -> web.StreamResponse:
        parts = [p for p in sub.split("/") if p]
        method = request.method.upper()
        try:
            if parts and parts[0].lower() == "orchestrators" and len(parts) in (2, 3):
                if method != "POST":
                    return web.Response(status=404)
                return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
            if parts and parts[0].lower() == "instances":
                return await self._instances(request, method, parts[1:])
            return web.Response(status=404)
        except StartError as exc:
            text = (
                "One or more of the arguments submitted is incorrect"
                if exc.status == 400
                else "Something went wrong while processing your request"
            )
            return _error(exc.status, text, str(exc))

    async def _instances(self, request: web.Request, method: str, parts: list[str]) -> web.StreamResponse:
        """`/instances[/{id}[/{operation}[/{event}]]]`: list/purge, status/purge one, or an operation."""
        if not parts:
            if method == "GET":
                return self._list(request)
            return self._purge_by_filter(request) if method == "DELETE" else web.Response(status=404)
        instance_id = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return self._status(request, instance_id)
            if method != "DELETE":
                return web.Response(status=404)
            deleted = self.engine.purge(instance_id)
            return _json_response(200, {"instancesDeleted": deleted}) if deleted else web.Response(status=404)
        if method != "POST":
            return web.Response(status=404)
        return await self._operation(request, instance_id, parts[1].lower(), parts[2:])

    async def _operation(
        self, request: web.Request, instance_id: str, operation: str, rest: list[str]
    ) -> web.StreamResponse:
        if operation == "terminate" and not rest:
            return web.Response(status=self.engine.terminate(instance_id, request.query.get("reason")))
        if operation == "raiseevent" and len(rest) == 1:
            return await self._raise_event(request, instance_id, rest[0])
        if operation in ("rewind", "restart", "suspend", "resume"):
            return _error(501, f"'{operation}' is not implemented by the local host")
        return web.Response(status=404)

    async def _start(self, request: web.Request, function_name: str, instance_id: str | None) -> web.Response:
        body = await request.read()
        token = None
        if body:
            try:
                token = json.loads(body)
            except ValueError:
                return _error(400, "Invalid JSON content")
        instance_id = self.engine.start_new(function_name, instance_id, token)
        payload = self._management_payload(instance_id)
        return _json_response(202, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    def _status(self, request: web.Request, instance_id: str) -> web.Response:
        query = request.query
        status = self.engine.status(
            instance_id,
            show_history=_bool(query, "showHistory", False),
            show_history_output=_bool(query, "showHistoryOutput", False),
            show_input=_bool(query, "showInput", True),
        )
        if status is None:
            return web.Response(status=404)
        runtime = status["runtimeStatus"]
        headers: dict[str, str] = {}
        if runtime in ("Running", "Pending", "ContinuedAsNew", "Suspended"):
            code = 202
            headers = {"Location": str(request.url), "Retry-After": "5"}
        elif runtime == "Failed":
            code = 500 if _bool(query, "returnInternalServerErrorOnFailure", False) else 200
        else:
            code = 200
        return _json_response(code, status, headers)

    def _purge_by_filter(self, request: web.Request) -> web.Response:
        query = request.query
        if not query.get("createdTimeFrom"):
            return _json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        statuses = {s.strip().lower() for s in query.get("runtimeStatus", "").split(",") if s.strip()}
        created_to = query.get("createdTimeTo")
        matching = self.engine.list_statuses(
            runtime_status=statuses or None,
            created_from=datetime.fromisoformat(query["createdTimeFrom"].replace("Z", "+00:00")),
            created_to=datetime.fromisoformat(created_to.replace("Z", "+00:00")) if created_to else None,
        )
        deleted = sum(self.engine.purge(item["instanceId"]) for item in matching)
        if not deleted:
            return web.Response(status=404)
        return _json_response(200, {"instancesDeleted": deleted})

    def _list(self, request: web.Request) -> web.Response:
        query = request.query

        def when(name: str) -> datetime | None:
            value = query.get(name)
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

        statuses = {s.strip().lower() for s in query.get("runtimeStatus", "").split(",") if s.strip()}
        return _json_response(
            200,
            self.engine.list_statuses(
                runtime_status=statuses or None,
                prefix=query.get("instanceIdPrefix"),
                created_from=when("createdTimeFrom"),
                created_to=when("createdTimeTo"),
                show_input=_bool(query, "showInput", False),
            ),
        )

    async def _raise_event(self, request: web.Request, instance_id: str, event_name: str) -> web.Response:
        inst_status = self.engine.status(instance_id, show_input=False)
        if inst_status is None:
            return web.Response(status=404)
        if inst_status["runtimeStatus"] in ("Failed", "Canceled", "Terminated", "Completed"):
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        body = await request.read()
        try:
            token = json.loads(body) if body else None
        except ValueError:
            return _error(400, "Invalid JSON content")
        return web.Response(status=self.engine.raise_event(instance_id, event_name, token))
