"""`callqa deploy`, `submit`, `slices`, `compact`: many workers on a Prefect server (pipelines/deploy.py)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table

LEXICONS_HELP = "Lexicon folder as the workers see it (default: their $CALLQA_LEXICONS, else the bundled one)."
STORAGE_HELP = ("The output location every worker reaches: a shared folder (the same path on every machine) "
                "or an object store URL (s3://bucket/prefix; endpoint and credentials from AWS_* variables).")


def _fail(message: str, status: int = 2) -> NoReturn:
    click.echo(f"callqa: error: {message}", err=True)
    sys.exit(status)


@click.command(short_help="Create the work pool and deployment that workers run slices from.")
@click.option("--storage", required=True, help=STORAGE_HELP)
@click.option("--pool", default="callqa", show_default=True, help="Work pool of the CPU workers.")
@click.option("--gpus", type=int, default=0, show_default=True,
              help="Also a GPU pool (callqa-gpu) and deployment, at most this many transcribing at once.")
@click.option("--lexicons", default=None, help=LEXICONS_HELP)
def deploy(storage: str, pool: str, gpus: int, lexicons: str | None) -> None:
    """Register on the Prefect server (PREFECT_API_URL) what workers need: the process work pool, the
    result storage block, the deployment `callqa-slice/slices` (and `slices-gpu` with --gpus), and the
    automation that marks a slice Crashed when its worker stops. Run it again at any time: it updates."""
    from pipelines.deploy import DeployError
    from pipelines.deploy import deploy as deploy_slices

    try:
        done = deploy_slices(storage, pool=pool, gpus=gpus, lexicons=lexicons)
    except DeployError as exc:
        _fail(str(exc))
    click.echo(f"deployments {', '.join(done.deployments)} on pool(s) {', '.join(done.pools)}; output {done.storage}; "
               f"flow-run results in block {done.results_block}" + (f"; gpu limit {done.gpu_limit}" if gpus else ""))
    for name in done.pools:
        click.echo(f"start workers on each machine: prefect worker start --pool {name} --limit 2")


@click.command(short_help="Submit recordings to the workers, in slices.")
@click.argument("recordings", nargs=-1, required=True)
@click.option("--out", required=True, help=STORAGE_HELP)
@click.option("--slice", "size", type=int, default=None, help="Calls per flow run (default $CALLQA_SLICE_SIZE or 200).")
@click.option("--deployment", default="callqa-slice/slices", show_default=True,
              help="The deployment whose workers take the slices (callqa-slice/slices-gpu for GPU workers).")
@click.option("--lexicons", default=None, help=LEXICONS_HELP)
@click.option("--pattern", default=None, help="Regular expression for metadata in file names (see README).")
@click.option("--wait", "wait_s", type=float, default=None,
              help="Follow the batch for up to this many seconds, resubmitting slices that die.")
def submit(recordings: tuple[str, ...], out: str, size: int | None, deployment: str, lexicons: str | None,
           pattern: str | None, wait_s: float | None) -> None:
    """Split RECORDINGS (folders, files, or URLs of shared storage) into slices and create one flow run of
    the deployment per slice; workers pick them up. Prints the batch id (`callqa slices BATCH`).

    Exit status: 0 when submitted (with --wait: when every call was scored), 1 when a recording could not be
    submitted or (with --wait) a slice or call failed, 2 on a usage error or no server."""
    from pipelines.deploy import DeployError
    from pipelines.deploy import submit as submit_batch
    from pipelines.flow import new_run_id
    from pipelines.manifest import DEFAULT_PATTERN
    from pipelines.slices import list_batch, slice_size

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    listing = list_batch(list(recordings), pattern or DEFAULT_PATTERN)
    for where, why in listing.errors:
        click.echo(f"callqa: error: {where}: {why}", err=True)
    if not listing.calls:
        _fail("no recordings found", 1)
    try:
        batch = submit_batch(listing.calls, out, batch_id=new_run_id(), size=size or slice_size(),
                             deployment=deployment, lexicons=lexicons)
    except DeployError as exc:
        _fail(str(exc))
    except Exception as exc:  # the server refused (no such deployment…): say so in one line
        _fail(f"submitting to {deployment}: {exc}")
    click.echo(f"batch {batch.batch_id}: {len(listing.calls)} calls in {len(batch.slices)} slices submitted to "
               f"{deployment}; follow it with `callqa slices {batch.batch_id}`")
    failed = bool(listing.errors)
    if wait_s is not None:
        failed = _show(batch.batch_id, wait_s) or failed
    sys.exit(1 if failed else 0)


def _show(batch_id: str, wait_s: float | None) -> bool:
    """Print the batch's slices (after following it when `wait_s`); True when anything failed."""
    from pipelines.deploy import slice_report, status, wait

    newest = wait(batch_id, timeout_s=wait_s) if wait_s is not None else {r: runs[-1] for r, runs in status(batch_id).items()}
    attempts = {r: len(runs) for r, runs in status(batch_id).items()}
    table = Table(title=f"batch {batch_id}")
    for col in ("slice", "state", "runs", "calls", "scored", "current", "failed", "tabled", "worker"):
        table.add_column(col)
    bad = False
    for run_id, run in newest.items():
        state = run.state_type.value if run.state_type else "?"
        report = slice_report(run) if state == "COMPLETED" else None
        bad |= state != "COMPLETED" or bool(report and report.failed)
        cells = ([str(report.calls), str(report.scored), str(report.current), str(len(report.failed)), str(report.tabled),
                  f"{report.worker.get('host')}:{report.worker.get('worker_pid')}"] if report else ["", "", "", "", "", ""])
        table.add_row(run_id, state, str(attempts.get(run_id, 1)), *cells)
        for f in (report.failed if report else []):
            click.echo(f"callqa: error: {f.get('recording') or f.get('call_id')}: {f['error']}", err=True)
    Console().print(table)
    return bad


@click.command(short_help="Where a submitted batch's slices are; resubmit those that died.")
@click.argument("batch")
@click.option("--retry", "do_retry", is_flag=True, help="Submit again every slice that crashed, failed or was cancelled.")
def slices(batch: str, do_retry: bool) -> None:
    """The slices of BATCH (from `callqa submit`) with the state of their newest flow run and, once done, what
    they scored. --retry submits again, with their run ids, the slices whose worker died (Crashed: no
    heartbeat, or the process killed) or that failed: each call still appears once in the tables."""
    from pipelines.deploy import DeployError, retry

    try:
        if do_retry:
            again = retry(batch)
            click.echo(f"{len(again)} slices submitted again" + (f": {', '.join(again)}" if again else ""))
        sys.exit(1 if _show(batch, None) else 0)
    except DeployError as exc:
        _fail(str(exc))


LEFTOVER_AGE_S = 3600  # a temporary file untouched this long belongs to a writer that was killed


@click.command(short_help="Compact the tables workers append to.")
@click.option("--results", "out", default="out", show_default=True, help="The output folder or URL.")
@click.option("--retention-hours", type=int, default=168, show_default=True,
              help="Keep files older versions refer to for this long (readers of an older snapshot).")
def compact(out: str, retention_hours: int) -> None:
    """Rewrite the small files of many slices (one per slice and table) into large ones, checkpoint the
    log and delete files no version within --retention-hours needs; in a shared folder, also delete the
    temporary files of killed workers (untouched for an hour). Safe while workers append."""
    from results.files import remove_leftovers
    from results.slice_tables import compact as compact_tables
    from results.storage import location

    root = location(out)
    removed = remove_leftovers(root, "*", LEFTOVER_AGE_S) + remove_leftovers(root / ".cache", "*", LEFTOVER_AGE_S)
    if removed:
        click.echo(f"{removed} temporary files of killed writers removed")
    done = compact_tables(out, retention_hours)
    if not done:
        click.echo(f"{out}: no worker tables to compact")
    for c in done:
        click.echo(f"{c.table}: {c.files_removed} files rewritten into {c.files_added}; {c.files_vacuumed} deleted")


COMMANDS = (deploy, submit, slices, compact)
__all__ = ["COMMANDS"]
