"""Who made a resource (provisioning/ownership.py): pure, no Azure."""

from __future__ import annotations

from provisioning import ownership


def test_action_by_run_tag_and_description() -> None:
    tags = ownership.run_tags({"owner": "me"}, "setup-1", "run-1")
    assert tags == {"owner": "me", "hopsworks-setup": "setup-1", "hopsworks-setup-run": "run-1"}
    assert ownership.action_from_tags(tags, "run-1") == "created"
    assert ownership.action_from_tags(tags, "run-2") == "existing"
    assert ownership.action_from_tags(None, "run-1") == "existing"
    description = ownership.role_assignment_description("run-1")
    assert description == "hopsworks-setup-run=run-1"
    assert ownership.action_from_description(description, "run-1") == "created"
    assert ownership.action_from_description(description, "run-2") == "existing"
    assert ownership.action_from_description(None, "run-1") == "existing"
