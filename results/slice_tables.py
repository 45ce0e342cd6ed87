"""Tables that many workers append to at once: Delta Lake tables, one append per slice of calls.

    OUT/tables/delta/calls/      a Delta table (Parquet files + _delta_log/), the `calls` columns
    OUT/tables/delta/findings/   the same for `findings`

`callqa run` (one process) keeps writing a folder per run (`tables/run-<id>/`, `results/store.py`);
workers of a deployment (`pipelines/slices.py`) append here instead, locally or on an object store. The
readers see both as one table (`results.store.scan_table`), so the queue, scorecards and clips show the
same whichever wrote them.

Why Delta: every append is a commit, a new numbered file in `_delta_log/` created only if absent (an
exclusive rename on a disk, a conditional PUT on S3), so appends from any number of workers are
serialised by the log without a lock service, and readers only ever see whole commits. Compaction
(`compact`) rewrites the small files of many slices into large ones in a commit of its own, which
readers and concurrent appends are unaffected by.

Exactly once. Only the slice that scored a call under its run id writes that (call_id, run_id) row, and
a retried slice keeps its run id. Each append of a slice is a Delta *application transaction*
(app id = the slice's run id, version + 1), and appends only the slice's calls the table does not hold
for that run yet, as read from the snapshot the commit is made against. Two workers appending for the
same slice at once (a retry racing a worker thought dead) both carry that app id; delta-rs refuses the
second commit (a concurrent transaction of the same application), and the loser reads the table again
and finds its rows there. A worker killed mid-append leaves no commit: its data files are unreferenced
until `vacuum` removes them. Findings are committed before calls: readers take a call's findings
through its calls row, so a call never shows without its findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from .files import make_dirs
from .schema import TABLES, call_row, finding_rows, run_of
from .storage import StoragePath, as_text, delta_options, location

DELTA_DIR = "delta"
COMMIT_ATTEMPTS = 20  # a commit lost to a concurrent one is tried again against the newer table
APP_PREFIX = "callqa-slice:"


def table_location(root: str | StoragePath, name: str) -> StoragePath:
    return location(root) / "tables" / DELTA_DIR / name


def _uri(path: StoragePath) -> str:
    return as_text(path)


def _open(path: StoragePath) -> Any | None:
    """The Delta table at `path` at its newest version, or None where there is none yet."""
    from deltalake import DeltaTable

    uri, options = _uri(path), delta_options(path)
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, storage_options=options)


def conform(frame: pl.LazyFrame, schema: dict[str, Any]) -> pl.LazyFrame:
    """The table's columns in the schema's order and types; a column added to the schema after the
    table was written reads as null (as the run folders' Parquet does)."""
    have = set(frame.collect_schema().names())
    return frame.select([pl.col(c).cast(t) if c in have else pl.lit(None, dtype=t).alias(c)
                         for c, t in schema.items()])


def scan(root: str | StoragePath, name: str) -> pl.LazyFrame | None:
    """A lazy scan of the Delta table `name` (`calls` or `findings`), or None where workers never wrote
    one. Filters on it reach the scan: files whose column statistics rule them out are skipped."""
    table = _open(table_location(root, name))
    if table is None:
        return None
    return conform(pl.scan_delta(table), TABLES[name])


@dataclass
class SliceRows:
    calls: pl.DataFrame
    findings: pl.DataFrame

    @classmethod
    def of(cls, results: Iterable[dict[str, Any]]) -> SliceRows:
        results = list(results)
        return cls(pl.DataFrame([call_row(r) for r in results], schema=TABLES["calls"]),
                   pl.DataFrame([f for r in results for f in finding_rows(r)], schema=TABLES["findings"]))


def _held(table: Any, run_id: str, call_ids: Sequence[str]) -> set[str]:
    """The calls of `call_ids` this snapshot of the table holds rows of under `run_id`."""
    found = (pl.scan_delta(table).filter((pl.col("run_id") == run_id) & pl.col("call_id").is_in(list(call_ids)))
             .select("call_id").unique().collect())
    return set(found["call_id"].to_list())


def append_once(root: str | StoragePath, name: str, run_id: str, rows: pl.DataFrame) -> int:
    """Append the rows of `run_id` (every row carries it) whose calls the table does not hold for that run
    yet, as one commit; returns the number of rows appended (0: all there already)."""
    from deltalake import CommitProperties, Transaction, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    if rows.is_empty():
        return 0
    if set(rows["run_id"].unique().to_list()) != {run_id}:
        raise ValueError(f"rows of other runs than {run_id} in the append")
    path = table_location(root, name)
    make_dirs(path)  # owner-only on a disk: the tables hold personal data
    app = APP_PREFIX + run_id
    last: Exception | None = None
    for _ in range(COMMIT_ATTEMPTS):
        table = _open(path)
        if table is None:  # the first slice ever: create the table (only one creator wins version 0)
            try:
                write_deltalake(_uri(path), rows.head(0), mode="error", storage_options=delta_options(path))
            except (CommitFailedError, DeltaError, OSError) as exc:  # another worker created it meanwhile
                last = exc
            continue
        new = rows.filter(~pl.col("call_id").is_in(list(_held(table, run_id, rows["call_id"].unique().to_list()))))
        if new.is_empty():
            return 0
        version = (table.transaction_version(app) or 0) + 1
        try:
            write_deltalake(table, new, mode="append", schema_mode="merge",
                            commit_properties=CommitProperties(app_transactions=[Transaction(app, version)]))
            return new.height
        except CommitFailedError as exc:  # the same slice committed meanwhile: read the table again
            last = exc
    raise RuntimeError(f"{_uri(path)}: no commit after {COMMIT_ATTEMPTS} attempts: {last}")


def append_slice(root: str | StoragePath, run_id: str, results: Iterable[dict[str, Any]]) -> int:
    """Add a slice's results (those scored under `run_id`) to both tables, each call once whatever
    retried or raced; returns the number of calls added. Findings first (see the module notes)."""
    mine = [r for r in results if run_of(r) == run_id]
    rows = SliceRows.of(mine)
    append_once(root, "findings", run_id, rows.findings)
    return append_once(root, "calls", run_id, rows.calls)


@dataclass
class Compaction:
    table: str
    files_removed: int
    files_added: int
    files_vacuumed: int


def compact(root: str | StoragePath, retention_hours: int = 168) -> list[Compaction]:
    """Rewrite the small files of many slices into large ones (a commit of its own, which concurrent
    appends and readers are unaffected by), write a checkpoint of the log, and delete the files no
    version newer than `retention_hours` refers to (readers of an older snapshot keep theirs until then)."""
    done = []
    for name in TABLES:
        table = _open(table_location(root, name))
        if table is None:
            continue
        metrics = table.optimize.compact()
        table.create_checkpoint()
        vacuumed = table.vacuum(retention_hours=retention_hours, dry_run=False,
                                enforce_retention_duration=retention_hours >= 168)
        table.cleanup_metadata()
        done.append(Compaction(name, int(metrics.get("numFilesRemoved", 0)), int(metrics.get("numFilesAdded", 0)),
                               len(vacuumed)))
    return done


def file_count(root: str | StoragePath, name: str) -> int:
    """Data files of the table's newest version (what a reader opens)."""
    table = _open(table_location(root, name))
    return 0 if table is None else len(table.file_uris())


__all__ = ["Compaction", "append_once", "append_slice", "compact", "file_count", "scan", "table_location"]
