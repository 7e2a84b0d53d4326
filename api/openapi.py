"""`GET /api/openapi.json`: the API description (OpenAPI 3.0; `?format=swagger2` for custom connectors).

Thin adapter: the document is built by `provisioning/openapi.py`. Anonymous, unlike the rest of the API:
API Management's "OpenAPI from URL" and the custom-connector wizards fetch it without a key, and it holds
nothing secret (no key, no instance, nothing read from a subscription: only the shapes and the examples
shipped in `examples/`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

APP_ROOT = Path(__file__).resolve().parent.parent
# Operations served by modules that may not be part of this app (yet): described only when present.
OPTIONAL_OPERATION_MODULES = {
    "PlanSetup": "api.plans",
    "StartTeardown": "api.teardowns",
    "GetSetupStatus": "api.status",
    "GetTeardownStatus": "api.status",
}

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_api_description(req: func.HttpRequest) -> func.HttpResponse:
    return handle_get_api_description(req)


def handle_get_api_description(req: func.HttpRequest) -> func.HttpResponse:
    fmt = req.params.get("format") or "openapi3"
    # Imported here, not at module level: the builder needs the request model (pydantic), which only the
    # starter and this function use; every other worker start would pay for it.
    from provisioning.openapi import FORMATS

    if fmt not in FORMATS:
        errors = [{"field": "format", "message": f"must be one of {', '.join(FORMATS)}"}]
        return func.HttpResponse(json.dumps({"errors": errors}), status_code=400, mimetype="application/json")
    text = document_text(fmt, origin(req.url))
    return func.HttpResponse(text, status_code=200, mimetype="application/json")


def origin(url: str) -> str:
    """`scheme://host[:port]` of the URL the caller used: the document's server."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=16)
def document_text(fmt: str, server_url: str) -> str:
    from provisioning import openapi

    examples = openapi.build_examples(openapi.load_example_requests((APP_ROOT / "examples").glob("*.json")))
    document = openapi.build_document(fmt, server_url, examples, include=_served)
    return json.dumps(document, indent=1)


def _served(operation: Any) -> bool:
    module = OPTIONAL_OPERATION_MODULES.get(operation.operation_id)
    return module is None or importlib.util.find_spec(module) is not None
