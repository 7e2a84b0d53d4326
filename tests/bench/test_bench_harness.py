"""The benchmark harness in a tiny configuration: every figure is produced and sane (not a timed test)."""

from __future__ import annotations

import json

from bench import model
from bench.__main__ import main


def test_the_critical_path_bound_follows_the_plan_and_the_latency_model() -> None:
    peering, subnet = model.bound("peering"), model.bound("subnet")
    assert peering.critical_path == ("preflight", "aks_network", "aks_cluster", "dns_link")
    assert peering.critical_seconds == 5 + 300 + 30
    assert subnet.critical_path == ("preflight", "aks_network", "aks_cluster")
    assert subnet.critical_seconds == 5 + 300
    # One after another: every step's operations (peering: both sides, one after the other).
    assert peering.sequential_seconds == 5 + 300 + 15 + 5 + 5 + 10 + 30
    assert subnet.sequential_seconds == 5 + 300 + 15 + 5


def test_python_m_bench_tiny(tmp_path, capsys) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--runs", "1", "--latency-scale", "0.005", "--scale-sizes", "1,2",
                 "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    table = capsys.readouterr().out
    assert "| **run / bound**" in table and "cold start" in table

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
