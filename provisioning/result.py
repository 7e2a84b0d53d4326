"""SetupResult: the values to enter in hopsworks.ai, and every resource the run created or found.

Field meanings follow hopsworks.ai's API and its Terraform provider (AZURE_FACTS.md section 1):
`managedIdentity` is the user-assigned identity's *name* (`user_assigned_managed_identity`), and the network
is the one the Hopsworks cluster goes into: the Hopsworks vnet and its subnet for topology peering, the AKS
vnet and the new subnet for topology subnet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provisioning import topology
from provisioning.contracts import CREATED


def hopsworks_values(request: Mapping[str, Any], location: str | None = None) -> dict[str, str]:
    """The hopsworks.ai values for a normalized request (`location` overrides a null request location)."""
    where = location or request.get("location")
    if not where:
        raise ValueError("location is unknown: the request has none and none was given (preflight finds it)")
    vnet, subnet = topology.of(request["topology"]).hopsworks_placement(request)
    return {
        "location": where,
        "resourceGroup": request["resourceGroup"],
        "managedIdentity": request["identity"]["name"],
        "aksClusterName": request["aks"]["name"],
        "acrRegistryName": request["acr"]["name"],
        "virtualNetworkName": vnet,
        "subnetName": subnet,
        "networkResourceGroup": request["resourceGroup"],
    }


def merge_resources(resources: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Resources deduplicated by id (case-insensitive), first-seen order; `created` wins over `existing`."""
    merged: dict[str, dict[str, str]] = {}
    for resource in resources:
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            continue
        key = rid.rstrip("/").casefold()
        action = str(resource.get("action", ""))
        if key not in merged:
            merged[key] = {"id": rid, "type": str(resource.get("type", "")), "action": action}
        elif action == CREATED:
            merged[key]["action"] = CREATED
    return list(merged.values())


def resources_of(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `resources` of a sequence of activity results (`{"ok", "resources", "outputs"}`), in order."""
    collected: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, Mapping):
            collected.extend(r for r in result.get("resources") or () if isinstance(r, Mapping))
    return collected


def build_setup_result(
    request: Mapping[str, Any], resources: Iterable[Mapping[str, Any]], location: str | None = None
) -> dict[str, Any]:
    """SetupResult for a normalized request, the resources the steps reported, and preflight's location."""
    return {"hopsworks": hopsworks_values(request, location), "resources": merge_resources(resources)}
