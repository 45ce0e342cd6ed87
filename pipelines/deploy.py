"""Many workers on a Prefect server: the deployment, submitting a batch in slices, and seeing it through.

    callqa deploy --storage s3://callqa/prod         # once: work pool, result storage block, deployment
    prefect worker start --pool callqa --limit 2     # on every machine, as many as it has room for
    callqa submit RECORDINGS --out s3://callqa/prod  # a batch: one flow run per slice of 200 calls
    callqa slices BATCH [--retry]                    # where its slices are; resubmit those that died

The server is a self-hosted `prefect server start` (SQLite for a trial, PostgreSQL for production);
every command here and every worker needs `PREFECT_API_URL` pointing at it (Prefect's temporary server
lives only as long as one process, so no worker can reach it). Workers are process workers: each flow
run is a process of its own on the worker's machine, running the installed callqa (the deployment's
entrypoint is the module path `pipelines.slices.process_slice`, so no code is shipped with it).

A slice whose process raises is retried by Prefect (the flow's `retries`). A slice whose worker dies
(the machine lost, `kill -9`) stops sending heartbeats; the automation `deploy` creates marks such a run
Crashed after `ZOMBIE_AFTER_S`, and `callqa slices BATCH --retry` (or `submit --wait`, as it goes)
submits each crashed or failed slice again with its run id, which makes the retry add each call once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from results.storage import as_text, is_remote, location

from .manifest import CallMeta
from .slices import GPU_TAG, SliceReport, make_slices, process_slice, slice_run_id

FLOW = "callqa-slice"
POOL, GPU_POOL = "callqa", "callqa-gpu"
DEPLOYMENT, GPU_DEPLOYMENT = "slices", "slices-gpu"
RESULTS_BLOCK = "callqa-results"  # where flow runs keep their reports: shared, so any machine reads them
HEARTBEAT_S = 30  # a running slice says it is alive this often (Prefect's minimum)
ZOMBIE_AFTER_S = 120  # no heartbeat for this long: the slice's worker is gone, the run is marked Crashed
ZOMBIE_AUTOMATION = "callqa: crash slices whose worker stopped"
BATCH_TAG = "callqa-batch:"
RETRIED_STATES = ("CRASHED", "FAILED", "CANCELLED")


class DeployError(RuntimeError):
    """No server configured, no deployment, or a batch that is not there."""


def require_server() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise DeployError("a Prefect server is needed: run `prefect server start` and set PREFECT_API_URL "
                          "(e.g. http://127.0.0.1:4200/api) here and on every worker; Prefect's temporary "
                          "server lives inside one process, so workers cannot reach it")
    return str(url)


@dataclass
class Deployed:
    storage: str
    pools: list[str]
    deployments: list[str]
    results_block: str
    gpu_limit: int = 0


def save_results_block(storage: str) -> str:
    """Save the result storage of flow runs as a Prefect block beside the output (`.prefect-results/`);
    returns the block's slug, for `PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`."""
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    root = location(storage)
    if is_remote(root):
        RemoteFileSystem(basepath=f"{as_text(root)}/.prefect-results").save(RESULTS_BLOCK, overwrite=True)
        return f"remote-file-system/{RESULTS_BLOCK}"
    LocalFileSystem(basepath=str(Path(root).resolve() / ".prefect-results")).save(RESULTS_BLOCK, overwrite=True)
    return f"local-file-system/{RESULTS_BLOCK}"


def _ensure_pool(name: str, description: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process", description=description))


def _ensure_gpu_limit(gpus: int) -> None:
    """At most `gpus` transcriptions tagged `gpu` at once, across every worker of the server."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=GPU_TAG, concurrency_limit=gpus)  # creates or updates


def _ensure_zombie_automation() -> None:
    """Mark a slice Crashed when its heartbeats stop (its worker died), so `slices --retry` resubmits it."""
    from prefect import get_client
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    with get_client(sync_client=True) as client:
        if client.read_automations_by_name(ZOMBIE_AUTOMATION):
            return
    Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification({"prefect.resource.id": ["prefect.flow.*"],
                                                 "prefect.resource.name": FLOW}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_S),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {ZOMBIE_AFTER_S} s: the worker is gone")],
    ).create()


def deploy(storage: str, *, pool: str = POOL, gpus: int = 0, gpu_pool: str = GPU_POOL,
           lexicons: str | None = None) -> Deployed:
    """Create (or update) what workers need on the server: the work pool(s), the result storage block and
    the deployment(s) of the slice flow, the GPU concurrency limit and the zombie automation."""
    from prefect.types.entrypoint import EntrypointType

    require_server()
    target = as_text(location(storage))
    block = save_results_block(target)
    env = {"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": block, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    plan = [(pool, DEPLOYMENT, env, "callqa: transcribe and score slices of calls (CPU)")]
    if gpus:
        plan.append((gpu_pool, GPU_DEPLOYMENT, env | {"CALLQA_DEVICE": "cuda", "CALLQA_COMPUTE_TYPE": "float16"},
                     f"callqa: slices on GPU workers, at most {gpus} transcribing at once"))
    names = []
    for pool_name, name, job_env, description in plan:
        _ensure_pool(pool_name, description)
        process_slice.deploy(name, work_pool_name=pool_name, build=False, push=False,
                             entrypoint_type=EntrypointType.MODULE_PATH, job_variables={"env": job_env},
                             parameters={"out": target, "lexicons": lexicons}, tags=["callqa"],
                             description=description, print_next_steps=False, ignore_warnings=True)
        names.append(f"{FLOW}/{name}")
    if gpus:
        _ensure_gpu_limit(gpus)
    _ensure_zombie_automation()
    return Deployed(target, [p for p, *_ in plan], names, block, gpus)


# ---- submitting and following a batch ------------------------------------------------------------
@dataclass
class SliceRun:
    run_id: str
    flow_run_id: UUID
    calls: int
    state: str = "SCHEDULED"
    attempts: int = 1


@dataclass
class Batch:
    batch_id: str
    out: str
    deployment: str
    slices: list[SliceRun] = field(default_factory=list)


def submit(calls: Sequence[CallMeta], out: str, *, batch_id: str, size: int, deployment: str = f"{FLOW}/{DEPLOYMENT}",
           lexicons: str | None = None) -> Batch:
    """One flow run of the deployment per slice of `size` calls; returns at once (workers pick them up)."""
    from prefect.deployments import run_deployment

    require_server()
    target = as_text(location(out))
    batch = Batch(batch_id, target, deployment)
    for i, part in enumerate(make_slices(list(calls), size)):
        run_id = slice_run_id(batch_id, i)
        flow_run = run_deployment(deployment, parameters=_params(target, part, run_id, lexicons), timeout=0,
                                  flow_run_name=run_id, tags=["callqa", BATCH_TAG + batch_id],
                                  idempotency_key=run_id, as_subflow=False)
        batch.slices.append(SliceRun(run_id, flow_run.id, len(part)))
    return batch


def _params(out: str, calls: Sequence[CallMeta], run_id: str, lexicons: str | None) -> dict[str, Any]:
    from dataclasses import asdict

    return {"out": out, "calls": [asdict(c) for c in calls], "run_id": run_id, "lexicons": lexicons}


def batch_runs(batch_id: str) -> list[Any]:
    """The flow runs of a batch, every attempt of every slice, oldest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    require_server()
    runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[BATCH_TAG + batch_id])),
                                         sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(runs))
            runs += page
            if len(page) < 200:
                return runs


def status(batch_id: str) -> dict[str, list[Any]]:
    """Each slice (by run id) with its flow runs, newest attempt last."""
    slices: dict[str, list[Any]] = {}
    for run in batch_runs(batch_id):
        slices.setdefault(str(run.parameters.get("run_id")), []).append(run)
    if not slices:
        raise DeployError(f"batch {batch_id}: no flow runs on the server {require_server()}")
    return dict(sorted(slices.items()))


def ended_badly(run: Any) -> bool:
    return run.state_type is not None and run.state_type.value in RETRIED_STATES


def retry(batch_id: str, deployment: str | None = None, max_attempts: int | None = None) -> list[str]:
    """Submit again, with the same parameters (so the same run id), every slice whose newest flow run
    crashed, failed or was cancelled (and has had fewer than `max_attempts` runs); returns their run ids."""
    from prefect.deployments import run_deployment

    again = []
    for run_id, runs in status(batch_id).items():
        last = runs[-1]
        if not ended_badly(last) or (max_attempts is not None and len(runs) >= max_attempts):
            continue
        name = deployment or _deployment_name(last.deployment_id)
        run_deployment(name, parameters=dict(last.parameters), timeout=0, flow_run_name=f"{run_id} (again)",
                       tags=["callqa", BATCH_TAG + batch_id], idempotency_key=f"{run_id}-{len(runs) + 1}",
                       as_subflow=False)
        again.append(run_id)
    return again


def _deployment_name(deployment_id: UUID | None) -> str:
    from prefect import get_client

    if deployment_id is None:
        return f"{FLOW}/{DEPLOYMENT}"
    with get_client(sync_client=True) as client:
        d = client.read_deployment(deployment_id)
    return f"{FLOW}/{d.name}"


def wait(batch_id: str, *, timeout_s: float, poll_s: float = 5.0, retries: int = 2) -> dict[str, Any]:
    """Follow a batch until every slice has ended (resubmitting those that died, up to `retries` more
    times each); returns each slice's newest flow run."""
    deadline = time.monotonic() + timeout_s
    while True:
        if retry(batch_id, max_attempts=retries + 1):
            continue  # resubmitted: follow the new runs
        newest = {run_id: runs[-1] for run_id, runs in status(batch_id).items()}
        if all(ended_badly(run) or (run.state_type and run.state_type.value == "COMPLETED") for run in newest.values()):
            return newest
        if time.monotonic() > deadline:
            raise DeployError(f"batch {batch_id}: not finished after {timeout_s:.0f} s")
        time.sleep(poll_s)


def slice_report(run: Any) -> SliceReport | None:
    """The report a completed slice returned, from the result storage block (None if unreadable)."""
    try:
        return run.state.result(raise_on_failure=False)  # type: ignore[no-any-return]
    except Exception:
        return None


__all__ = ["Batch", "DeployError", "Deployed", "deploy", "require_server", "retry", "slice_report", "status",
           "submit", "wait"]
