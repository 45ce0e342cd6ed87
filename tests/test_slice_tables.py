"""The tables workers append to: one Delta commit per slice, each call once whatever retries or races,
read by the reports as one table with `callqa run`'s run folders, and compacted while appends go on."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError
from reportdata import build_output

from reports.queue import queue_frame
from reports.tables import Filters, Tables
from results import slice_tables
from results.slice_tables import APP_PREFIX, SliceRows, append_slice, compact, file_count, table_location
from results.store import ResultStore, scan_table


def results_of(out: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))]


def as_run(results: list[dict], run_id: str) -> list[dict]:
    return [r | {"scoring": {**r.get("scoring", {}), "run_id": run_id}} for r in results]


@pytest.fixture
def scored(tmp_path: Path) -> list[dict]:
    """Five scored calls (the report fixtures' results), to be appended as if by workers."""
    return results_of(build_output(tmp_path / "fixture"))


def test_a_slice_appended_twice_holds_each_call_once(tmp_path: Path, scored: list[dict]) -> None:
    out = tmp_path / "out"
    first, second = as_run(scored[:3], "20261201T000000-b-s0000"), as_run(scored[3:], "20261201T000000-b-s0001")
    assert append_slice(out, "20261201T000000-b-s0000", first) == 3
    assert append_slice(out, "20261201T000000-b-s0000", first) == 0  # the slice's retry: nothing new
    assert append_slice(out, "20261201T000000-b-s0001", second[:1]) == 1
    assert append_slice(out, "20261201T000000-b-s0001", second) == 1  # a retry that scored one more call
    calls = scan_table(out, "calls").collect()
    assert sorted(calls["call_id"].to_list()) == sorted(r["call_id"] for r in scored)
    findings = scan_table(out, "findings").collect()
    assert findings.height == sum(len(r["findings"]) for r in scored)
    # only the slice's own scorings go in: a result of another run is that run's to table
    assert append_slice(out, "20261201T000000-b-s0002", first) == 0


def test_a_racing_commit_of_the_same_slice_is_refused_and_adds_nothing(tmp_path: Path, scored: list[dict]) -> None:
    """The retry races the worker thought dead: both read the table before either commits. delta-rs
    refuses the second commit of the slice's application transaction; read again, its rows are there."""
    out, run = tmp_path / "out", "20261201T000000-r-s0000"
    rows = SliceRows.of(as_run(scored, run)).calls
    slice_tables.append_once(out, "calls", run, rows.head(1))  # the table exists
    stale = DeltaTable(str(table_location(out, "calls")))  # the loser's snapshot, read before the winner commits
    assert slice_tables.append_once(out, "calls", run, rows) == len(scored) - 1  # the winner
    from deltalake import CommitProperties, Transaction

    version = (stale.transaction_version(APP_PREFIX + run) or 0) + 1
    with pytest.raises(CommitFailedError):
        write_deltalake(stale, rows.tail(len(scored) - 1), mode="append",
                        commit_properties=CommitProperties(app_transactions=[Transaction(APP_PREFIX + run, version)]))
    assert slice_tables.append_once(out, "calls", run, rows) == 0  # the loser, reading again
    assert scan_table(out, "calls").collect().height == len(scored)


def test_workers_appending_at_once_each_add_their_slice_once(tmp_path: Path, scored: list[dict]) -> None:
    out = tmp_path / "out"
    slices = {f"20261201T000000-c-s{i:04d}": as_run(scored, f"20261201T000000-c-s{i:04d}") for i in range(4)}
    errors: list[BaseException] = []

    def worker(run_id: str) -> None:
        try:
            for _ in range(2):  # each slice twice (a retry): the second adds nothing
                append_slice(out, run_id, slices[run_id])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(run,)) for run in slices for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    calls = scan_table(out, "calls").collect()
    assert calls.height == 4 * len(scored)
    assert calls.select("call_id", "run_id").n_unique() == calls.height
    findings = scan_table(out, "findings").collect()
    assert findings.height == 4 * sum(len(r["findings"]) for r in scored)


def test_readers_show_worker_appends_as_they_show_run_folders(tmp_path: Path, scored: list[dict]) -> None:
    """The queue of a folder tabled by `callqa run` and of one whose calls workers appended is the same;
    a call re-scored by a worker later shows its newest scoring once."""
    legacy = build_output(tmp_path / "legacy")
    workers = tmp_path / "workers"
    run = json.loads((legacy / "results" / f"{scored[0]['call_id']}.json").read_text(encoding="utf-8"))["scoring"]["run_id"]
    append_slice(workers, run, scored)
    expected = queue_frame(Tables(legacy), Filters()).drop("date")
    assert queue_frame(Tables(workers), Filters()).drop("date").equals(expected)

    later = as_run([scored[0] | {"score": 1.0, "passed": False}], "29991231T000000-z-s0000")
    append_slice(legacy, "29991231T000000-z-s0000", later)  # both kinds of parts in one folder
    queue = queue_frame(Tables(legacy), Filters())
    assert queue.height == len(scored)
    assert queue.filter(pl.col("call_id") == scored[0]["call_id"])["score"].to_list() == [1.0]


def test_compaction_rewrites_the_slices_files_while_appends_go_on(tmp_path: Path, scored: list[dict]) -> None:
    out = tmp_path / "out"
    for i in range(6):
        append_slice(out, f"20261201T000000-d-s{i:04d}", as_run(scored, f"20261201T000000-d-s{i:04d}"))
    assert file_count(out, "calls") == 6
    before = scan_table(out, "calls").collect().sort("call_id", "run_id")
    stale = DeltaTable(str(table_location(out, "calls")))
    done = {c.table: c for c in compact(out, retention_hours=0)}
    assert done["calls"].files_removed == 6 and done["calls"].files_added == 1
    assert file_count(out, "calls") == 1
    assert scan_table(out, "calls").collect().sort("call_id", "run_id").equals(before)
    # a worker that read the table before the compaction still appends (a compaction changes no data)
    run = "20261201T000000-d-s0099"
    write_deltalake(stale, SliceRows.of(as_run(scored, run)).calls, mode="append")
    assert scan_table(out, "calls").collect().height == 7 * len(scored)


def test_tables_on_disk_are_owner_only(tmp_path: Path, scored: list[dict]) -> None:
    out = tmp_path / "out"
    ResultStore(out)
    append_slice(out, "20261201T000000-e-s0000", as_run(scored, "20261201T000000-e-s0000"))
    folder = table_location(out, "calls")
    assert folder.stat().st_mode & 0o077 == 0  # delta-rs picks its files' modes: the folder keeps others out


def test_callqa_compact_rewrites_the_tables_and_removes_only_old_leftovers(tmp_path: Path, scored: list[dict]) -> None:
    """`callqa compact` on a folder workers share: their tables compacted; a temporary file a killed writer
    left an hour ago is removed, one being written now (by a worker still running) is left alone."""
    import os
    import time

    from click.testing import CliRunner

    from callqa.cli import main

    out = tmp_path / "out"
    for i in range(3):
        append_slice(out, f"20261201T000000-f-s{i:04d}", as_run(scored, f"20261201T000000-f-s{i:04d}"))
    (out / "results").mkdir(parents=True, exist_ok=True)
    old, fresh = out / "results" / ".a.json.x1.tmp", out / "results" / ".b.json.x2.tmp"
    old.write_text("{", encoding="utf-8")
    fresh.write_text("{", encoding="utf-8")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))

    result = CliRunner().invoke(main, ["compact", "--results", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 temporary files of killed writers removed" in result.output
    assert "calls: 3 files rewritten into 1" in result.output
    assert not old.exists() and fresh.exists()
    assert file_count(out, "calls") == 1 and scan_table(out, "calls").collect().height == 3 * len(scored)
