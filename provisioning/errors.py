"""Classifying ARM failures (transient or permanent) and the retry backoff schedule.

Works on azure-core exceptions by duck typing, so this package stays free of SDK imports: an
`HttpResponseError` has `status_code`, `error` (with `code` and `message`) and `message`. A failed
long-running operation raises `HttpResponseError` with `status_code == 200` and the cause in `error.code`,
so classification goes by the error code first and the status only when no code says otherwise.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

MAX_MESSAGE_LENGTH = 2000

# Codes that mean "try again later" whatever the HTTP status (many come back in 400/409 answers or in the
# body of a failed long-running operation).
TRANSIENT_CODES = frozenset(
    code.casefold()
    for code in (
        "AnotherOperationInProgress",
        "ReferencedResourceNotProvisioned",
        "OperationNotAllowed",  # AKS: the cluster is busy with another operation
        "OperationPreempted",
        "PrincipalNotFound",  # a just-created identity has not replicated yet
        "RetryableError",
        "RetryableErrorDueToAnotherOperation",
        "CanceledAndSupersededDueToAnotherOperation",
        # A write whose operation ended Canceled (ARM cancels one that another operation preempted) leaves
        # the resource Canceled; ARM's way out is to PUT it again, which the retry does (issue #9).
        "Canceled",
        "OperationCanceled",  # a Canceled operation status without an error object (see below)
        "TooManyRequests",
        "SubscriptionRequestsThrottled",
        "ResourceGroupRequestsThrottled",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "GatewayTimeout",
        "RequestTimeout",
        "ConnectionError",
    )
)
TRANSIENT_STATUSES = frozenset({408, 429})

# `Conflict` is ambiguous: transient only when the message says something else is going on.
_BUSY_MESSAGE = re.compile(r"in progress|another operation|busy|is being (updated|created|deleted)", re.I)
# Compute answers OperationNotAllowed for exhausted quota, which waiting does not fix.
_QUOTA_MESSAGE = re.compile(r"quota", re.I)

# azure-core exception classes (matched by name: no import) that mean the request or response never made
# it whole: the connection dropped, timed out or was refused.
_CONNECTION_ERROR_CLASSES = frozenset(
    {
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        "IncompleteReadError",
        "ConnectionError",  # builtin and requests' (an IOError subclass of the same name)
        "ClientConnectionError",  # aiohttp
        "ServerDisconnectedError",
    }
)


@dataclass(frozen=True)
class ArmFailure:
    """An expected ARM failure, as an activity reports it (DESIGN.md, activity contract)."""

    code: str
    message: str
    status: int | None
    transient: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArmFailure:
        return cls(
            code=str(data.get("code", "Unknown")),
            message=str(data.get("message", "")),
            status=data.get("status") if isinstance(data.get("status"), int) else None,
            transient=bool(data.get("transient", False)),
        )


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 3] + "..."


def _error_code_and_message(exc: BaseException) -> tuple[str | None, str | None]:
    """Code and message from `exc.error` (ODataV4Format / ARMErrorFormat), else from the response body."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if isinstance(code, str) and code:
        return code, message if isinstance(message, str) else None
    body = _response_json(exc)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            inner_message = inner.get("message")
            return inner["code"], inner_message if isinstance(inner_message, str) else None
        # An LRO status body without an error object: {"status": "Canceled"} / {"status": "Failed"}.
        status = body.get("status") or (body.get("properties") or {}).get("provisioningState")
        if isinstance(status, str) and status.casefold() == "canceled":
            return "OperationCanceled", "the long-running operation was canceled"
        if isinstance(status, str) and status.casefold() == "failed":
            return "OperationFailed", "the long-running operation failed without an error object"
    return None, None


def _response_json(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    text_method = getattr(response, "text", None)
    if not callable(text_method):
        return None
    try:
        return json.loads(text_method())
    except Exception:  # noqa: BLE001 - any unreadable body just means "no code in it"
        return None


def _is_transient(code: str | None, status: int | None, message: str) -> bool:
    if code:
        folded = code.casefold()
        if folded == "operationnotallowed" and _QUOTA_MESSAGE.search(message):
            return False
        if folded in TRANSIENT_CODES:
            return True
        if folded == "conflict" and _BUSY_MESSAGE.search(message):
            return True
    if status is None:
        return False
    return status in TRANSIENT_STATUSES or 500 <= status <= 599


def _status_code_name(status: int | None) -> str:
    names = {
        400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "RequestTimeout",
        409: "Conflict", 412: "PreconditionFailed", 429: "TooManyRequests", 500: "InternalServerError",
        502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
    }
    if status is None:
        return "HttpResponseError"
    return names.get(status, f"Http{status}")


def classify(exc: BaseException) -> ArmFailure:
    """ArmFailure for any exception an SDK call can raise. Never raises."""
    try:
        return _classify(exc)
    except Exception:  # noqa: BLE001 - classification must not turn one failure into another
        return ArmFailure(type(exc).__name__, "unclassifiable error", None, False)


def _classify(exc: BaseException) -> ArmFailure:
    names = _class_names(exc)
    text = _truncate(str(exc))
    if names & _CONNECTION_ERROR_CLASSES or isinstance(exc, ConnectionError | TimeoutError):
        return ArmFailure("ConnectionError", text or type(exc).__name__, None, True)

    raw_status = getattr(exc, "status_code", None)
    status = raw_status if isinstance(raw_status, int) and not isinstance(raw_status, bool) else None
    if "HttpResponseError" in names or status is not None:
        code, message = _error_code_and_message(exc)
        if not message:
            message = getattr(exc, "message", None) or text
        message = _truncate(str(message))
        if status == 200 and not code:
            # A long-running operation ended without success and without saying why.
            code = "OperationFailed"
        code = code or _status_code_name(status)
        return ArmFailure(code, message, status, _is_transient(code, status, message))

    return ArmFailure(type(exc).__name__, text or type(exc).__name__, None, False)


def is_transient_code(code: str, message: str = "") -> bool:
    """Whether an ARM error code (e.g. a failed operation's, read from a resource's status) means "try again
    later", by the same rules as `classify`."""
    return _is_transient(code, None, message)


def is_role_assignment_exists(failure: ArmFailure) -> bool:
    """409 RoleAssignmentExists: the same (scope, role, principal) under another name; counts as done."""
    return failure.code.casefold() == "roleassignmentexists"


def is_not_found(failure: ArmFailure) -> bool:
    return failure.status == 404 or failure.code.casefold() in {
        "resourcenotfound", "notfound", "resourcegroupnotfound",
    }


def backoff_seconds(attempt: int, first: float, maximum: float, seed: str | None = None) -> float:
    """Delay before retry number `attempt` (1 = the first retry): first * 2^(attempt-1), capped at maximum.

    Deterministic (orchestrators replay it). With `seed`, the delay is spread over [d/2, d] by a hash of
    (seed, attempt) so that runs started together do not retry in lockstep.
    """
    attempt = max(int(attempt), 1)
    first = max(float(first), 0.0)
    maximum = max(float(maximum), 0.0)
    exponent = min(attempt - 1, 62)  # 2**62 * first already exceeds any sane maximum
    delay = min(first * (2**exponent), maximum)
    if seed is not None:
        digest = hashlib.sha256(f"{seed}|{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        delay = delay / 2 + fraction * delay / 2
    return delay
