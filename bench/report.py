"""The benchmark results as one Markdown table (stdout and README "Performance")."""

from __future__ import annotations

from collections.abc import Callable
from statistics import median
from typing import Any

SHORT_TYPES = {
    "Microsoft.Authorization/permissions": "permissions",
    "Microsoft.Authorization/roleAssignments": "roleAssignments",
    "Microsoft.ContainerRegistry/registries": "registries",
    "Microsoft.ContainerService/managedClusters": "managedClusters",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "identities",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": "dnsLinks",
    "Microsoft.Network/privateDnsZones": "dnsZones",
    "Microsoft.Network/virtualNetworks": "vnets",
    "Microsoft.Network/virtualNetworks/subnets": "subnets",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings": "peerings",
    "Microsoft.Resources/resourceGroups": "resourceGroups",
}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _counts(counts: dict[str, int], names: dict[str, str] | None = None) -> str:
    names = names or {}
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in counts.items())


def render_timelines(results: dict[str, Any]) -> str:
    """Every measured run's timeline (bench/timeline.py), model by model."""
    texts = []
    for live in results.get("latencyModels") or [results["live"]]:
        for figures in live["topologies"].values():
            texts += [run["timeline"] for run in figures["runs"] if run.get("timeline")]
    return "\n\n".join(texts) + ("\n" if texts else "")


def _gap(runs: list[dict], name: str) -> str:
    values = [v for v in (r["user"]["gapsModelSeconds"][name] for r in runs) if v is not None]
    return "n/a" if not values else f"{median(values):.1f}"


def _yardstick_rows(results: dict[str, Any], topologies: list[str],
                    row: Callable[[str, list[str], str], None]) -> None:
    models = results.get("latencyModels") or [results["live"]]
    for live in models:
        each = [live["topologies"][t] for t in topologies]
        cluster = f"cluster {live['clusterSeconds']:g} s"
        row(f"**user's wait / bound** (new; median; max of {len(each[0]['runs'])}), {cluster}",
            [f"**{t['userRatioMedian']:.3f}**; {t['userRatioMax']:.3f}" for t in each], "<= 1.05")
        row(f"the same, polling the extension's status URL instead (median), {cluster}",
            [f"{t['viaExtensionRatioMedian']:.3f}" for t in each], "")
        row(f"run / plan's critical path (old; median; max), {cluster}",
            [f"{t['ratioMedian']:.3f}; {t['ratioMax']:.3f}" for t in each], "(<= 1.10)")
    for live in models:
        each = [live["topologies"][t] for t in topologies]
        scale = live["latencyScale"]
        row(f"bounds, cluster {live['clusterSeconds']:g} s: new (chain + ARM round trips); old (plan)",
            [f"{t['chainModelSeconds']:.0f} s ({' > '.join(t['chain'])}) + 3 x "
             f"{live['armRoundTripSeconds'] * 1000:.0f} ms; {t['boundSeconds'] / scale:.0f} s "
             f"({' > '.join(t['criticalPath'])})" for t in each], "")
        row(f"where the rest went, cluster {live['clusterSeconds']:g} s (median, s at scale 1): POST "
            "answered -> first write; cluster done -> noticed; run ended -> final status seen",
            [f"{_gap(t['runs'], 'postToFirstWrite')}; {_gap(t['runs'], 'clusterDoneToNoticed')}; "
             f"{_gap(t['runs'], 'endedToSeen')}" for t in each], "")


def render(results: dict[str, Any]) -> str:
    live = results["live"]
    topologies = list(live["topologies"])
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, values: list[str], goal: str = "") -> None:
        rows.append((label, values, goal))

    each = [live["topologies"][t] for t in topologies]
    scale = live["latencyScale"]
    _yardstick_rows(results, topologies, row)
    row("steps one after another / bound", [f"{t['sequentialRatio']:.3f}" for t in each])
    row("first run of a fresh host / bound", [f"{t['coldRunRatio']:.3f}" for t in each])
    row("run time (s; bound s)", [f"{t['runs'][0]['seconds']:.2f}; {t['boundSeconds']:.2f}" for t in each])
    row("history events / episodes per run", [f"{t['runs'][0]['events']} / {t['runs'][0]['episodes']}"
                                              for t in each])
    row("orchestrator replay CPU per run (ms)", [f"{t['runs'][0]['replayCpuMs']:.0f}" for t in each])
    row("cluster done -> orchestrator noticed (max, share of creation)",
        [_pct(max(r["clusterLagShare"] for r in t["runs"])) for t in each])
    ten = results["tenMinuteCluster"]
    tt = [ten["topologies"][t] for t in topologies]
    row(f"10-min cluster, {ten['pollIntervalSeconds']:g} s polling: history events (max; the largest one "
        "history, i.e. the setup's or a cluster-watch generation's; the setup's own; all written)",
        [f"{t['eventsMax']}; {t.get('setupHistoryEventsMax', 'n/a')}; {t.get('eventsWrittenMax', 'n/a')}"
         for t in tt], "<= 300")
    row(f"10-min cluster, {ten['pollIntervalSeconds']:g} s polling: cluster reads; episodes (max)",
        [f"{t.get('clusterReadsMax', 'n/a')}; {t['episodesMax']}" for t in tt], "")
    row(f"10-min cluster, {ten['pollIntervalSeconds']:g} s polling: lag (worst; mean)",
        [f"{_pct(t['lagShareMax'])}; {_pct(t['lagShareMean'])}" for t in tt], "<= 5%")
    row("ARM requests per run by method", [_counts(t["runs"][0]["traffic"]["byMethod"]) for t in each])
    row("ARM requests per run by resource type",
        [_counts({k: v for k, v in t["runs"][0]["traffic"]["byResourceType"].items()}, SHORT_TYPES)
         for t in each])
    row("writes by a re-run over finished work", [str(max(r["rerun"]["traffic"]["writes"] for r in t["runs"]))
                                                  for t in each], "0")
    row("status reads above one per polling interval (worst op)",
        [str(max(r["statusReads"]["worstExcess"] for r in t["runs"])) for t in each], "<= 0")
    row("cluster reads / allowed by the poll interval",
        [f"{r['reads']} / {r['allowed']}" for r in (t["runs"][0]["clusterReads"] for t in each)],
        "reads <= allowed")
    cold = results["coldStart"]
    row("cold start: import+index function_app / Functions SDKs",
        [f"**{cold['ratio']:.2f}** ({cold['appMedianSeconds'] * 1000:.0f} / "
         f"{cold['baselineMedianSeconds'] * 1000:.0f} ms, median of {cold['repetitions']})",
         "heavy SDKs at start-up: " + (", ".join(cold["heavyModulesAtStartup"]) or "none")], "<= 1.3")
    for batch in results["scale"]["batches"]:
        row(f"scale: {batch['setups']} concurrent setups",
            [f"{batch['seconds']:.1f} s = {batch['relativeToOne']:.2f}x one ({batch['succeeded']} ok)",
             f"peak RSS host {batch['hostPeakRssMb']:.0f} MiB, "
             f"simulator {batch['simulatorPeakRssMb']:.0f} MiB"])

    header = "| figure | " + " | ".join(topologies) + " | goal |"
    lines = [header, "|---|" + "---|" * len(topologies) + "---|"]
    for label, values, goal in rows:
        lines.append(f"| {label} | " + " | ".join(values) + f" | {goal} |")
    machine = results["machine"]
    lines.append("")
    lines.append(
        f"Latency scale {scale:g} (cluster {300 * scale:g} s), orchestrator poll interval "
        f"{live['pollIntervalSeconds']:g} s (= {results['productionPollIntervalSeconds']:g} s x scale), "
        f"in-activity ARM polling {live['armPollingIntervalSeconds']:g} s, Logic Apps-like poller waiting "
        f"Retry-After x {scale:g}; {machine['cpus']} CPUs, Python "
        f"{machine['python']}; `python -m bench{' --quick' if results['quick'] else ''}` took "
        f"{results.get('benchSeconds', 0):.0f} s. Scale rows: topologies alternate; the two columns are time "
        "and memory."
    )
    return "\n".join(lines)
