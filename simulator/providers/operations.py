"""Operation status (``Azure-AsyncOperation``) and result (``Location``) URLs of long-running operations."""

from __future__ import annotations

from simulator.arm import Arm, ArmError, Operation, Request, Response

BASE = "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}"


def register(arm: Arm) -> None:
    arm.route("GET", BASE + "/operationStatuses/{operationId}", get_status)
    arm.route("GET", BASE + "/operationResults/{operationId}", get_result)


def _operation(arm: Arm, req: Request) -> Operation:
    op = arm.operations.get(req.params["operationId"])
    if op is None or op.subscription_id.lower() != req.subscription_id.lower():
        raise ArmError(
            404, "OperationNotFound", f"The operation '{req.params['operationId']}' was not found."
        )
    req.log_resource_type = op.resource_type
    op.observed += 1
    arm.advance()
    return op


def _retry_headers(arm: Arm, op: Operation) -> dict[str, str]:
    retry = arm.retry_after_for(op.resource_type)
    return {"Retry-After": str(retry)} if retry is not None and op.status == "InProgress" else {}


def get_status(arm: Arm, req: Request) -> Response:
    op = _operation(arm, req)
    return Response(200, op.status_body(), _retry_headers(arm, op))


def get_result(arm: Arm, req: Request) -> Response:
    op = _operation(arm, req)
    if op.status == "InProgress":
        headers = _retry_headers(arm, op)
        headers["Location"] = arm.endpoint + op.result_path() + f"?api-version={req.api_version}"
        return Response(202, None, headers)
    if op.status == "Succeeded":
        if op.kind == "delete" or op.result_body is None:
            return Response(204)
        return Response(200, op.result_body)
    error = op.error or {"code": op.status, "message": f"The operation ended {op.status}."}
    raise ArmError(400, error["code"], error["message"])
