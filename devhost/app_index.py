"""Index a Python v2 programming-model app the way the Python worker does.

Import `function_app.py` from the app directory, find the one FunctionRegister (FunctionApp / DFApp) object in
it, call `get_functions()` once, and read each function's bindings (the JSON the worker sends to the host).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func


class IndexingError(Exception):
    pass


@dataclass
class IndexedFunction:
    name: str
    func: Callable[..., Any]
    bindings: list[dict[str, Any]]
    trigger: dict[str, Any]
    is_async: bool
    parameters: list[str]
    client_binding: str | None = None  # parameter name of a durableClient input binding

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type"))


@dataclass
class HttpRoute:
    function: IndexedFunction
    template: str
    methods: set[str] | None
    auth_level: str
    pattern: re.Pattern[str]


@dataclass
class AppIndex:
    functions: dict[str, IndexedFunction] = field(default_factory=dict)
    routes: list[HttpRoute] = field(default_factory=list)
    orchestrators: dict[str, IndexedFunction] = field(default_factory=dict)  # by lower-case name
    activities: dict[str, IndexedFunction] = field(default_factory=dict)  # by lower-case name

    def match_route(self, path: str) -> list[tuple[HttpRoute, dict[str, str]]]:
        found = []
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if m:
                found.append((route, {k: v for k, v in m.groupdict().items() if v is not None}))
        return found


_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"[0-9a-fA-F\-]{32,38}",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(\.\d+)?",
    "float": r"-?\d+(\.\d+)?",
}


def compile_route(template: str) -> re.Pattern[str]:
    """ASP.NET-style route template -> regex: {name}, {name?}, {name:int}, {*rest}; case-insensitive."""
    parts = []
    for segment in template.strip("/").split("/"):
        if not segment:
            continue
        m = re.fullmatch(
            r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?(?:=[^}]*)?\}", segment
        )
        if m:
            catch_all, name, constraint, optional = m.groups()
            body = ".*" if catch_all else _CONSTRAINTS.get((constraint or "").lower(), r"[^/]+")
            piece = f"(?P<{name}>{body})"
            parts.append((piece, bool(optional or catch_all)))
        else:
            parts.append((re.escape(segment), False))
    regex = ""
    for piece, optional in parts:
        regex += f"(?:/{piece})?" if optional else f"/{piece}"
    return re.compile(regex or "/?", re.IGNORECASE)


def find_app(module: Any) -> func.FunctionRegister:
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    unique = list({id(a): a for a in apps}.values())
    if not unique:
        raise IndexingError("function_app.py defines no FunctionApp / DFApp object")
    if len(unique) > 1:
        raise IndexingError(
            "function_app.py defines more than one FunctionApp / DFApp object; the worker indexes exactly one"
        )
    return unique[0]


def load_app(app_dir: Path, route_prefix: str = "api") -> AppIndex:
    app_dir = app_dir.resolve()
    if not (app_dir / "function_app.py").exists():
        raise IndexingError(f"no function_app.py in {app_dir}")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module = importlib.import_module("function_app")
    if Path(module.__file__ or "").resolve().parent != app_dir:
        raise IndexingError(f"imported function_app from {module.__file__}, expected it in {app_dir}")
    return index_app(find_app(module), route_prefix)


def index_app(app: func.FunctionRegister, route_prefix: str = "api") -> AppIndex:
    index = AppIndex()
    for function in app.get_functions():  # once per app object (AZURE_FACTS: it cannot be called twice)
        name = function.get_function_name()
        bindings = [json.loads(b) for b in function.get_raw_bindings()]
        triggers = [b for b in bindings if str(b.get("type", "")).lower().endswith("trigger")]
        if len(triggers) != 1:
            raise IndexingError(f"function {name} has {len(triggers)} triggers")
        user_func = function.get_user_function()
        client = next((b["name"] for b in bindings if b.get("type") == "durableClient"), None)
        indexed = IndexedFunction(
            name=name,
            func=user_func,
            bindings=bindings,
            trigger=triggers[0],
            is_async=inspect.iscoroutinefunction(user_func),
            parameters=list(inspect.signature(user_func).parameters),
            client_binding=client,
        )
        index.functions[name] = indexed
        kind = indexed.trigger_type
        if kind == "httpTrigger":
            template = indexed.trigger.get("route") or name
            prefix = f"/{route_prefix.strip('/')}" if route_prefix.strip("/") else ""
            methods = indexed.trigger.get("methods")
            index.routes.append(
                HttpRoute(
                    function=indexed,
                    template=template,
                    methods={str(m).upper() for m in methods} if methods else None,
                    auth_level=str(indexed.trigger.get("authLevel") or "FUNCTION").upper(),
                    pattern=re.compile(re.escape(prefix) + compile_route(template).pattern, re.IGNORECASE),
                )
            )
        elif kind == "orchestrationTrigger":
            index.orchestrators[name.lower()] = indexed
        elif kind == "activityTrigger":
            index.activities[name.lower()] = indexed
    # Literal segments win over parameters (ASP.NET route precedence, roughly).
    index.routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return index
