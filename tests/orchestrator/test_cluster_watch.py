"""The cluster watch (`orchestrators/cluster_watch.py`) through the real replay engine: frequent reads, no
long history (the watch continues as new), the cluster timeout and the put-again repair across generations."""

from __future__ import annotations

from orchestrators.cluster_watch import READS_PER_GENERATION
from tests.orchestrator.conftest import orchestration_input
from tests.orchestrator.driver import Run, drive
from tests.orchestrator.test_replay_failures import INSTANCE, assert_rolled_back_exactly_what_the_run_created
from tests.orchestrator.world import CLUSTER, FakeAzure

INTERVAL = 5.0


def watch_of(run: Run) -> Run:
    (watch,) = [r for r in run.children.values() if r.history.orchestrator_name == "setup_cluster_watch"]
    return watch


def test_a_ten_minute_cluster_is_read_every_interval_without_a_long_history(handle):
    world = FakeAzure(cluster_seconds=600)
    run = drive(handle, world, orchestration_input("peering", pollIntervalSeconds=INTERVAL))
    assert not run.failed

    reads = world.calls_to("get_aks_cluster")
    gaps = [(b.time - a.time).total_seconds() for a, b in zip(reads, reads[1:], strict=False)]
    assert all(gap >= INTERVAL for gap in gaps) and max(gaps) <= INTERVAL + world.activity_seconds
    # Noticed at the first read after the cluster is ready: at most one interval (and one read) late.
    noticed = next(r for r in reads if r.time >= world.cluster_ready_at)
    assert (noticed.time - world.cluster_ready_at).total_seconds() <= INTERVAL + world.activity_seconds
    assert noticed is reads[-1]
    # ~100 reads, in generations of READS_PER_GENERATION: no history holds more than one generation's.
    watch = watch_of(run)
    assert len(watch.generations) == (len(reads) - 1) // READS_PER_GENERATION
    assert len(watch.generations) >= 4  # 600 s of 5 s waits and 1 s reads
    assert run.largest_history <= 300 and max(watch.generations) <= 200
    assert len(run.history.events) <= 150  # the setup's own history holds the watch's two events
    # Each generation passes its start on: the reads and the last generation's input add up.
    assert watch.history.input["reads"] == READS_PER_GENERATION * len(watch.generations)
    assert watch.history.input["started"].startswith("2025-03-01T09:00:")  # the first generation's start
    assert run.output["hopsworks"]["aksClusterName"]


def test_the_cluster_timeout_counts_from_the_first_generation(handle):
    world = FakeAzure(cluster_seconds=7200)
    run = drive(handle, world, orchestration_input("subnet", pollIntervalSeconds=INTERVAL,
                                                   clusterTimeoutSeconds=300), instance_id=INSTANCE)

    assert run.failed and "step aks_cluster: ClusterTimeout" in run.error
    reads = world.calls_to("get_aks_cluster")
    assert 300 / (INTERVAL + world.activity_seconds) <= len(reads) <= 300 / INTERVAL + 1
    assert len(watch_of(run).generations) >= 2  # the timeout spans generations
    assert CLUSTER in {world.known[rid.casefold()].type for rid in world.deleted}
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_create_that_failed_passingly_is_put_again_within_the_watch(handle):
    world = FakeAzure(cluster_seconds=120, cluster_failed_creates=1)
    run = drive(handle, world, orchestration_input("subnet", pollIntervalSeconds=INTERVAL),
                instance_id=INSTANCE)

    assert not run.failed, run.error
    assert len(world.calls_to("begin_aks_cluster")) == 2  # the setup's PUT, then the watch's PUT again
    reads = world.calls_to("get_aks_cluster")
    assert reads[-1].time >= world.cluster_ready_at and len(reads) >= 2 * 120 / (INTERVAL + 1)
    assert run.custom_status["steps"]["aks_cluster"] == "succeeded"
