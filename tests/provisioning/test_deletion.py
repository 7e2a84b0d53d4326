"""Which module deletes a type, and what a delete's answer means (provisioning/deletion.py)."""

from __future__ import annotations

import pytest

from provisioning import deletion, errors


def test_service_for_each_type_ignores_case_and_refuses_unknown_types() -> None:
    assert deletion.service_for("Microsoft.Network/virtualNetworks/subnets") == "network"
    assert deletion.service_for("microsoft.containerservice/MANAGEDCLUSTERS") == "containerservice"
    with pytest.raises(ValueError, match="no deleter"):
        deletion.service_for("Microsoft.Storage/storageAccounts")


def test_busy_is_a_409_that_says_another_operation_runs() -> None:
    assert deletion.is_busy(errors.ArmFailure("OperationNotAllowed", "still creating", 409, True))
    assert deletion.is_busy(errors.ArmFailure("AnotherOperationInProgress", "", 409, True))
    assert not deletion.is_busy(errors.ArmFailure("OperationNotAllowed", "", 400, False))
    assert not deletion.is_busy(errors.ArmFailure("AuthorizationFailed", "", 403, False))


def test_outcome_shape() -> None:
    assert deletion.outcome(True).to_dict() == {"done": True}
    assert deletion.outcome(False).to_dict() == {"done": False}
    assert deletion.outcome(False, busy=True).to_dict() == {"done": False, "busy": True}
