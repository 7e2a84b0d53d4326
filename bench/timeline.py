"""One run's timeline: where the time between the POST's answer and the final status went.

Built from records the app does not write itself: the bench's clock around the HTTP calls, the host's history
(each activity's scheduling and answer, the orchestration's end) and the simulator's request log and
operations (first write, each long-running operation's start and end in ARM).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.harness import RunResult, cluster_noticed_at, is_write, utc
from devhost import replay as r

CLUSTER = "microsoft.containerservice/managedclusters"


@dataclass(frozen=True)
class Mark:
    start: float  # seconds after the POST was answered (real time)
    end: float | None  # spans only
    label: str


def marks(run: RunResult) -> list[Mark]:
    t0 = run.post_answered
    out = [Mark(run.post_sent - t0, None, "POST sent"), Mark(0.0, None, "POST answered")]
    writes = [e for e in run.requests if is_write(e)]
    if writes:
        first = writes[0]
        kind = (first.get("resourceType") or "").rsplit("/", 1)[-1]
        out.append(Mark(utc(first["time"]) - t0, None, f"first write: {first['method']} {kind}"))
    for name, (start, end, calls) in activity_spans(run.history).items():
        calls_text = f" ({calls} calls)" if calls > 1 else ""
        out.append(Mark(start - t0, end - t0, f"activity {name}{calls_text}"))
    for op in run.operations:
        kind = op["type"].rsplit("/", 1)[-1]
        out.append(Mark(op["started"] - t0, op["ended"] - t0, f"ARM {op['kind']} {kind} {op['name']}"))
    cluster = cluster_done(run)
    if cluster is not None:
        out.append(Mark(cluster - t0, None, "cluster done in ARM"))
    noticed = cluster_noticed_at(run.history)
    if noticed is not None:
        out.append(Mark(noticed - t0, None, "cluster noticed by the orchestrator"))
    ended = orchestration_ended(run.history)
    if ended is not None:
        out.append(Mark(ended - t0, None, "orchestration ended"))
    hints = [p.retry_after for p in run.polls if p.retry_after is not None]
    out.append(Mark(run.final_seen - t0, None,
                    f"final status seen ({run.user_status_code}, poll {len(run.polls)}; Retry-After seen: "
                    f"{_hint_summary(hints)})"))
    return sorted(out, key=lambda m: (m.start, m.end or m.start))


def activity_spans(history: list[dict]) -> dict[str, tuple[float, float, int]]:
    """Per activity name: first scheduled, last answered (wall clock), number of calls."""
    scheduled = {(e.get("_instance", ""), e["EventId"]): e
                 for e in history if e["EventType"] == r.TASK_SCHEDULED}
    spans: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for event in history:
        if event["EventType"] not in (r.TASK_COMPLETED, r.TASK_FAILED):
            continue
        origin = scheduled.get((event.get("_instance", ""), event.get("TaskScheduledId")))
        if origin is None:
            continue
        name = origin["Name"]
        spans[name] += [utc(origin["Timestamp"]), utc(event["Timestamp"])]
        counts[name] += 1
    return {name: (min(times), max(times), counts[name]) for name, times in spans.items()}


def cluster_done(run: RunResult) -> float | None:
    ends = [op["ended"] for op in run.operations if op["type"] == CLUSTER and op["kind"] == "create"]
    return ends[-1] if ends else None


def orchestration_ended(history: list[dict]) -> float | None:
    top = history[0].get("_instance") if history else None
    ends = [utc(e["Timestamp"]) for e in history if e.get("_instance") == top
            and e["EventType"] in (r.EXECUTION_COMPLETED, r.EXECUTION_FAILED, r.EXECUTION_TERMINATED)]
    return ends[-1] if ends else None


def gaps(run: RunResult) -> dict[str, float | None]:
    """The pieces of the user's wait that are not Azure's (real seconds)."""
    t0 = run.post_answered
    writes = [utc(e["time"]) for e in run.requests if is_write(e)]
    cluster, noticed = cluster_done(run), cluster_noticed_at(run.history)
    ended = orchestration_ended(run.history)
    return {
        "postToFirstWrite": (writes[0] - t0) if writes else None,
        "clusterDoneToNoticed": (noticed - cluster) if cluster is not None and noticed is not None else None,
        "endedToSeen": (run.final_seen - ended) if ended is not None else None,
    }


def render(run: RunResult, latency_scale: float, title: str) -> str:
    lines = [f"{title}: {run.user_seconds:.3f} s from the POST's answer to the final status "
             f"(seconds real / at scale 1)"]
    for mark in marks(run):
        when = f"{mark.start:7.3f}" + (f"-{mark.end:7.3f}" if mark.end is not None else " " * 8)
        model = f"{mark.start / latency_scale:6.1f}" + (
            f"-{mark.end / latency_scale:6.1f}" if mark.end is not None else " " * 7)
        lines.append(f"  {when} | {model}  {mark.label}")
    return "\n".join(lines)


def _hint_summary(hints: list[Any]) -> str:
    if not hints:
        return "none"
    runs: list[tuple[Any, int]] = []
    for hint in hints:
        if runs and runs[-1][0] == hint:
            runs[-1] = (hint, runs[-1][1] + 1)
        else:
            runs.append((hint, 1))
    return ", ".join(f"{hint} s x{count}" for hint, count in runs)
