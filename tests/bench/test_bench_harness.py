"""The benchmark harness in a tiny configuration: every figure is produced and sane (not a timed test)."""

from __future__ import annotations

import json

from bench import model
from bench.__main__ import main
from provisioning.status_polling import LONG_OPERATION_SECONDS, SOON_SECONDS


def test_the_critical_path_bound_follows_the_plan_and_the_latency_model() -> None:
    peering, subnet = model.bound("peering"), model.bound("subnet")
    assert peering.critical_path == ("preflight", "aks_network", "aks_cluster", "dns_link")
    assert peering.critical_seconds == 5 + 300 + 30
    assert subnet.critical_path == ("preflight", "aks_network", "aks_cluster")
    assert subnet.critical_seconds == 5 + 300
    # One after another: every step's operations (peering: both sides, one after the other).
    assert peering.sequential_seconds == 5 + 300 + 15 + 5 + 5 + 10 + 30
    assert subnet.sequential_seconds == 5 + 300 + 15 + 5


def test_the_dependent_chain_bound_and_another_latency_model() -> None:
    peering, subnet = model.chain_bound("peering"), model.chain_bound("subnet")
    assert peering.links == ("virtualnetworks", "managedclusters", "virtualnetworklinks")
    assert (peering.model_seconds, peering.round_trips) == (5 + 300 + 30, 3)
    assert subnet.links == ("virtualnetworks", "managedclusters", "roleassignments")
    assert subnet.model_seconds == 5 + 300 + 0  # a role assignment is answered at once
    assert peering.seconds(0.1, 0.02) == (5 + 300 + 30) * 0.1 + 3 * 0.02
    eight_minutes = {model.CLUSTER: {"create": 480}}
    assert model.chain_bound("peering", eight_minutes).model_seconds == 5 + 480 + 30
    assert model.bound("subnet", eight_minutes).critical_seconds == 5 + 480


def test_python_m_bench_tiny(tmp_path, capsys) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--runs", "1", "--latency-scale", "0.005", "--scale-sizes", "1,2",
                 "--cluster-seconds", "300", "480", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert "| **user's wait / bound** (new" in printed and "| run / plan's critical path (old" in printed
    assert "cold start" in printed
    assert [m["clusterSeconds"] for m in results["latencyModels"]] == [300, 480]
    assert results["latencyModels"][1]["latencyOverrides"] == {model.CLUSTER: {"create": 480}}
    for live in results["latencyModels"]:
        assert 0 < live["armRoundTripSeconds"] < 1
        for topology, figures in live["topologies"].items():
            chain = model.chain_bound(topology, live["latencyOverrides"])
            assert figures["chainModelSeconds"] == chain.model_seconds
            for run in figures["runs"]:
                # The cluster took what the model said; the user waited at least the chain; the timeline
                # shows the run from the POST's answer to the final status.
                assert abs(run["clusterSeconds"] - live["clusterSeconds"] * 0.005) < 1e-6
                user = run["user"]
                assert user["statusCode"] == 200 and user["polls"] >= 1
                assert user["ratio"] >= 1.0 and user["seconds"] <= run["seconds"] + 0.5
                assert set(user["retryAfterSeen"]) <= {SOON_SECONDS, LONG_OPERATION_SECONDS}
                gaps = user["gapsSeconds"]
                assert gaps["postToFirstWrite"] > 0 and gaps["clusterDoneToNoticed"] >= 0
                assert gaps["endedToSeen"] >= 0
                text = run["timeline"]
                for mark in ("POST answered", "first write: PUT", "cluster done in ARM",
                             "orchestration ended", "cluster noticed by the orchestrator",
                             "final status seen (200"):
                    assert mark in text, (mark, text)
                assert text in printed

    for topology, figures in results["live"]["topologies"].items():
        assert figures["sequentialRatio"] > 1.0
        for run in figures["runs"]:
            # Nothing beats the physical limit; a run's figures come from its own history and ARM log.
            assert run["ratio"] >= 1.0, topology
            assert run["events"] > 0 and 0 < run["episodes"] < run["events"]
            assert run["replayCpuMs"] > 0
            assert run["clusterLagSeconds"] is not None and run["clusterLagSeconds"] >= 0
            assert run["traffic"]["writes"] == sum(model.writes_by_type(topology).values())
            assert run["rerun"]["traffic"]["writes"] == 0
            assert run["statusReads"]["operations"] > 0 and run["statusReads"]["worstExcess"] <= 0
            assert run["clusterReads"]["reads"] <= run["clusterReads"]["allowed"]

    for figures in results["tenMinuteCluster"]["topologies"].values():
        assert 0 < figures["eventsMax"] and 0 < figures["lagShareMax"] < 1

    cold = results["coldStart"]
    assert cold["ratio"] > 0 and cold["heavyModulesAtStartup"] == []

    batches = results["scale"]["batches"]
    assert [b["setups"] for b in batches] == [1, 2]
    assert all(b["succeeded"] == b["setups"] and b["hostPeakRssMb"] > 0 for b in batches)
