"""The activity result shapes (docs/DESIGN.md, "Activity contract") and the created-vs-existing rule.

Plain functions, no SDK imports: every activity builds its answer through these so the orchestrator sees one
shape, and the rule "a resource carrying this run's runId was created by this run" lives in one place.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from provisioning import naming

CREATED = "created"
EXISTING = "existing"

# Codes the activities themselves decide (ARM's own codes come from provisioning.errors.classify).
INCOMPATIBLE_EXISTING = "IncompatibleExistingResource"
PREFLIGHT_FAILED = "PreflightFailed"
CLUSTER_FAILED = "ClusterProvisioningFailed"
ALREADY_IN_USE = "AlreadyInUse"
SOFT_DELETE_CONFLICT = "RetentionSoftDeleteConflict"
DNS_ZONE_NOT_FOUND = "PrivateDnsZoneNotFound"

Result = dict[str, Any]
T = TypeVar("T")

_log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """An SDK enum member as its wire value (`str()` of a str-mixin Enum gives `Class.MEMBER`)."""
    return value.value if isinstance(value, Enum) else value


def resource(resource_id: str, resource_type: str, action: str) -> dict[str, str]:
    return {"id": resource_id, "type": resource_type, "action": action}


def ok(resources: list[dict[str, str]] | None = None, outputs: Mapping[str, Any] | None = None) -> Result:
    return {"ok": True, "resources": list(resources or []), "outputs": dict(outputs or {})}


def error(
    code: str, message: str, *, status: int | None = None, transient: bool = False, **extra: Any
) -> Result:
    """An expected failure the activity decided itself (not an ARM answer)."""
    return {
        "ok": False,
        "error": {"code": code, "message": message, "status": status, "transient": transient, **extra},
    }


def arm_error(exc: BaseException) -> Result:
    """An ARM/SDK failure, classified by provisioning.errors (code, message, status, transient)."""
    from provisioning import errors

    return {"ok": False, "error": errors.classify(exc).to_dict()}


def incompatible(kind: str, name: str, rules: list[str]) -> Result:
    """A resource under the requested name exists but cannot be adopted: name it and every rule it breaks."""
    return error(
        INCOMPATIBLE_EXISTING,
        f"existing {kind} '{name}' cannot be used: " + "; ".join(rules),
    )


# ---------------------------------------------------------------- who made it


def run_tags(user_tags: Mapping[str, str] | None, instance_id: str, run_id: str) -> dict[str, str]:
    """Tags for a resource this run creates: the user's, plus which setup and which run made it."""
    tags = dict(user_tags or {})
    tags[naming.RUN_TAG_INSTANCE] = instance_id
    tags[naming.RUN_TAG_RUN] = run_id
    return tags


def action_from_tags(tags: Mapping[str, str] | None, run_id: str) -> str:
    """`created` when the resource carries this run's runId tag (an activity re-executed after a host crash
    finds its own work), else `existing` (never deleted by a rollback)."""
    if tags and run_id and tags.get(naming.RUN_TAG_RUN) == run_id:
        return CREATED
    return EXISTING


def action_from_snapshot(resource_id: str, existed_before: list[str] | None, fallback: str) -> str:
    """Subnets and peerings carry no tags. Preflight lists the ones that existed before the run
    (`existedBefore`): one found now that is not on that list can only be this run's (an activity re-executed
    after a host crash), so it is `created`. Without a snapshot the caller's own rule (`fallback`) decides."""
    if existed_before is None:
        return fallback
    if resource_id.casefold() in {known.casefold() for known in existed_before}:
        return EXISTING
    return CREATED


def role_assignment_description(run_id: str) -> str:
    """Role assignments have no tags; their description carries the runId instead."""
    return f"{naming.RUN_TAG_RUN}={run_id}"


def action_from_description(description: str | None, run_id: str) -> str:
    if description and run_id and description.strip() == role_assignment_description(run_id):
        return CREATED
    return EXISTING


# ---------------------------------------------------------------- creates that fail half-way


class CreateFailed(Exception):
    """A create this run sent failed, but Azure kept the resource (an operation that ends Failed leaves it in
    state Failed; a fault while polling leaves it made): it is still this run's, to report and roll back."""

    def __init__(self, cause: BaseException, created: dict[str, str]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.created = created


def create(start: Callable[[], T], *, lookup: Callable[[], Any], resource_type: str) -> T:
    """Run a create (`start` sends the PUT and waits for the operation). When it fails and `lookup` then finds
    the resource, the failure carries it as `created`: without that a rollback would leave it behind, and a
    retry would find it and call it `existing` (subnets and peerings carry no runId tag)."""
    from azure.core.exceptions import AzureError

    try:
        return start()
    except AzureError as exc:
        try:
            left = lookup()
        except AzureError:
            left = None
        if left is None or not getattr(left, "id", None):
            raise
        raise CreateFailed(exc, resource(left.id, resource_type, CREATED)) from exc


# ---------------------------------------------------------------- the adapter every activity goes through


def arm_activity(body: Callable[[dict[str, Any]], Result]) -> Callable[[dict[str, Any]], Result]:
    """Wrap an activity body so that Azure failures are returned (classified), never raised.

    Anything else that escapes is a bug and is raised: the orchestrator reports it as `ActivityCrashed`.
    azure.core is imported only when an exception is seen (cold start: importing the app stays light).
    """

    @functools.wraps(body)
    def activity(payload: dict[str, Any]) -> Result:
        from activities import arm

        arm.import_sdks()
        created: list[dict[str, str]] = []
        try:
            return body(payload)
        except CreateFailed as failed:
            exc: BaseException = failed.cause
            created.append(failed.created)
        except Exception as raised:
            from azure.core.exceptions import AzureError

            if not isinstance(raised, AzureError):
                raise
            exc = raised
        result = arm_error(exc)
        if created:
            result["resources"] = created
        _log.warning(
            "%s: %s (%s)",
            body.__name__,
            result["error"]["code"],
            "transient" if result["error"]["transient"] else "permanent",
        )
        return result

    return activity
