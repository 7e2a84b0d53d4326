"""The activity result shapes (docs/DESIGN.md, "Activity contract") and the adapter every activity goes
through: Azure failures returned classified, creates that fail half-way, resources put right after a failure.

Plain functions, no SDK imports at module level: every activity builds its answer through these so the
orchestrator sees one shape. Who made a resource is decided in `provisioning.ownership`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from activities import adoption, arm, c, errors, ownership

# Codes the activities themselves decide (ARM's own codes come from provisioning.errors.classify).
INCOMPATIBLE_EXISTING = "IncompatibleExistingResource"
CLUSTER_FAILED = "ClusterProvisioningFailed"
ALREADY_IN_USE = "AlreadyInUse"
SOFT_DELETE_CONFLICT = "RetentionSoftDeleteConflict"
DNS_ZONE_NOT_FOUND = "PrivateDnsZoneNotFound"
RESOURCE_FAILED_STATE = "ResourceFailedState"
RESOURCE_NOT_READY = "ResourceNotReady"

Result = dict[str, Any]
T = TypeVar("T")
InputT = TypeVar("InputT", bound="c.ActivityInput")

_log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """An SDK enum member as its wire value (`str()` of a str-mixin Enum gives `Class.MEMBER`)."""
    return value.value if isinstance(value, Enum) else value


def prop(resource: Any, name: str) -> Any:
    """`resource.properties.<name>` as its wire value; None when the resource has no properties."""
    properties = resource.properties
    return plain(getattr(properties, name)) if properties else None


def state(resource: Any) -> str | None:
    return prop(resource, "provisioning_state")


def resource(resource_id: str, resource_type: str, action: str) -> dict[str, str]:
    return {"id": resource_id, "type": resource_type, "action": action}


def ok(resources: list[dict[str, str]], outputs: c.Wire | Mapping[str, Any]) -> Result:
    """Success: the resources made or found, and the activity's output contract in its wire form."""
    wire = outputs.to_dict() if isinstance(outputs, c.Wire) else dict(outputs)
    return {"ok": True, "resources": list(resources), "outputs": wire}


def inspected(found: Any, resource_type: str, facts: Callable[[Any], Mapping[str, Any]]) -> Result:
    """A read-only inspection's answer (plan, teardown): `exists` false, or the resource's id, type, location
    and tags with `facts(found)`."""
    if found is None:
        return ok([], {"exists": False})
    common = {"exists": True, "id": found.id, "type": resource_type, "location": found.location}
    return ok([], {**common, "tags": dict(found.tags or {}), **facts(found)})


def error(
    code: str, message: str, *, status: int | None = None, transient: bool = False, **extra: Any
) -> Result:
    """An expected failure the activity decided itself (not an ARM answer)."""
    return {
        "ok": False,
        "error": {"code": code, "message": message, "status": status, "transient": transient, **extra},
    }


def incompatible(kind: str, name: str, rules: list[str]) -> Result:
    """A resource under the requested name exists but cannot be adopted: name it and every rule it breaks."""
    return error(INCOMPATIBLE_EXISTING, f"existing {kind} '{name}' cannot be used: " + "; ".join(rules))


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
        raise CreateFailed(exc, resource(left.id, resource_type, ownership.CREATED)) from exc


# ---------------------------------------------------------------- resources left Failed


class NotPutRight(Exception):
    """A resource of this run's was found Failed/Canceled and PUTting it again did not make it right."""

    def __init__(self, result: Result) -> None:
        super().__init__(result["error"]["message"])
        self.result = result


def not_succeeded(state: Any) -> str | None:
    """What is wrong with a resource whose operation answered, judged by its provisioningState."""
    state = plain(state)
    return None if adoption.is_succeeded(state) else f"its provisioningState is {state or 'unknown'}"


def put_right(
    put: Callable[[], T], *, kind: str, owned: dict[str, str], wrong: Callable[[T], str | None] | None = None
) -> T:
    """PUT again, with the wanted body, a resource of this run's (`owned`) that an earlier operation left
    Failed or Canceled (ARM's documented way to put it right), then check it: `wrong(answer)` (by default: its
    provisioningState) says what is still not right, or None. Raises NotPutRight: the activity answers
    ResourceFailedState naming the resource, transient when the cause is (so the orchestrator's retry budget
    applies, and each retry PUTs again), and reports it as this run's, so that rollback sees it."""
    from azure.core.exceptions import AzureError

    try:
        made = put()
    except AzureError as exc:
        failure = errors.classify(exc)
        problem, transient, cause = f"{failure.code}: {failure.message}", failure.transient, exc
    else:
        problem = wrong(made) if wrong is not None else not_succeeded(state(made))
        if problem is None:
            return made
        transient, cause = True, None
    message = (
        f"{kind} '{owned['id']}' was left Failed or Canceled by an earlier operation and could not be put "
        f"right: {problem}"
    )
    result = error(RESOURCE_FAILED_STATE, message, transient=transient, resourceId=owned["id"])
    raise NotPutRight({**result, "resources": [owned]}) from cause


# ---------------------------------------------------------------- the adapter every activity goes through


def registered(bp: Any, name: str) -> Callable[[Callable[[InputT], Result]], Any]:
    """Register the body of the activity `name` on the blueprint `bp` under that function name, behind its
    Durable boundary: the input dict is parsed into its contract (`contracts.INPUTS[name]`; a wrong or
    missing key is a bug in the caller: raised, reported as ActivityCrashed), then the body runs under
    `arm_activity`. The registered function keeps the plain `(payload: dict) -> dict` signature the Functions
    host binds. Named, not typed: the contracts are imported when the activity first runs (cold start)."""

    def register(body: Callable[[InputT], Result]) -> Any:
        def parsed(payload: dict[str, Any]) -> Result:
            return body(c.parse_input(name, payload))  # type: ignore[arg-type]

        parsed.__name__, parsed.__qualname__, parsed.__doc__ = body.__name__, body.__qualname__, body.__doc__
        parsed.__module__ = body.__module__
        return bp.function_name(name)(bp.activity_trigger(input_name="payload")(arm_activity(parsed)))

    return register


def arm_activity(body: Callable[[dict[str, Any]], Result]) -> Callable[[dict[str, Any]], Result]:
    """Wrap an activity body so that Azure failures are returned (classified by provisioning.errors), never
    raised. Anything else that escapes is a bug and is raised: the orchestrator reports it as
    `ActivityCrashed`. azure.core is imported only when an exception is seen (cold start)."""

    @functools.wraps(body)
    def activity(payload: dict[str, Any]) -> Result:
        arm.import_sdks()
        created: list[dict[str, str]] = []
        try:
            return body(payload)
        except NotPutRight as failed:
            _log.warning("%s: %s", body.__name__, failed.result["error"]["code"])
            return failed.result
        except CreateFailed as failed:
            exc: BaseException = failed.cause
            created.append(failed.created)
        except Exception as raised:
            from azure.core.exceptions import AzureError

            if not isinstance(raised, AzureError):
                raise
            exc = raised
        result: Result = {"ok": False, "error": errors.classify(exc).to_dict()}
        if created:
            result["resources"] = created
        kind = "transient" if result["error"]["transient"] else "permanent"
        _log.warning("%s: %s (%s)", body.__name__, result["error"]["code"], kind)
        return result

    return activity
