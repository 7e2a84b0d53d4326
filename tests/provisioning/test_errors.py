"""classify() on real azure-core exception objects, and the backoff schedule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.polling.base_polling import OperationFailed

from provisioning.errors import (
    ArmFailure,
    backoff_seconds,
    classify,
    is_not_found,
    is_role_assignment_exists,
)


class RecordedResponse:
    """Test double of an HTTP response, shaped as azure-core's HttpResponseError reads one."""

    def __init__(self, status_code: int, body: Any = None, reason: str = "", headers: dict | None = None):
        self.status_code = status_code
        self.reason = reason
        self.headers = headers or {}
        self.request = None
        self._text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""

    def text(self, encoding: str | None = None) -> str:
        return self._text


def arm_error(
    status: int, code: str | None, message: str = "msg", cls: type = HttpResponseError
) -> Exception:
    body = {"error": {"code": code, "message": message}} if code else None
    return cls(response=RecordedResponse(status, body, reason="reason"))


def failed_lro(code: str | None, message: str = "it failed", status: str = "Failed") -> HttpResponseError:
    """What azure-core's LRO poller raises when the operation ends Failed/Canceled: the status body, 200."""
    body: dict[str, Any] = {"status": status}
    if code:
        body["error"] = {"code": code, "message": message}
    err = OperationFailed("Operation failed or canceled")
    return HttpResponseError(response=RecordedResponse(200, body, reason="OK"), error=err)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (409, "AnotherOperationInProgress"),
        (429, "ReferencedResourceNotProvisioned"),
        (400, "ReferencedResourceNotProvisioned"),
        (409, "OperationNotAllowed"),
        (400, "PrincipalNotFound"),
        (409, "RetryableError"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
        (502, None),
        (408, None),
        (429, None),
        (500, "SomethingOdd"),
    ],
)
def test_transient_http_errors(status: int, code: str | None) -> None:
    failure = classify(arm_error(status, code))
    assert failure.transient, failure
    assert failure.status == status
    if code:
        assert failure.code == code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "VnetAddressSpacesOverlap"),
        (400, "InvalidCIDRNotation"),
        (403, "AuthorizationFailed"),
        (400, "InvalidParameter"),
        (409, "Conflict"),
        (400, None),
    ],
)
def test_permanent_http_errors(status: int, code: str | None) -> None:
    failure = classify(arm_error(status, code, message="the request is wrong"))
    assert not failure.transient, failure
    assert failure.code == (code or "BadRequest")


def test_codes_are_compared_case_insensitively() -> None:
    assert classify(arm_error(409, "anotheroperationinprogress")).transient


def test_conflict_is_transient_only_when_something_is_busy() -> None:
    assert classify(arm_error(409, "Conflict", "Another operation is in progress on the vnet")).transient
    assert not classify(arm_error(409, "Conflict", "Name is used by a resource of another type")).transient


def test_operation_not_allowed_for_quota_is_permanent() -> None:
    failure = classify(
        arm_error(409, "OperationNotAllowed", "exceeding approved standardDSv5Family Cores quota")
    )
    assert not failure.transient


def test_sdk_subclasses_keep_their_status_and_code() -> None:
    not_found = classify(arm_error(404, "ResourceNotFound", cls=ResourceNotFoundError))
    assert (not_found.code, not_found.status, not_found.transient) == ("ResourceNotFound", 404, False)
    assert is_not_found(not_found)
    exists = classify(
        arm_error(409, "RoleAssignmentExists", "The role assignment already exists.", cls=ResourceExistsError)
    )
    assert is_role_assignment_exists(exists) and not exists.transient
    auth = classify(arm_error(401, "InvalidAuthenticationToken", cls=ClientAuthenticationError))
    assert not auth.transient and auth.status == 401


def test_failed_lro_is_classified_by_its_code_not_its_200() -> None:
    permanent = classify(failed_lro("VnetAddressSpacesOverlap", "spaces overlap"))
    assert permanent == ArmFailure("VnetAddressSpacesOverlap", "spaces overlap", 200, False)
    transient = classify(failed_lro("InternalServerError"))
    assert transient.transient and transient.code == "InternalServerError"
    busy = classify(failed_lro("AnotherOperationInProgress"))
    assert busy.transient


def test_failed_lro_without_an_error_object_is_permanent() -> None:
    failed = classify(failed_lro(None, status="Failed"))
    assert (failed.code, failed.transient) == ("OperationFailed", False)


def test_canceled_lro_is_transient_with_or_without_an_error_object() -> None:
    """Issue #9: a resource left Canceled is put right (PUT again): the write is retried, not rolled back."""
    canceled = classify(failed_lro(None, status="Canceled"))
    assert (canceled.code, canceled.transient) == ("OperationCanceled", True)
    with_code = classify(failed_lro("Canceled", "The operation was canceled.", status="Canceled"))
    assert (with_code.code, with_code.status, with_code.transient) == ("Canceled", 200, True)


def test_connection_drops_are_transient() -> None:
    for exc in (
        ServiceRequestError("Connection refused"),
        ServiceResponseError("Connection aborted: RemoteDisconnected"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
    ):
        failure = classify(exc)
        assert failure.transient and failure.code == "ConnectionError", (exc, failure)
        assert failure.status is None


def test_other_exceptions_are_permanent_with_their_type_as_code() -> None:
    failure = classify(ValueError("bad thing"))
    assert failure == ArmFailure("ValueError", "bad thing", None, False)


def test_http_error_without_a_json_body_uses_the_status() -> None:
    failure = classify(HttpResponseError(response=RecordedResponse(503, "<html>busy</html>", reason="Busy")))
    assert (failure.code, failure.status, failure.transient) == ("ServiceUnavailable", 503, True)


def test_long_messages_are_truncated() -> None:
    failure = classify(arm_error(400, "InvalidParameter", "x" * 10_000))
    assert len(failure.message) <= 2000


def test_to_dict_is_the_activity_error_shape() -> None:
    failure = classify(arm_error(429, "TooManyRequests", "slow down"))
    assert failure.to_dict() == {
        "code": "TooManyRequests",
        "message": "slow down",
        "status": 429,
        "transient": True,
    }
    assert ArmFailure.from_dict(failure.to_dict()) == failure


def test_role_assignment_exists_check() -> None:
    assert is_role_assignment_exists(ArmFailure("RoleAssignmentExists", "", 409, False))
    assert not is_role_assignment_exists(ArmFailure("Conflict", "", 409, False))


# ---------------------------------------------------------------- backoff


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_seconds(n, 5, 120) for n in range(1, 8)] == [5, 10, 20, 40, 80, 120, 120]
    assert backoff_seconds(10_000, 5, 120) == 120
    assert backoff_seconds(0, 5, 120) == 5  # attempts below 1 count as the first


def test_backoff_with_seed_is_deterministic_and_within_half_to_full() -> None:
    for attempt in range(1, 10):
        full = backoff_seconds(attempt, 5, 120)
        jittered = backoff_seconds(attempt, 5, 120, seed="setup-x")
        assert jittered == backoff_seconds(attempt, 5, 120, seed="setup-x")
        assert full / 2 <= jittered <= full
    spread = {backoff_seconds(3, 5, 120, seed=f"run-{i}") for i in range(20)}
    assert len(spread) > 10
