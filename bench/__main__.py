"""`python -m bench [--quick]`: the performance figures of issue #6, as a table and as JSON.

1. what the user waits for (issue #12): from the moment the POST is answered to the moment the status URL
   first answers the final result, polled as Logic Apps polls (key in the URL, follows Location, honours
   Retry-After scaled by the latency scale), divided by the critical path of the truly dependent chain (AKS
   vnet -> cluster -> DNS link, or -> kubelet AcrPull) plus one ARM round trip per link (median GET on the
   simulator). Beside it, in the same runs, issue #6's yardstick: POST sent -> the extension's status URL
   stops answering 202 (10 ms polls), over the critical path of the step plan. Runs go through the local host
   on the simulated Azure (latency model scaled so the cluster takes seconds; the orchestrator's poll interval
   scaled by the same factor), both topologies, for the model's own cluster time and another one
   (`--cluster-seconds`, default 300 and 480), with a timeline per run.
2. engine cost: history events, episodes and replay CPU per run, the cluster-noticed lag; the same for a
   10-minute cluster at the production poll interval (orchestrator replay driver of tests/orchestrator).
3. ARM traffic: requests per run by method and resource type; writes made by a re-run over finished work;
   status reads per operation against the polling interval.
4. cold start: importing and indexing function_app.py in a fresh process against the Functions SDKs alone.
5. scale: 1, 10 and 50 concurrent setups (distinct targets), batch wall time relative to one, peak memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import coldstart, harness, model, timeline
from bench.report import render, render_timelines
from devhost.testing import DevHost
from provisioning.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
TOPOLOGIES = ("peering", "subnet")


def production_poll_seconds() -> float:
    return float(Settings().poll_interval_seconds)


# -- 1, 2 (live), 3 -------------------------------------------------------------------------------------


def live_runs(scale: float, runs: int, cluster_seconds: float | None = None) -> dict[str, Any]:
    """Measured runs of both topologies under one latency model (the cluster's create overridden or not)."""
    overrides = None
    if cluster_seconds is not None and cluster_seconds != model.operation_seconds(model.CLUSTER, "create"):
        overrides = {model.CLUSTER: {"create": cluster_seconds}}
    poll = production_poll_seconds() * scale
    out: dict[str, Any] = {"latencyScale": scale, "pollIntervalSeconds": poll, "topologies": {},
                           "clusterSeconds": model.operation_seconds(model.CLUSTER, "create", overrides),
                           "latencyOverrides": overrides or {}}
    with harness.Bench(scale, poll, latency_overrides=overrides) as bench:
        out["armPollingIntervalSeconds"] = bench.arm_polling_interval
        round_trip = bench.arm_round_trip_seconds()
        out["armRoundTripSeconds"] = round_trip
        for topology in TOPOLOGIES:
            bound = model.bound(topology, overrides)
            chain = model.chain_bound(topology, overrides)
            warmup = harness.example_request(topology, 100)
            bench.add_target(warmup)
            cold = bench.run(warmup)
            measured = []
            for index in range(1, runs + 1):
                request = harness.example_request(topology, index)
                bench.add_target(request)
                result = bench.run(request)
                rerun = bench.run(request)
                figures = _figures(bench, request, result, rerun, bound, scale, poll)
                figures["user"] = _user_figures(result, chain, scale, round_trip)
                figures["timeline"] = timeline.render(
                    result, scale, f"{topology}, cluster {out['clusterSeconds']:g} s, run {index}")
                measured.append(figures)
            out["topologies"][topology] = {
                "criticalPath": list(bound.critical_path),
                "boundSeconds": bound.critical_seconds * scale,
                "sequentialSeconds": bound.sequential_seconds * scale,
                "sequentialRatio": bound.sequential_seconds / bound.critical_seconds,
                "coldRunSeconds": cold.seconds,
                "coldRunRatio": cold.seconds / (bound.critical_seconds * scale),
                "runs": measured,
                "ratioMedian": statistics.median(m["ratio"] for m in measured),
                "ratioMax": max(m["ratio"] for m in measured),
                "chain": list(chain.links),
                "chainModelSeconds": chain.model_seconds,
                "userBoundSeconds": chain.seconds(scale, round_trip),
                "userRatioMedian": statistics.median(m["user"]["ratio"] for m in measured),
                "userRatioMax": max(m["user"]["ratio"] for m in measured),
                "viaExtensionRatioMedian": statistics.median(
                    m["user"]["viaExtensionRatio"] for m in measured),
                "modelWrites": model.writes_by_type(topology),
            }
    return out


def _user_figures(result: harness.RunResult, chain: model.ChainBound, scale: float,
                  round_trip: float) -> dict[str, Any]:
    bound = chain.seconds(scale, round_trip)
    gaps = timeline.gaps(result)
    return {
        "seconds": result.user_seconds,
        "boundSeconds": bound,
        "ratio": result.user_seconds / bound,
        # The same poller on the extension's status URL (POST's Location before the app's status endpoint).
        "viaExtensionRatio": (result.extension_final_seen - result.post_answered) / bound,
        "statusCode": result.user_status_code,
        "polls": len(result.polls),
        "retryAfterSeen": sorted({p.retry_after for p in result.polls if p.retry_after is not None}),
        "gapsSeconds": gaps,
        "gapsModelSeconds": {k: None if v is None else v / scale for k, v in gaps.items()},
    }


def _figures(bench: harness.Bench, request: dict, result: harness.RunResult, rerun: harness.RunResult,
             bound: model.Bound, scale: float, poll: float) -> dict[str, Any]:
    if not result.ok or not rerun.ok or result.user_status_code != 200:
        raise SystemExit(f"a benchmark run failed: {result.status_code} {result.output}")
    operation = bench.cluster_operation(request)
    noticed = harness.cluster_noticed_at(result.history)
    lag = None if noticed is None else noticed - operation["ended"]
    status_reads = harness.status_read_excess(result.requests, bench.operation_durations(),
                                              bench.arm_polling_interval)
    status_reads.pop("perOperation")
    return {
        "seconds": result.seconds,
        "ratio": result.seconds / (bound.critical_seconds * scale),
        "events": result.events,
        "episodes": result.episodes,
        "replayCpuMs": result.replay_cpu_ms,
        "clusterSeconds": operation["seconds"],
        "clusterLagSeconds": lag,
        "clusterLagShare": None if lag is None else lag / operation["seconds"],
        "traffic": harness.traffic(result.requests),
        "statusReads": status_reads,
        "clusterReads": harness.cluster_read_excess(result.requests, request["aks"]["name"], poll),
        "activitySeconds": {k: round(v, 3) for k, v in harness.activity_seconds(result.history).items()},
        "rerun": {"seconds": rerun.seconds, "traffic": harness.traffic(rerun.requests),
                  "events": rerun.events},
    }


# -- 2 (a 10-minute cluster at the production interval, on the replay driver) ----------------------------


def ten_minute_cluster(poll_seconds: float, offsets: range) -> dict[str, Any]:
    from tests.orchestrator.conftest import orchestration_input, registered_handle
    from tests.orchestrator.driver import drive
    from tests.orchestrator.world import FakeAzure

    out: dict[str, Any] = {"pollIntervalSeconds": poll_seconds, "topologies": {}}
    for topology in TOPOLOGIES:
        events, setup_events, written, episodes, reads, lags = [], [], [], [], [], []
        cpu = 0.0
        for offset in offsets:
            seconds = 600 - offset
            world = FakeAzure(cluster_seconds=seconds)
            began = time.thread_time()
            run = drive(registered_handle(), world,
                        orchestration_input(topology, pollIntervalSeconds=poll_seconds))
            cpu = max(cpu, time.thread_time() - began)
            noticed = next(c for c in world.calls_to("get_aks_cluster") if c.time >= world.cluster_ready_at)
            lag = (noticed.time - world.cluster_ready_at).total_seconds() + world.activity_seconds
            # The bound is on what one history holds (what a replay reads): the setup's and each generation
            # of the cluster watch, which continues as new (orchestrators/cluster_watch.py).
            events.append(run.largest_history)
            setup_events.append(len(run.history.events))
            written.append(run.events_written)
            episodes.append(sum(len(r.episodes) for r in run.every_run()))
            reads.append(len(world.calls_to("get_aks_cluster")))
            lags.append(lag / seconds)
        out["topologies"][topology] = {
            "clusterSeconds": [600 - o for o in offsets][0:1] + [600 - offsets[-1]],
            "eventsMax": max(events), "setupHistoryEventsMax": max(setup_events),
            "eventsWrittenMax": max(written), "episodesMax": max(episodes), "clusterReadsMax": max(reads),
            "lagShareMax": max(lags), "lagShareMean": statistics.mean(lags),
            "driverCpuSecondsMax": cpu,
        }
    return out


# -- 5 ------------------------------------------------------------------------------------------------


def scale_batches(sizes: tuple[int, ...], latency_scale: float) -> dict[str, Any]:
    poll = production_poll_seconds() * latency_scale
    out: dict[str, Any] = {"latencyScale": latency_scale, "batches": []}
    for size in sizes:
        targets = [harness.example_request(TOPOLOGIES[i % 2], 1000 + i) for i in range(size)]
        groups = [(t["subscriptionId"], t["resourceGroup"], t["location"]) for t in targets]
        simulator = harness.SimulatorProcess(latency_scale, groups)
        try:
            env = dict(simulator.env, SETUP_POLL_INTERVAL_SECONDS=f"{poll:g}")
            with DevHost(env=env) as host:
                seconds, statuses = _batch(host, targets)
                host_peak = harness.peak_rss_mb(host.process.pid) if host.process else None
                simulator_peak = harness.peak_rss_mb(simulator.process.pid)
        finally:
            simulator.stop()
        out["batches"].append({"setups": size, "seconds": seconds, "succeeded": statuses.count(200),
                               "hostPeakRssMb": host_peak, "simulatorPeakRssMb": simulator_peak})
    one = out["batches"][0]["seconds"]
    for batch in out["batches"]:
        batch["relativeToOne"] = batch["seconds"] / one
    return out


def _batch(host: DevHost, targets: list[dict]) -> tuple[float, list[int]]:
    statuses: list[int] = [0] * len(targets)
    start = threading.Barrier(len(targets) + 1)

    def one(index: int) -> None:
        http = requests.Session()
        start.wait()
        answer = http.post(f"{host.base_url}/api/setups", json=targets[index], headers=host.auth_headers)
        location = answer.headers["Location"]
        while (status := http.get(location)).status_code == 202:
            time.sleep(0.05)
        statuses[index] = status.status_code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return time.monotonic() - began, statuses


# -- main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller scale, one run each, small batches")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output (default {RESULTS})")
    parser.add_argument("--runs", type=int, default=None, help="measured runs per topology")
    parser.add_argument("--latency-scale", type=float, default=None, help="latency scale of the live runs")
    parser.add_argument("--scale-sizes", default=None, help="comma-separated batch sizes (default 1,10,50)")
    own_cluster = model.operation_seconds(model.CLUSTER, "create")
    parser.add_argument("--cluster-seconds", type=float, nargs="+", default=None,
                        help="the cluster's create time (s at scale 1) of each latency model to run "
                        f"(default: the model's own, {own_cluster:g}, and 480)")
    args = parser.parse_args(argv)

    # 0.05: a 5-minute cluster takes 15 s. The app's own real-time costs (TLS round trips of ~40 ms on a busy
    # 2-core box, episodes, activity dispatch) do not scale: the smaller the scale, the more they weigh.
    latency_scale = args.latency_scale or (0.02 if args.quick else 0.05)
    runs = args.runs or (1 if args.quick else 3)
    sizes = tuple(int(s) for s in args.scale_sizes.split(",")) if args.scale_sizes else (
        (1, 5) if args.quick else (1, 10, 50))
    poll = production_poll_seconds()
    began = time.monotonic()
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "quick": args.quick,
        "productionPollIntervalSeconds": poll,
    }
    clusters = args.cluster_seconds or [model.operation_seconds(model.CLUSTER, "create"), 480.0]
    results["latencyModels"] = []
    for cluster_seconds in clusters:
        _say(f"live runs through the local host, cluster {cluster_seconds:g} s ...")
        results["latencyModels"].append(live_runs(latency_scale, runs, cluster_seconds))
    results["live"] = results["latencyModels"][0]
    _say("engine cost for a 10-minute cluster (replay driver) ...")
    step = max(1, int(poll) // (2 if args.quick else 5))
    results["tenMinuteCluster"] = ten_minute_cluster(poll, range(0, int(poll), step))
    _say("cold start ...")
    results["coldStart"] = coldstart.measure(3 if args.quick else 7)
    _say(f"scale: batches of {', '.join(map(str, sizes))} ...")
    results["scale"] = scale_batches(sizes, latency_scale)
    results["benchSeconds"] = time.monotonic() - began
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render_timelines(results))
    print(render(results))
    _say(f"written {args.out} in {results['benchSeconds']:.0f} s")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
