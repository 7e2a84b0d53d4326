"""Deleting a resource this run created (rollback): which service module deletes each resource type, and what
a delete's answer means. docs/DESIGN.md, "Activity contract" (`delete_resource`).

The answer of `delete_resource` is `{"done": true}` when the resource is gone, `{"done": false}` while a long
delete runs (call again on a timer), and `{"done": false, "busy": true}` when the service refused the delete
because another operation on the resource still runs (AKS answers 409 `OperationNotAllowed` to deleting a
cluster that is still being created): wait for that operation to end, the same way, instead of spending the
retry budget. Always call again until `done`.
"""

from __future__ import annotations

from provisioning import errors
from provisioning.contracts import DeleteOutput

# The activity module (one per Azure service) that deletes each resource type.
SERVICE_BY_TYPE: dict[str, str] = {
    "microsoft.managedidentity/userassignedidentities": "msi",
    "microsoft.authorization/roleassignments": "authorization",
    "microsoft.network/virtualnetworks": "network",
    "microsoft.network/virtualnetworks/subnets": "network",
    "microsoft.network/virtualnetworks/virtualnetworkpeerings": "network",
    "microsoft.containerservice/managedclusters": "containerservice",
    "microsoft.containerregistry/registries": "containerregistry",
    "microsoft.network/privatednszones/virtualnetworklinks": "privatedns",
}

# Codes a delete of a resource with an operation in flight answers: wait, do not count it as a failure.
BUSY_CODES = frozenset({"operationnotallowed", "anotheroperationinprogress"})


def service_for(resource_type: str) -> str:
    """The service module that deletes `resource_type`. An unknown type is a bug in the caller."""
    service = SERVICE_BY_TYPE.get(resource_type.casefold())
    if service is None:
        raise ValueError(f"delete_resource: no deleter for resource type {resource_type!r}")
    return service


def is_busy(failure: errors.ArmFailure) -> bool:
    """A refused delete that only means "another operation on it still runs" (see the module docstring)."""
    return failure.status == 409 and failure.code.casefold() in BUSY_CODES


def outcome(done: bool, busy: bool = False) -> DeleteOutput:
    """The delete's outputs (`busy` is on the wire only when set: `DeleteOutput.SPARSE`)."""
    return DeleteOutput(done=done, busy=busy)
