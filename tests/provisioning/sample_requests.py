"""Valid SetupRequest bodies the provisioning tests start from (one per topology)."""

from __future__ import annotations

import copy
from typing import Any

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"


def peering_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subscriptionId": SUBSCRIPTION,
        "resourceGroup": "hopsworks-rg",
        "location": "northeurope",
        "topology": "peering",
        "identity": {"name": "hopsworks-identity"},
        "aks": {"name": "hopsaks-cluster"},
        "acr": {"name": "hopsworksaks"},
        "hopsworksNetwork": {},
        "tags": {"owner": "platform"},
    }
    body.update(overrides)
    return copy.deepcopy(body)


def subnet_request(**overrides: Any) -> dict[str, Any]:
    body = peering_request(topology="subnet")
    del body["hopsworksNetwork"]
    body["hopsworksSubnet"] = {}
    body.update(copy.deepcopy(overrides))
    return body


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the dotted `path` set to `value` (creating blocks as needed)."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return body


def without_field(body: dict[str, Any], path: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    target.pop(last, None)
    return body
