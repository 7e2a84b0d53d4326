"""The Durable engine of the local host: episodes through the real replay engine, activities, timers.

An *episode* takes an instance's visible inbox messages, appends them to its history after an
OrchestratorStarted event, calls the registered orchestrator function (the SDK's replay engine) with the
context JSON the extension sends, reads the returned OrchestratorState, lets `replay.plan_episode` decide what
is new, and commits history + consumed messages + queued activities + timers + child instances + status in one
SQLite transaction. Activities run in a bounded pool (async ones on the host's event loop) and commit their
result message and the removal of their queue row together: a host killed before that commit runs the
activity again (at-least-once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from azure.functions import meta
from azure.functions._durable_functions import OrchestrationContext
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost import replay as r
from devhost.app_index import AppIndex, IndexedFunction
from devhost.secrets import redact
from devhost.store import RUNNING_STATES, TERMINAL_STATES, ActivityItem, Instance, Store

log = logging.getLogger("devhost")

OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
MAX_INSTANCE_ID_LENGTH = 256
# Azure Storage's timer limits, as the extension sends them (the SDK splits longer timers).
MAX_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"


class StartError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class InvocationContext:
    """What the worker passes to a `context` parameter (azure.functions.Context)."""

    def __init__(self, function: IndexedFunction) -> None:
        self.invocation_id = str(uuid.uuid4())
        self.function_name = function.name
        self.function_directory = ""
        self.trace_context = None
        self.retry_context = None
        self.thread_local_storage = None


def now_utc() -> datetime:
    return datetime.now(UTC)


def _token(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _completion_key(event: dict[str, Any]) -> tuple[int, Any] | None:
    kind = event["EventType"]
    if kind == r.TIMER_FIRED:
        return (kind, event.get("TimerId"))
    if kind in (
        r.TASK_COMPLETED,
        r.TASK_FAILED,
        r.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        r.SUB_ORCHESTRATION_INSTANCE_FAILED,
    ):
        return (0, event.get("TaskScheduledId"))
    return None


def activity_failure(name: str, exc: BaseException) -> tuple[str, str]:
    """Reason and Details of a TaskFailed event, shaped as the extension records a Python exception.

    The worker reports "Result: Failure\\nException: <Type>: <message>\\nStack: ..."; the extension keeps the
    part after "Exception:" as the message (with its leading space) and serializes the exception as Details.
    The orchestrator then sees "<Reason> \\n <Details>".
    """
    friendly = f" {type(exc).__name__}: {exc}"
    details = json.dumps(
        {
            "$type": "System.Exception, System.Private.CoreLib",
            "ClassName": "System.Exception",
            "Message": friendly,
            "StackTraceString": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        }
    )
    return f"Activity function '{name}' failed: {friendly}", details


ANY_STATE = "AnyState"
NON_RUNNING_STATES = "NonRunningStates"


class Engine:
    def __init__(
        self,
        store: Store,
        index: AppIndex,
        *,
        max_orchestrations: int = 10,
        max_activities: int = 10,
        overridable_states: str = ANY_STATE,
    ) -> None:
        self.store = store
        self.index = index
        # host.json extensions.durableTask.overridableExistingInstanceStates: the Azure Storage backend's
        # default (AnyState) lets a start with a running instance's id replace it; NonRunningStates refuses.
        self.refuses_running_overwrite = overridable_states.casefold() == NON_RUNNING_STATES.casefold()
        self.max_orchestrations = max_orchestrations
        self.max_activities = max_activities
        self._orchestrator_pool = ThreadPoolExecutor(max_orchestrations, thread_name_prefix="orchestrator")
        self._activity_pool = ThreadPoolExecutor(max_activities, thread_name_prefix="activity")
        self._episodes_in_flight: set[str] = set()
        self._activities_in_flight: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick: asyncio.Event | None = None
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        while not self._stopping:
            self._kick.clear()
            self._dispatch()
            now = time.time()
            with self.store._lock:
                row = self.store._db.execute(
                    "SELECT MIN(visible_at) FROM inbox WHERE visible_at > ?", (now,)
                ).fetchone()
            wait = 1.0 if not row or row[0] is None else min(1.0, max(0.005, row[0] - now))
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=wait)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self.kick()
        self._orchestrator_pool.shutdown(wait=False, cancel_futures=True)
        self._activity_pool.shutdown(wait=False, cancel_futures=True)

    def kick(self) -> None:
        if self._loop is None or self._kick is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._kick.set)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _dispatch(self) -> None:
        assert self._loop is not None
        for instance_id in self.store.instances_with_visible_messages(time.time()):
            if (
                instance_id in self._episodes_in_flight
                or len(self._episodes_in_flight) >= self.max_orchestrations
            ):
                continue
            self._episodes_in_flight.add(instance_id)
            future = self._loop.run_in_executor(self._orchestrator_pool, self._episode_safely, instance_id)
            future.add_done_callback(partial(self._episode_done, instance_id))
        free = self.max_activities - len(self._activities_in_flight)
        if free > 0:
            for item in self.store.activities(self._activities_in_flight, free):
                self._activities_in_flight.add(item.id)
                self._loop.create_task(self._activity(item))

    def _episode_done(self, instance_id: str, _future: asyncio.Future[None]) -> None:
        self._episodes_in_flight.discard(instance_id)
        self.kick()

    # -- client operations (the extension's client API) ------------------------------------------------
    def start_new(self, name: str, instance_id: str | None, input_token: Any) -> str:
        orchestrator = self.index.orchestrators.get(name.lower())
        if orchestrator is None:
            raise StartError(
                400,
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                f"function. Additional info: the following are the known orchestrator functions: "
                f"{', '.join(sorted(f.name for f in self.index.orchestrators.values()))}.",
            )
        if not instance_id:
            instance_id = uuid.uuid4().hex
        elif instance_id.startswith("@"):
            raise StartError(400, "Orchestration instance ids must not start with @.")
        elif any(c in "/\\?#" or ord(c) < 32 for c in instance_id):
            raise StartError(
                400, "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
            )
        if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
            raise StartError(400, f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters.")
        with self.store.transaction() as db:
            existing = db.execute(
                "SELECT status FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            if existing and existing[0] in RUNNING_STATES and self.refuses_running_overwrite:
                raise StartError(
                    500, f"An Orchestration instance with the status {existing[0]} already exists."
                )
            self._create_instance(db, instance_id, orchestrator.name, input_token, None)
        log.info("scheduled %s (%s)", orchestrator.name, instance_id)
        self.kick()
        return instance_id

    def _create_instance(
        self, db: Any, instance_id: str, name: str, input_token: Any, parent: tuple[str, str, int] | None
    ) -> None:
        Store.reset_execution(db, instance_id)
        execution_id = uuid.uuid4().hex
        now = time.time()
        input_text = None if input_token is None else json.dumps(input_token)
        Store.upsert_instance(
            db,
            Instance(
                instance_id,
                name,
                execution_id,
                "Pending",
                input_text,
                None,
                None,
                now,
                now,
                parent[0] if parent else None,
                parent[1] if parent else None,
                parent[2] if parent else None,
            ),
        )
        started = r.history_event(
            r.EXECUTION_STARTED,
            now_utc(),
            Name=name,
            Version="",
            Input=r.json_text(input_token),
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
            ParentInstance=(
                {
                    "Name": None,
                    "OrchestrationInstance": {"InstanceId": parent[0], "ExecutionId": parent[1]},
                    "TaskScheduleId": parent[2],
                }
                if parent
                else None
            ),
            Tags=None,
        )
        Store.put_message(db, instance_id, execution_id, started)

    def status(
        self,
        instance_id: str,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any] | None:
        inst = self.store.get_instance(instance_id)
        if inst is None:
            return None
        return self.status_payload(inst, show_history, show_history_output, show_input)

    def status_payload(
        self,
        inst: Instance,
        show_history: bool = False,
        show_history_output: bool = False,
        show_input: bool = True,
    ) -> dict[str, Any]:
        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        payload: dict[str, Any] = {
            "name": inst.name,
            "instanceId": inst.instance_id,
            "runtimeStatus": inst.status,
            "input": _token(inst.input) if show_input else None,
            "customStatus": _token(inst.custom_status),
            "output": _token(inst.output),
            "createdTime": stamp(inst.created),
            "lastUpdatedTime": stamp(inst.updated),
        }
        if show_history:
            payload["historyEvents"] = self._public_history(inst.instance_id, show_history_output)
        return payload

    def _public_history(self, instance_id: str, with_output: bool) -> list[dict[str, Any]]:
        """History as the status API shows it: scheduling merged into completions, no episode markers."""
        events = self.store.history(instance_id)
        scheduled = {e["EventId"]: e for e in events if e["EventType"] in r.SCHEDULING_EVENTS}
        shown = []
        for e in events:
            kind = e["EventType"]
            if kind in (
                r.ORCHESTRATOR_STARTED,
                r.ORCHESTRATOR_COMPLETED,
                r.TASK_SCHEDULED,
                r.SUB_ORCHESTRATION_INSTANCE_CREATED,
            ):
                continue
            item: dict[str, Any] = {
                "EventType": r.EVENT_NAMES.get(kind, str(kind)),
                "Timestamp": e["Timestamp"],
            }
            if kind == r.EXECUTION_STARTED:
                item["FunctionName"] = e.get("Name")
            origin = scheduled.get(e.get("TaskScheduledId"))
            if origin is not None:
                item["FunctionName"] = origin.get("Name")
                item["ScheduledTime"] = origin["Timestamp"]
            for key in ("Reason", "Details", "FireAt", "Name", "OrchestrationStatus"):
                if key in e and key not in item:
                    item[key] = e[key]
            if with_output and e.get("Result") is not None:
                item["Result"] = _token(e["Result"]) if kind != r.EXECUTION_COMPLETED else e["Result"]
            shown.append(item)
        return shown

    def list_statuses(
        self,
        runtime_status: set[str] | None = None,
        prefix: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        show_input: bool = False,
    ) -> list[dict[str, Any]]:
        result = []
        for inst in self.store.list_instances():
            if runtime_status and inst.status.lower() not in runtime_status:
                continue
            if prefix and not inst.instance_id.startswith(prefix):
                continue
            created = datetime.fromtimestamp(inst.created, UTC)
            if created_from and created < created_from or created_to and created > created_to:
                continue
            result.append(self.status_payload(inst, show_input=show_input))
        return result

    def terminate(self, instance_id: str, reason: str | None) -> int:
        return self._send(instance_id, r.history_event(r.EXECUTION_TERMINATED, now_utc(), Input=reason))

    def raise_event(self, instance_id: str, name: str, token: Any) -> int:
        event = r.history_event(r.EVENT_RAISED, now_utc(), Name=name, Input=r.json_text(token))
        return self._send(instance_id, event)

    def _send(self, instance_id: str, event: dict[str, Any]) -> int:
        """Queue `event` for a running instance: 202, 404 unknown, 410 already finished (the extension's)."""
        inst = self.store.get_instance(instance_id)
        if inst is None:
            return 404
        if inst.status in TERMINAL_STATES:
            return 410
        with self.store.transaction() as db:
            Store.put_message(db, instance_id, inst.execution_id, event)
        self.kick()
        return 202

    def purge(self, instance_id: str) -> int:
        with self.store.transaction() as db:
            return Store.purge(db, instance_id)

    # -- episodes ----------------------------------------------------------------------------------------
    def _episode_safely(self, instance_id: str) -> None:
        try:
            self._episode(instance_id)
        except Exception as exc:  # a host bug: keep the host alive, the messages stay for a retry
            log.error("episode %s crashed in the host: %s", instance_id, redact(repr(exc)))
            time.sleep(0.5)

    def _episode(self, instance_id: str) -> None:
        began = time.monotonic()
        inst = self.store.get_instance(instance_id)
        messages = self.store.visible_messages(instance_id, time.time())
        if not messages:
            return
        consumed = [m.id for m in messages]
        if inst is None or inst.status in TERMINAL_STATES:
            with self.store.transaction() as db:
                Store.delete_messages(db, consumed)
            return
        current = [m for m in messages if m.execution_id in (None, inst.execution_id)]
        terminate = next((m for m in current if m.event["EventType"] == r.EXECUTION_TERMINATED), None)
        if terminate is not None:
            self._terminate_now(inst, terminate.event, consumed)
            return
        history = self.store.history(instance_id)
        done_keys = {k for k in map(_completion_key, history) if k is not None}
        new_events = []
        for m in current:
            key = _completion_key(m.event)
            if key is not None:
                if key in done_keys:  # a duplicate completion (at-least-once delivery): drop it
                    continue
                done_keys.add(key)
            if m.event["EventType"] == r.EXECUTION_STARTED and history:
                continue
            new_events.append(dict(m.event, IsPlayed=False))
        if not new_events:
            with self.store.transaction() as db:
                Store.delete_messages(db, consumed)
            return
        episode_events = [r.history_event(r.ORCHESTRATOR_STARTED, now_utc())] + new_events
        full_history = history + episode_events
        replay_began = time.thread_time()
        state, error = self._call_orchestrator(inst, full_history)
        replay_cpu = time.thread_time() - replay_began
        schedules: list[r.Schedule] = []
        try:
            plan = r.plan_episode(instance_id, full_history, state)
            schedules = plan.schedules
            if not plan.settled and (error is not None or state.get("isDone")):
                # The extension finishes replaying the actions before it completes or fails the instance.
                state, error = dict(state, isDone=False), None
        except r.ReplayFailed as exc:
            # The extension throws before it reads the orchestrator's own outcome: this failure wins.
            state, error, schedules = dict(state, isDone=False), str(exc), []
        except (r.NonDeterminismError, r.UnsupportedActionError) as exc:
            error = error or str(exc)
        self._commit_episode(inst, consumed, episode_events, state, error, schedules)
        outcome = (
            "failed" if error else ("completed" if state.get("isDone") else f"+{len(schedules)} scheduled")
        )
        # The replay CPU (time in the orchestrator function, this thread only) is what benchmarks read.
        log.info(
            "episode %s %s: %d new events -> %s (%.0f ms, replay %.2f ms cpu)",
            inst.name,
            instance_id,
            len(new_events),
            outcome,
            (time.monotonic() - began) * 1000,
            replay_cpu * 1000,
        )

    def _call_orchestrator(
        self, inst: Instance, history: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], str | None]:
        orchestrator = self.index.orchestrators.get(inst.name.lower())
        if orchestrator is None:
            return {"isDone": False, "actions": []}, (
                f"The function '{inst.name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        context = {
            "history": history,
            "instanceId": inst.instance_id,
            "isReplaying": any(e.get("IsPlayed") for e in history),
            "parentInstanceId": inst.parent_instance_id,
            "input": _token(inst.input),
            "upperSchemaVersion": 2,  # ReplaySchema.V3: what the current extension speaks
            "maximumShortTimerDuration": MAX_SHORT_TIMER,
            "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
        }
        trigger_name = orchestrator.trigger["name"]
        argument = OrchestrationContext(json.dumps(context))
        kwargs: dict[str, Any] = {trigger_name: argument}
        try:
            result = orchestrator.func(**kwargs)
        except Exception as exc:
            message = str(exc)
            if OUT_OF_PROC_LABEL in message:
                friendly, state_json = message.split(OUT_OF_PROC_LABEL, 1)
                state = json.loads(state_json)
                return state, state.get("error") or friendly
            return {"isDone": False, "actions": []}, f"{type(exc).__name__}: {message}"
        if isinstance(result, str):
            return json.loads(result), None
        return dict(result), None

    def _commit_episode(
        self,
        inst: Instance,
        consumed: list[int],
        episode_events: list[dict[str, Any]],
        state: dict[str, Any],
        error: str | None,
        schedules: list[r.Schedule],
    ) -> None:
        started_at = r.parse_time(episode_events[0]["Timestamp"])
        events = list(episode_events)
        custom = state.get("customStatus")
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT execution_id, status FROM instances WHERE instance_id = ?", (inst.instance_id,)
            ).fetchone()
            if row is None or row[0] != inst.execution_id or row[1] in TERMINAL_STATES:
                return  # purged, restarted or terminated meanwhile: this episode's work is void
            updated = Instance(**{**inst.__dict__, "updated": now, "status": "Running"})
            if custom is not None:
                updated.custom_status = json.dumps(custom)
            if error is not None:
                message = f"Orchestrator function '{inst.name}' failed: {error}"
                events.append(r.history_event(r.ORCHESTRATOR_COMPLETED, started_at))
                events.append(
                    r.history_event(
                        r.EXECUTION_COMPLETED,
                        started_at,
                        OrchestrationStatus="Failed",
                        Result=message,
                        FailureDetails={
                            "ErrorType": "OrchestrationFailureException",
                            "ErrorMessage": message,
                        },
                    )
                )
                updated.status, updated.output = "Failed", json.dumps(message)
                Store.append_history(db, inst.instance_id, events)
                Store.delete_messages(db, consumed)
                db.execute("DELETE FROM activities WHERE instance_id = ?", (inst.instance_id,))
                Store.upsert_instance(db, updated)
                self._notify_parent(
                    db, updated, failed_reason=message, details=f"Message: {error}, StackTrace: "
                )
                return
            is_new_execution, next_input = (
                r.continue_as_new_input(state) if state.get("isDone") else (False, None)
            )
            if is_new_execution:
                Store.reset_execution(db, inst.instance_id)
                updated.execution_id = uuid.uuid4().hex
                updated.status = "Running"
                updated.input = None if next_input is None else json.dumps(next_input)
                Store.upsert_instance(db, updated)
                Store.put_message(
                    db,
                    inst.instance_id,
                    updated.execution_id,
                    r.history_event(
                        r.EXECUTION_STARTED,
                        started_at,
                        Name=inst.name,
                        Version="",
                        Input=next_input,
                        OrchestrationInstance={
                            "InstanceId": inst.instance_id,
                            "ExecutionId": updated.execution_id,
                        },
                    ),
                )
                return
            for schedule in schedules:
                events.append(schedule.event)
                task_id = schedule.event["EventId"]
                if schedule.kind == "activity":
                    Store.put_activity(
                        db, inst.instance_id, inst.execution_id, task_id, str(schedule.name), schedule.input
                    )
                elif schedule.kind == "timer" and schedule.fire_at is not None:
                    Store.put_message(
                        db,
                        inst.instance_id,
                        inst.execution_id,
                        r.history_event(
                            r.TIMER_FIRED,
                            schedule.fire_at,
                            TimerId=task_id,
                            FireAt=r.format_time(schedule.fire_at),
                        ),
                        visible_at=schedule.fire_at.timestamp(),
                    )
                elif schedule.kind == "suborchestration":
                    name = str(schedule.name)
                    child = self.index.orchestrators.get(name.lower())
                    if child is None:
                        Store.put_message(
                            db,
                            inst.instance_id,
                            inst.execution_id,
                            r.history_event(
                                r.SUB_ORCHESTRATION_INSTANCE_FAILED,
                                now_utc(),
                                TaskScheduledId=task_id,
                                Reason=f"The function '{name}' doesn't exist, is disabled, or is not "
                                "an orchestrator function.",
                                Details=None,
                            ),
                        )
                    else:
                        self._create_instance(
                            db,
                            str(schedule.instance_id),
                            child.name,
                            schedule.input,
                            (inst.instance_id, inst.execution_id, task_id),
                        )
            events.append(r.history_event(r.ORCHESTRATOR_COMPLETED, started_at))
            if state.get("isDone"):
                output = state.get("output")
                events.append(
                    r.history_event(
                        r.EXECUTION_COMPLETED,
                        started_at,
                        OrchestrationStatus="Completed",
                        Result=json.dumps(output),
                    )
                )
                updated.status, updated.output = "Completed", json.dumps(output)
                db.execute("DELETE FROM activities WHERE instance_id = ?", (inst.instance_id,))
            Store.append_history(db, inst.instance_id, events)
            Store.delete_messages(db, consumed)
            Store.upsert_instance(db, updated)
            if updated.status == "Completed":
                self._notify_parent(db, updated)

    def _terminate_now(self, inst: Instance, event: dict[str, Any], consumed: list[int]) -> None:
        reason = event.get("Input")
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT execution_id, status FROM instances WHERE instance_id = ?", (inst.instance_id,)
            ).fetchone()
            if row is None or row[0] != inst.execution_id or row[1] in TERMINAL_STATES:
                Store.delete_messages(db, consumed)
                return
            stamp = now_utc()
            Store.append_history(
                db,
                inst.instance_id,
                [
                    r.history_event(r.ORCHESTRATOR_STARTED, stamp),
                    dict(event),
                    r.history_event(r.ORCHESTRATOR_COMPLETED, stamp),
                    r.history_event(
                        r.EXECUTION_COMPLETED, stamp, OrchestrationStatus="Terminated", Result=reason
                    ),
                ],
            )
            db.execute("DELETE FROM inbox WHERE instance_id = ?", (inst.instance_id,))
            db.execute("DELETE FROM activities WHERE instance_id = ?", (inst.instance_id,))
            updated = Instance(
                **{**inst.__dict__, "updated": now, "status": "Terminated", "output": json.dumps(reason)}
            )
            Store.upsert_instance(db, updated)
            self._notify_parent(
                db, updated, failed_reason=f"Orchestration terminated: {reason}", details=None
            )
        log.info("terminated %s %s", inst.name, inst.instance_id)

    @staticmethod
    def _notify_parent(
        db: Any, child: Instance, failed_reason: str | None = None, details: str | None = None
    ) -> None:
        if not child.parent_instance_id or child.parent_task_id is None:
            return
        if failed_reason is None:
            event = r.history_event(
                r.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                now_utc(),
                TaskScheduledId=child.parent_task_id,
                Result=child.output,
            )
        else:
            event = r.history_event(
                r.SUB_ORCHESTRATION_INSTANCE_FAILED,
                now_utc(),
                TaskScheduledId=child.parent_task_id,
                Reason=failed_reason,
                Details=details,
            )
        Store.put_message(db, child.parent_instance_id, child.parent_execution_id, event)

    # -- activities --------------------------------------------------------------------------------------
    async def _activity(self, item: ActivityItem) -> None:
        began = time.monotonic()
        try:
            event, outcome = await self._invoke_activity(item)
            with self.store.transaction() as db:
                if Store.finish_activity(db, item.id):
                    Store.put_message(db, item.instance_id, item.execution_id, event)
            log.info(
                "activity %s #%d for %s -> %s (%.0f ms)",
                item.name,
                item.task_id,
                item.instance_id,
                outcome,
                (time.monotonic() - began) * 1000,
            )
        except Exception as exc:  # host bug: leave the item queued, it runs again
            log.error("activity %s #%d crashed in the host: %s", item.name, item.task_id, redact(repr(exc)))
            await asyncio.sleep(0.5)
        finally:
            self._activities_in_flight.discard(item.id)
            self.kick()

    async def _invoke_activity(self, item: ActivityItem) -> tuple[dict[str, Any], str]:
        function = self.index.activities.get(item.name.lower())
        if function is None:
            exc: BaseException = Exception(
                f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function."
            )
            reason, details = activity_failure(item.name, exc)
            return r.history_event(
                r.TASK_FAILED, now_utc(), TaskScheduledId=item.task_id, Reason=reason, Details=details
            ), "failed: no such activity"
        try:
            argument = ActivityTriggerConverter.decode(
                meta.Datum(type="json", value=item.input if item.input is not None else "null"),
                trigger_metadata=None,
            )
            kwargs: dict[str, Any] = {function.trigger["name"]: argument}
            if "context" in function.parameters and function.trigger["name"] != "context":
                kwargs["context"] = InvocationContext(function)
            if function.is_async:
                result = await function.func(**kwargs)
            else:
                assert self._loop is not None
                call: Callable[[], Any] = partial(function.func, **kwargs)
                result = await self._loop.run_in_executor(self._activity_pool, call)
            output = ActivityTriggerConverter.encode(result, expected_type=None).value
            return r.history_event(
                r.TASK_COMPLETED, now_utc(), TaskScheduledId=item.task_id, Result=output
            ), "ok"
        except Exception as exc:
            reason, details = activity_failure(function.name, exc)
            first_line = (str(exc).splitlines() or [""])[0][:200]
            return (
                r.history_event(
                    r.TASK_FAILED, now_utc(), TaskScheduledId=item.task_id, Reason=reason, Details=details
                ),
                f"failed: {type(exc).__name__}: {redact(first_line)}",
            )
