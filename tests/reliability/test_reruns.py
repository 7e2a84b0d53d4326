"""Re-runs converge: the same request again writes nothing and answers the same values; a setting changed by
hand in between is put back by the next run, and only it is written."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Lab, Target, normalize

REGISTRIES = "Microsoft.ContainerRegistry/registries"
PEERINGS = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
DNS_LINKS = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"


@pytest.mark.parametrize("topology", ["peering", "subnet"])
def test_the_same_request_again_writes_nothing_and_answers_the_same(lab: Lab, topology: str) -> None:
    target = Target(f"rerun|{topology}", topology)
    lab.prepare(target)
    first = lab.run(target)
    assert first.runtime_status == "Completed", first.output
    resources_after_first = lab.resources(target)
    mark = lab.log_mark()

    second = lab.run(target)

    assert second.runtime_status == "Completed", second.output
    assert lab.writes(target, since=mark) == []
    assert lab.resources(target) == resources_after_first  # byte for byte: not even an etag moved
    assert second.output["hopsworks"] == first.output["hopsworks"]
    assert [(r["id"], r["type"]) for r in second.output["resources"]] == [
        (r["id"], r["type"]) for r in first.output["resources"]
    ]
    assert {r["action"] for r in first.output["resources"]} == {"created"}
    assert {r["action"] for r in second.output["resources"]} == {"existing"}


def test_settings_changed_by_hand_are_put_back_by_the_next_run(lab: Lab) -> None:
    target = Target("rerun|drift")
    lab.prepare(target)
    first = lab.run(target)
    assert first.runtime_status == "Completed", first.output
    wanted = lab.state(target)
    ids = {r["type"]: [] for r in first.output["resources"]}
    for r in first.output["resources"]:
        ids[r["type"]].append(r["id"])
    registry = ids[REGISTRIES][0]
    peering = next(i for i in ids[PEERINGS] if "/virtualNetworks/hopsaks-vnet/" in i)
    role_assignment = ids[ROLE_ASSIGNMENTS][0]
    link = ids[DNS_LINKS][0]

    # By hand: retention off, forwarded traffic allowed, one role assignment removed, the DNS link deleted.
    lab.arm_settled(
        "PATCH",
        registry,
        REGISTRIES,
        {"properties": {"policies": {"retentionPolicy": {"days": 7, "status": "disabled"}}}},
    )
    body = lab.arm("GET", peering, PEERINGS)[1]
    body["properties"]["allowForwardedTraffic"] = True
    lab.arm_settled("PUT", peering, PEERINGS, body)
    lab.arm_settled("DELETE", role_assignment, ROLE_ASSIGNMENTS)
    lab.arm_settled("DELETE", link, DNS_LINKS)
    drifted = lab.state(target)
    assert drifted != wanted
    assert lab.sim.resource(registry)["properties"]["policies"]["retentionPolicy"]["status"] == "disabled"
    mark = lab.log_mark()

    again = lab.run(target)

    assert again.runtime_status == "Completed", again.output
    assert again.output["hopsworks"] == first.output["hopsworks"]
    assert lab.state(target) == wanted
    written = sorted((e["method"], e["path"].lower()) for e in lab.writes(target, since=mark))
    assert written == sorted(
        [
            ("PATCH", registry.lower()),
            ("PUT", peering.lower()),
            ("PUT", role_assignment.lower()),
            ("PUT", link.lower()),
        ]
    )
    assert lab.sim.resource(registry)["properties"]["policies"]["retentionPolicy"] == {
        **lab.sim.resource(registry)["properties"]["policies"]["retentionPolicy"],
        "days": 7,
        "status": "enabled",
    }
    assert lab.sim.resource(peering)["properties"]["allowForwardedTraffic"] is False
    assert lab.sim.resource(role_assignment) is not None
    assert lab.sim.resource(link) is not None
    assert normalize(again.output["hopsworks"], target) == normalize(first.output["hopsworks"], target)
