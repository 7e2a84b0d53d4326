"""A small Durable Functions app the local host is tested with (not the product).

Side effects go to files named in the orchestration input, so a test can see how often each activity ran.
"""

import json
import os
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# -- HTTP triggers --------------------------------------------------------------------------------------


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="instances/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(req.route_params["instance_id"], show_input=True)
    if not found:
        return func.HttpResponse(status_code=404)
    return func.HttpResponse(json.dumps(found.to_json()), mimetype="application/json")


@app.route(route="instances/{instance_id}/events/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def send_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.raise_event(req.route_params["instance_id"], req.route_params["event"], req.get_json())
    return func.HttpResponse(status_code=202)


@app.route(route="instances/{instance_id}/terminate", methods=["POST"])
@app.durable_client_input(client_name="client")
async def terminate(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.terminate(req.route_params["instance_id"], req.params.get("reason", "stopped by test"))
    return func.HttpResponse(status_code=202)


@app.route(route="instances/{instance_id}", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await client.purge_instance_history(req.route_params["instance_id"])
    return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}), mimetype="application/json")


@app.route(route="ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"pong {req.params.get('n', '')}".strip())


# -- orchestrators --------------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    """Steps one after the other, a short durable timer between them (the kill -9 test runs this)."""
    args = context.get_input()
    results = []
    for step in range(args["steps"]):
        results.append(
            (
                yield context.call_activity(
                    "record", {"log": args["log"], "item": f"step-{step}", "sleep": args.get("sleep", 0)}
                )
            )
        )
        context.set_custom_status({"done": step + 1, "total": args["steps"]})
        if args.get("pause"):
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=args["pause"]))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    args = context.get_input()
    tasks = [
        context.call_activity("record", {"log": args["log"], "item": f"item-{i}", "sleep": 0.2})
        for i in range(args["count"])
    ]
    results = yield context.task_all(tasks)
    return sorted(results)


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext):
    seconds = context.get_input()["seconds"]
    before = context.current_utc_datetime
    yield context.create_timer(before + timedelta(seconds=seconds))
    after = context.current_utc_datetime
    return {"waited": (after - before).total_seconds()}


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    """`flaky` fails until its attempt `succeed_on`; RetryOptions retries it on a fixed interval."""
    args = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=args["interval_ms"], max_number_of_attempts=args["max_attempts"]
    )
    try:
        result = yield context.call_activity_with_retry("flaky", options, args)
        return {"result": result}
    except Exception as exc:
        return {"error": str(exc), "gave_up_at": context.current_utc_datetime.timestamp()}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    args = context.get_input()
    first = yield context.call_sub_orchestrator("child", {"n": 1, "log": args["log"]})
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=2)
    second = yield context.call_sub_orchestrator_with_retry("child", options, {"n": 2, "log": args["log"]})
    try:
        yield context.call_sub_orchestrator("child", {"n": 3, "fail": True, "log": args["log"]})
        third = "no error"
    except Exception as exc:
        third = str(exc)
    return {"first": first, "second": second, "third": third}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    args = context.get_input()
    if args.get("fail"):
        yield context.call_activity("explode", "child failure")
    value = yield context.call_activity("record", {"log": args["log"], "item": f"child-{args['n']}"})
    return {"child": args["n"], "value": value, "parent": context.parent_instance_id is not None}


@app.orchestration_trigger(context_name="context")
def waiting(context: df.DurableOrchestrationContext):
    """Custom status while it waits for the `go` event."""
    context.set_custom_status({"stage": "waiting"})
    data = yield context.wait_for_external_event("go")
    context.set_custom_status({"stage": "done"})
    return {"got": data}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", "boom")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def catching(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", "caught boom")
    except Exception as exc:
        return {"message": str(exc)}
    return {"message": None}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = context.get_input() or 0
    if value >= 3:
        return {"final": value}
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=50))
    context.continue_as_new(value + 1)


@app.orchestration_trigger(context_name="context")
def mixed_any(context: df.DurableOrchestrationContext):
    """task_any over a task scheduled by an earlier yield plus a new one (see test_task_any_semantics)."""
    log = context.get_input()["log"]
    slow_a = context.call_activity("record", {"log": log, "item": "A", "sleep": 1.0})
    yield context.task_any(
        [slow_a, context.create_timer(context.current_utc_datetime + timedelta(seconds=0.1))]
    )
    slow_b = context.call_activity("record", {"log": log, "item": "B", "sleep": 1.5})
    winner = yield context.task_any([slow_a, slow_b])
    after = yield context.call_activity("record", {"log": log, "item": "C"})
    return {"winner": winner.result, "after": after}


@app.orchestration_trigger(context_name="context")
def returns_early(context: df.DurableOrchestrationContext):
    """Returns as soon as `task_any([old, new])` gives `old`, while `new` still runs."""
    log = context.get_input()["log"]
    old = context.call_activity("record", {"log": log, "item": "old", "sleep": 0.2})
    yield context.task_any(
        [old, context.create_timer(context.current_utc_datetime + timedelta(seconds=0.05))]
    )
    new = context.call_activity("record", {"log": log, "item": "new", "sleep": 1.0})
    winner = yield context.task_any([old, new])
    return winner.result


@app.orchestration_trigger(context_name="context")
def empty_any(context: df.DurableOrchestrationContext):
    """Sends a WhenAny action with no children once `first` is done; the extension's Task.WhenAny throws.

    SDK 1.7.0 adds no action at all for `task_any` over tasks an earlier yield already scheduled, so the
    compound here is built over a new timer and then emptied: the action list the host receives is
    [CallActivity first, WhenAny []], what a worker whose compound lists only new children sends when none is.
    """
    log = context.get_input()["log"]
    yield context.call_activity("record", {"log": log, "item": "first"})
    waiting = context.task_any([context.create_timer(context.current_utc_datetime + timedelta(seconds=1))])
    waiting.action_repr.compound_tasks.clear()
    yield waiting
    yield context.call_activity("record", {"log": log, "item": "never"})
    return "unreachable"


# -- activities ----------------------------------------------------------------------------------------


@app.activity_trigger(input_name="args")
def record(args: dict) -> str:
    """The side effect: one line per execution."""
    if args.get("sleep"):
        time.sleep(args["sleep"])
    _append(args["log"], args["item"])
    return f"done {args['item']}"


@app.activity_trigger(input_name="args")
async def flaky(args: dict) -> str:
    attempts_file = args["log"]
    attempt = 1
    if os.path.exists(attempts_file):
        with open(attempts_file, encoding="utf-8") as handle:
            attempt = len(handle.read().splitlines()) + 1
    _append(attempts_file, f"{time.time()}")
    if attempt < args["succeed_on"]:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"ok on attempt {attempt}"


@app.activity_trigger(input_name="message")
def explode(message: str) -> str:
    raise ValueError(message)


# -- a stand-in for the product's POST /api/setups contract (the client is tested against it) ----------


@app.route(route="setups", methods=["POST"])
@app.durable_client_input(client_name="client")
async def setups(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        body = req.get_json()
    except ValueError:
        body = None
    errors = []
    if not isinstance(body, dict):
        errors.append({"field": "", "message": "the body must be a JSON object"})
    else:
        for name in ("resourceGroup", "steps"):
            if not body.get(name):
                errors.append({"field": name, "message": "is required"})
    if errors:
        return func.HttpResponse(json.dumps({"errors": errors}), status_code=400, mimetype="application/json")
    instance_id = await client.start_new("fake_setup", None, body)
    response = client.create_check_status_response(req, instance_id)
    payload = json.loads(response.get_body())
    payload["statusQueryGetUri"] += "&returnInternalServerErrorOnFailure=true"
    headers = dict(response.headers)
    headers["Location"] = payload["statusQueryGetUri"]
    return func.HttpResponse(
        json.dumps(payload), status_code=202, headers=headers, mimetype="application/json"
    )


@app.orchestration_trigger(context_name="context")
def fake_setup(context: df.DurableOrchestrationContext):
    request = context.get_input()
    steps = {name: "pending" for name in request["steps"]}
    status = {"topology": "peering", "steps": steps, "done": 0, "total": len(steps)}
    for name in request["steps"]:
        steps[name] = "running"
        context.set_custom_status(status)
        yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
        if request.get("fail") == name:
            steps[name] = "failed"
            status["error"] = {"step": name, "code": "AuthorizationFailed"}
            context.set_custom_status(status)
            raise RuntimeError(f"step {name} failed: AuthorizationFailed")
        steps[name] = "succeeded"
        status["done"] += 1
        context.set_custom_status(status)
    return {
        "hopsworks": {
            "location": "northeurope",
            "resourceGroup": request["resourceGroup"],
            "aksClusterName": "hopsaks-cluster",
            "acrRegistryName": "hopsworksaks",
        },
        "resources": [],
    }
